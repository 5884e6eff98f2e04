//! Shared by the tests that need a real Redis: find it (or skip visibly), give
//! each test its own key prefix, a sealer with a fresh key, raw access to
//! what is stored, and a private `redis-server` for tests that stop it.
//!
//! The suite runs against `STOREFRONT_REDIS_URL`:
//!
//! ```text
//! redis-server --port 6391 --save '' --appendonly no --daemonize yes
//! STOREFRONT_REDIS_URL=redis://127.0.0.1:6391 cargo test --test redis_store
//! ```
//!
//! Without it every test prints `SKIPPED …` and passes, unless
//! `STOREFRONT_REQUIRE_REDIS=1` (CI), which makes it fail.
#![allow(dead_code)] // each test binary uses its own part

use std::net::{Ipv4Addr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::Value;
use storefront_token::at_rest::{EncryptionKey, Keyring, Sealer};
use storefront_token::chrono::{DateTime, TimeDelta, Utc};
use storefront_token::Clock;

/// Where the Redis suite runs.
pub const URL_ENV: &str = "STOREFRONT_REDIS_URL";
/// Set to `1` (CI) to fail instead of skipping when no Redis is configured.
pub const REQUIRE_ENV: &str = "STOREFRONT_REQUIRE_REDIS";

/// The Redis to run `test` against, or `None` (with a visible notice on
/// stderr) when none is configured.
///
/// # Panics
///
/// If `STOREFRONT_REDIS_URL` is set but nothing answers there, or if it is
/// unset while `STOREFRONT_REQUIRE_REDIS=1`: asked to run against a Redis,
/// the suite fails rather than pass without testing anything.
pub async fn redis_url_or_skip(test: &str) -> Option<String> {
    let Some(url) = std::env::var(URL_ENV).ok().filter(|url| !url.is_empty()) else {
        assert!(
            std::env::var(REQUIRE_ENV).as_deref() != Ok("1"),
            "{test}: {REQUIRE_ENV}=1 but {URL_ENV} is not set; start a redis-server and set \
             {URL_ENV}=redis://127.0.0.1:PORT"
        );
        notice(&format!(
            "SKIPPED {test}: no Redis (set {URL_ENV}=redis://127.0.0.1:PORT to run the Redis suite)"
        ));
        return None;
    };
    if let Err(why) = ping(&url).await {
        panic!("{test}: {URL_ENV} is set but Redis does not answer there: {why}");
    }
    Some(url)
}

/// A line on the process's stderr, past the test harness's capture (which
/// would show `eprintln!` only for failing tests), so a skip is seen.
pub fn notice(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// One `PING`, bounded by a few seconds of real time. Synchronous, on the
/// blocking pool: tests on tokio's paused time call it too, and a tokio
/// timer there would fire at once while the socket waits.
pub async fn ping(url: &str) -> Result<(), String> {
    let url = url.to_owned();
    let pinged = tokio::task::spawn_blocking(move || {
        let client = redis::Client::open(url).map_err(|e| e.to_string())?;
        let mut connection = client
            .get_connection_with_timeout(Duration::from_secs(3))
            .map_err(|e| e.to_string())?;
        connection
            .set_read_timeout(Some(Duration::from_secs(3)))
            .map_err(|e| e.to_string())?;
        redis::cmd("PING")
            .query::<String>(&mut connection)
            .map_err(|e| e.to_string())
    })
    .await;
    match pinged {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(why)) => Err(why),
        Err(join) => Err(join.to_string()),
    }
}

/// A plain connection, for reading and tampering with what a store wrote.
pub async fn raw_connection(url: &str) -> Result<MultiplexedConnection, String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| e.to_string())
}

/// A key prefix no other test (in this process or another) uses, so tests run
/// in parallel on one server.
pub fn unique_prefix(test: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "sft-test:{test}:{}-{nanos:x}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A key with a fresh random secret, with id `id`.
pub fn fresh_key(id: &str) -> EncryptionKey {
    EncryptionKey::generate(id).expect("the OS's random generator works")
}

/// A sealer with one fresh random key.
pub fn fresh_sealer() -> Sealer {
    Sealer::new(Keyring::new(fresh_key("test")))
}

/// Every key under `prefix` and every byte stored in it (string values, hash
/// fields and values, list/set/zset members), read as they are: for asserting
/// that something (a token) is nowhere in Redis. DUMP is not used: it may
/// compress values, which would hide what it should find.
pub async fn raw_entries(url: &str, prefix: &str) -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
    let mut connection = raw_connection(url).await.expect("Redis answers");
    let mut cursor = 0_u64;
    let mut entries = Vec::new();
    let pattern = format!("{}*", glob_escape(prefix));
    loop {
        let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut connection)
            .await
            .expect("SCAN works");
        for key in keys {
            let kind: String = redis::cmd("TYPE")
                .arg(&key)
                .query_async(&mut connection)
                .await
                .expect("TYPE works");
            let command = match kind.as_str() {
                "string" => redis::cmd("GET").arg(&key).clone(),
                "hash" => redis::cmd("HGETALL").arg(&key).clone(),
                "list" => redis::cmd("LRANGE").arg(&key).arg(0).arg(-1).clone(),
                "set" => redis::cmd("SMEMBERS").arg(&key).clone(),
                "zset" => redis::cmd("ZRANGE").arg(&key).arg(0).arg(-1).clone(),
                "none" => continue, // deleted meanwhile
                other => panic!("unexpected key type {other}"),
            };
            let value: Value = command
                .query_async(&mut connection)
                .await
                .expect("reading a key works");
            entries.push((key, flatten(value)));
        }
        if next == 0 {
            return entries;
        }
        cursor = next;
    }
}

fn flatten(value: Value) -> Vec<Vec<u8>> {
    match value {
        Value::BulkString(bytes) => vec![bytes],
        Value::SimpleString(text) => vec![text.into_bytes()],
        Value::Int(n) => vec![n.to_string().into_bytes()],
        Value::Array(items) | Value::Set(items) => items.into_iter().flat_map(flatten).collect(),
        Value::Map(pairs) => pairs
            .into_iter()
            .flat_map(|(k, v)| flatten(k).into_iter().chain(flatten(v)))
            .collect(),
        Value::Nil => Vec::new(),
        other => vec![format!("{other:?}").into_bytes()],
    }
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Deletes every key under `prefix` (tests clean up after themselves): one
/// `UNLINK` per `SCAN` batch.
pub async fn delete_prefix(url: &str, prefix: &str) {
    let mut connection = raw_connection(url).await.expect("Redis answers");
    let pattern = format!("{}*", glob_escape(prefix));
    let mut cursor = 0_u64;
    loop {
        let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(10_000)
            .query_async(&mut connection)
            .await
            .expect("SCAN works");
        if !keys.is_empty() {
            let _: i64 = redis::cmd("UNLINK")
                .arg(keys)
                .query_async(&mut connection)
                .await
                .expect("UNLINK works");
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}

/// A wall clock that moves only when told: for leases on an injected clock.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    /// A clock reading `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(start)))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().expect("not poisoned");
        *now += TimeDelta::from_std(by).expect("a test duration fits");
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("not poisoned")
    }
}

/// A `redis-server` of this test's own, on a free port, without persistence:
/// for tests that stop and restart it. Killed when dropped.
#[derive(Debug)]
pub struct OwnRedis {
    port: u16,
    args: Vec<String>,
    child: Option<Child>,
}

impl OwnRedis {
    /// Starts `redis-server` on a free port with `extra` arguments (e.g.
    /// `["--requirepass", "…"]`); `None` (with a notice) if it is not installed.
    pub async fn start(test: &str, extra: &[&str]) -> Option<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            notice(&format!("SKIPPED {test}: redis-server is not installed"));
            return None;
        }
        let mut server = Self {
            port: free_port(),
            args: extra.iter().map(|s| (*s).to_owned()).collect(),
            child: None,
        };
        server.restart().await;
        Some(server)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (its data goes with it).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and waits until it accepts
    /// connections (at most 10 s).
    pub async fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        // Waiting for another process to listen: poll the port, bounded.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server did not listen on port {} within 10 s",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("the OS gives a free port")
}
