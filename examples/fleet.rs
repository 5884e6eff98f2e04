//! `fleet`: three replicas of the example web app (`examples/storefront_app/`)
//! as separate processes sharing one Redis, against one mock Storefront.
//!
//! ```text
//! STOREFRONT_REDIS_URL=redis://127.0.0.1:6379 cargo run --example fleet
//! cargo run --example fleet   # starts a redis-server of its own if one is installed
//! ```
//!
//! It builds the app (`cargo build --example storefront_app`) if it is not
//! built yet, starts the mock shop in this process (15-second tokens, so the
//! first renewal comes 5 s after login), and spawns the app three times on
//! free ports with the same `STOREFRONT_REDIS_URL` and `STOREFRONT_TOKEN_KEYS`
//! (a fresh key, passed in the environment, never as an argument) and the
//! mock's endpoint. Then it logs the customer in through replica 1, shows the
//! session served by replicas 2 and 3 (each reads it through from Redis), and
//! waits for the first renewal: the shop sees one renewal mutation for the
//! three replicas, each replica's `/metrics` says which one renewed it, and
//! all three serve the renewed expiry.

use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use storefront_token::at_rest::{EncryptionKey, Keyring, KEYS_ENV};
use storefront_token::mock::MockStorefront;
use storefront_token::Operation;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery staple";
const LIFETIME: Duration = Duration::from_secs(15);

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let (redis_url, _own_redis) = match std::env::var("STOREFRONT_REDIS_URL") {
        Ok(url) if !url.is_empty() => (url, None),
        _ => match OwnRedis::start()? {
            Some(redis) => (redis.url(), Some(redis)),
            None => {
                println!(
                    "No Redis: set STOREFRONT_REDIS_URL=redis://127.0.0.1:PORT, or install redis-server \
                     (apt-get install redis-server) and run again."
                );
                return Ok(());
            }
        },
    };
    let app = app_binary()?;
    let shop = MockStorefront::builder()
        .demo_customer(EMAIL, PASSWORD, "Ada Lovelace")
        .token_lifetime(LIFETIME)
        .build()
        .await?;
    // One key for the three replicas, in their environment only.
    let keys = Keyring::new(EncryptionKey::generate("fleet-example")?);
    let prefix = format!("storefront-fleet-example:{}", std::process::id());
    println!(
        "mock Storefront at {}; Redis at {redis_url} under {prefix}:*",
        shop.endpoint()
    );

    let mut replicas = Vec::new();
    for n in 1..=3 {
        let port = free_port()?;
        let child = Command::new(&app)
            .env("PORT", port.to_string())
            .env("STOREFRONT_ENDPOINT", shop.endpoint())
            .env("STOREFRONT_PUBLIC_TOKEN", shop.public_token())
            .env("STOREFRONT_REDIS_URL", &redis_url)
            .env("STOREFRONT_REDIS_PREFIX", &prefix)
            .env(KEYS_ENV, keys.to_config_string().as_str())
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .spawn()?;
        replicas.push(Replica { n, port, child });
    }
    let http = reqwest::Client::new();
    for replica in &replicas {
        replica.wait_until_up(&http).await?;
        println!(
            "replica {} (pid {}) listening on port {}",
            replica.n,
            replica.child.id(),
            replica.port
        );
    }

    let result = demo(&http, &shop, &replicas).await;
    for replica in &mut replicas {
        let _ = replica.child.kill();
        let _ = replica.child.wait();
    }
    delete_prefix(&redis_url, &prefix).await?;
    result
}

async fn demo(
    http: &reqwest::Client,
    shop: &MockStorefront,
    replicas: &[Replica],
) -> Result<(), BoxError> {
    // Log in through replica 1: the token goes to Redis, sealed; the browser
    // gets only a session cookie.
    let login = http
        .post(replicas[0].url("/login"))
        .header("content-type", "application/json")
        .body(serde_json::json!({ "email": EMAIL, "password": PASSWORD }).to_string())
        .send()
        .await?;
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .ok_or("the login set no cookie")?
        .to_owned();
    let logged_in: Value = serde_json::from_str(&login.text().await?)?;
    println!("\nlogged in through replica 1: {logged_in}");

    // The same cookie on replicas 2 and 3: each reads the session through
    // from Redis.
    let mut first_expiry = String::new();
    for replica in replicas {
        let me = replica.me(http, &cookie).await?;
        println!("replica {} serves the session: {me}", replica.n);
        first_expiry = me["expires_at"].as_str().unwrap_or_default().to_owned();
    }

    // The first renewal comes 5 s after login. One replica takes the renewal
    // lease in Redis and sends the mutation; the others find the new version
    // and adopt it.
    println!(
        "\nwaiting for the first renewal ({} s tokens) ...",
        LIFETIME.as_secs()
    );
    let deadline = Instant::now() + LIFETIME;
    while shop.requests(Operation::Renew) == 0 {
        if Instant::now() > deadline {
            return Err("no renewal within the token's lifetime".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Time for the others to look again at the lease (every second) and adopt.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let renewals = shop.requests(Operation::Renew);
    println!("renewal mutations the shop received, all three replicas together: {renewals}");
    for replica in replicas {
        let me = replica.me(http, &cookie).await?;
        println!(
            "replica {} serves expiry {} (was {first_expiry}); its renewal attempts: {}",
            replica.n,
            me["expires_at"].as_str().unwrap_or_default(),
            replica.renewals(http).await?.join(", ")
        );
    }
    if renewals != 1 {
        return Err(format!("{renewals} renewals for one token in one cycle").into());
    }
    println!("\none renewal for the three replicas, and every replica serves the renewed session.");
    Ok(())
}

struct Replica {
    n: usize,
    port: u16,
    child: Child,
}

impl Replica {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Waits until the app answers (it connects to Redis and starts its engine
    /// first), for 30 s at most.
    async fn wait_until_up(&self, http: &reqwest::Client) -> Result<(), BoxError> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if http.get(self.url("/metrics")).send().await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("replica {} did not start", self.n).into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn me(&self, http: &reqwest::Client, cookie: &str) -> Result<Value, BoxError> {
        let reply = http
            .get(self.url("/me"))
            .header("cookie", cookie)
            .send()
            .await?;
        let status = reply.status();
        let body: Value = serde_json::from_str(&reply.text().await?)?;
        if !status.is_success() {
            return Err(format!("replica {}: GET /me answered {status}: {body}", self.n).into());
        }
        Ok(body)
    }

    /// The replica's `storefront_token_renewals_total` samples from `/metrics`,
    /// as `outcome=count`.
    async fn renewals(&self, http: &reqwest::Client) -> Result<Vec<String>, BoxError> {
        let text = http.get(self.url("/metrics")).send().await?.text().await?;
        let samples: Vec<String> = text
            .lines()
            .filter_map(|line| line.strip_prefix("storefront_token_renewals_total{"))
            .filter_map(|rest| {
                let (labels, value) = rest.rsplit_once("} ")?;
                let outcome = labels.split(',').find_map(|l| l.strip_prefix("outcome="))?;
                let outcome = outcome.trim_matches('"');
                (value != "0").then(|| format!("{outcome} {value}"))
            })
            .collect();
        Ok(if samples.is_empty() {
            vec!["none".into()]
        } else {
            samples
        })
    }
}

/// The app's binary next to this example's, built (or brought up to date) with
/// `cargo build --example storefront_app` when run through cargo.
fn app_binary() -> Result<PathBuf, BoxError> {
    let me = std::env::current_exe()?;
    let dir = me.parent().ok_or("the example runs from a directory")?;
    let app = dir.join(format!("storefront_app{}", std::env::consts::EXE_SUFFIX));
    if let Ok(cargo) = std::env::var("CARGO") {
        println!("cargo build --example storefront_app");
        let mut build = Command::new(cargo);
        build.args(["build", "--quiet", "--example", "storefront_app"]);
        if dir
            .parent()
            .and_then(|d| d.file_name())
            .is_some_and(|d| d == "release")
        {
            build.arg("--release");
        }
        if !build.status()?.success() {
            return Err("building the app failed".into());
        }
    }
    if !app.exists() {
        return Err(format!(
            "{} is missing: cargo build --example storefront_app",
            app.display()
        )
        .into());
    }
    Ok(app)
}

fn free_port() -> Result<u16, BoxError> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// A `redis-server` of the example's own, without persistence, stopped when
/// dropped.
struct OwnRedis {
    port: u16,
    child: Child,
}

impl OwnRedis {
    fn start() -> Result<Option<Self>, BoxError> {
        let port = free_port()?;
        let Ok(child) = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
        else {
            return Ok(None);
        };
        let redis = Self { port, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            if Instant::now() > deadline {
                return Err("redis-server did not start".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        println!("started a redis-server of our own on port {port}");
        Ok(Some(redis))
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Deletes the example's keys.
async fn delete_prefix(url: &str, prefix: &str) -> Result<(), BoxError> {
    let mut connection = redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await?;
    let mut cursor = 0_u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .query_async(&mut connection)
            .await?;
        if !keys.is_empty() {
            redis::cmd("DEL")
                .arg(keys)
                .query_async::<()>(&mut connection)
                .await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}
