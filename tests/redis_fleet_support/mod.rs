//! What the fleet tests (`tests/redis_fleet*.rs`) share: a store wrapper that
//! keeps simulated time still while Redis answers and can make a replica die,
//! a renewer wrapper that records every mutation and can hang or kill its
//! replica at a chosen point, replicas on a `RedisStore`, and event collection.
//!
//! # Paused time and a Redis in another process
//!
//! The engine runs on paused tokio time (`start_paused = true`), so 30 days pass
//! in seconds. Paused time moves by itself whenever the runtime has nothing to
//! do: it jumps to the next timer. While a reply from Redis (another process) is
//! on its way, the runtime has nothing to do, so without care simulated time
//! would jump, and the store timeouts (the engine's and `RedisStore`'s own,
//! both tokio timers) would fire although Redis answers in microseconds.
//! [`real_io`] keeps the runtime busy while a call is in flight (it polls the
//! call and yields in a loop), so simulated time stands still during real IO,
//! as it would in production where a Redis round trip takes no noticeable time.
//! Should a call not finish within [`REAL_IO_BUDGET`] of real time (Redis
//! stopped, a reconnect waiting on a timer), it stops holding time, so the
//! store's timeouts can fire as they would in production.
#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use storefront_token::mock::{MockStorefront, SimulatedClock};
use storefront_token::renewal::{
    EventError, EventReceiver, FailureClass, LeaseOutcome, PutOutcome, RedisStore, Renewable,
    RenewalEngine, RenewalEvent, RenewalHandle, RenewalPolicy, ReplicaId, StoreError, StoredToken,
    StorefrontRenewer, TokenId, TokenStore,
};
use storefront_token::{Clock, CustomerAccessToken, StorefrontClient};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;
pub type BoxError = Box<dyn std::error::Error>;
pub type Handle = RenewalHandle<CustomerAccessToken>;

/// The longest real time simulated time is held still for one store call.
pub const REAL_IO_BUDGET: Duration = Duration::from_secs(2);

/// Runs `call` (real IO with Redis) while keeping simulated time still: the
/// runtime is kept busy, so paused time cannot jump while the reply is on its
/// way (see the module docs). After [`REAL_IO_BUDGET`] of real time it lets
/// time move again.
pub async fn real_io<F: Future>(call: F) -> F::Output {
    let started = std::time::Instant::now();
    let mut call = std::pin::pin!(call);
    while started.elapsed() < REAL_IO_BUDGET {
        let polled = std::future::poll_fn(|cx| {
            Poll::Ready(match call.as_mut().poll(cx) {
                Poll::Ready(out) => Some(out),
                Poll::Pending => None,
            })
        })
        .await;
        if let Some(out) = polled {
            return out;
        }
        tokio::task::yield_now().await;
    }
    call.await
}

/// A [`RedisStore`] as one replica sees it: every call held in simulated time
/// by [`real_io`]; the replica can die (from then on no call reaches Redis:
/// each hangs forever, as for a process that was killed) or have its writes
/// hang (never sent).
#[derive(Debug)]
pub struct FleetStore {
    pub inner: RedisStore,
    dead: AtomicBool,
    hang_puts: AtomicBool,
    hold_time: AtomicBool,
    calls: AtomicU64,
}

impl FleetStore {
    pub fn new(inner: RedisStore) -> Self {
        Self {
            inner,
            dead: AtomicBool::new(false),
            hang_puts: AtomicBool::new(false),
            hold_time: AtomicBool::new(true),
            calls: AtomicU64::new(0),
        }
    }

    /// The replica dies: nothing it does reaches Redis any more.
    pub fn die(&self) {
        self.dead.store(true, Ordering::SeqCst);
    }

    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::SeqCst)
    }

    /// Writes hang without being sent.
    pub fn hang_puts(&self, hang: bool) {
        self.hang_puts.store(hang, Ordering::SeqCst);
    }

    /// Whether calls hold simulated time still (off while Redis is known to be
    /// down: there is no reply on its way to wait for).
    pub fn hold_time(&self, hold: bool) {
        self.hold_time.store(hold, Ordering::SeqCst);
    }

    /// Store calls made (whatever became of them).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    async fn call<T>(&self, call: impl Future<Output = T>) -> T {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.is_dead() {
            return std::future::pending().await;
        }
        if self.hold_time.load(Ordering::SeqCst) {
            real_io(call).await
        } else {
            call.await
        }
    }
}

type Token = CustomerAccessToken;

impl TokenStore<Token> for FleetStore {
    async fn load_all(&self) -> Result<Vec<(TokenId, StoredToken<Token>)>, StoreError> {
        self.call(TokenStore::<Token>::load_all(&self.inner)).await
    }

    async fn versions(&self) -> Result<Vec<(TokenId, u64)>, StoreError> {
        self.call(TokenStore::<Token>::versions(&self.inner)).await
    }

    async fn get(&self, id: &TokenId) -> Result<Option<StoredToken<Token>>, StoreError> {
        self.call(TokenStore::<Token>::get(&self.inner, id)).await
    }

    async fn put(
        &self,
        id: &TokenId,
        credential: &Token,
        issued_at: DateTime<Utc>,
        expected_version: Option<u64>,
    ) -> Result<PutOutcome<Token>, StoreError> {
        if self.hang_puts.load(Ordering::SeqCst) {
            return std::future::pending().await;
        }
        self.call(self.inner.put(id, credential, issued_at, expected_version))
            .await
    }

    async fn try_lease(
        &self,
        id: &TokenId,
        owner: ReplicaId,
        duration: Duration,
        expected_version: u64,
    ) -> Result<LeaseOutcome<Token>, StoreError> {
        self.call(TokenStore::<Token>::try_lease(
            &self.inner,
            id,
            owner,
            duration,
            expected_version,
        ))
        .await
    }

    async fn release_lease(
        &self,
        id: &TokenId,
        owner: ReplicaId,
        version: u64,
    ) -> Result<(), StoreError> {
        self.call(TokenStore::<Token>::release_lease(
            &self.inner,
            id,
            owner,
            version,
        ))
        .await
    }

    async fn delete(&self, id: &TokenId, expected_version: Option<u64>) -> Result<(), StoreError> {
        self.call(TokenStore::<Token>::delete(
            &self.inner,
            id,
            expected_version,
        ))
        .await
    }
}

/// What a [`FleetRenewer`] does with its next mutation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Fate {
    /// Renews.
    Live = 0,
    /// The replica dies before sending the mutation (after taking the lease):
    /// its store dies and the renewal never answers.
    DieBeforeSending = 1,
    /// The replica dies after the mutation went through at the shop and before
    /// the renewed token is written: its store dies, then the renewal answers.
    DieAfterSending = 2,
}

/// One mutation as the shop saw it (or would have).
#[derive(Debug, Clone)]
pub struct Call {
    /// Which replica sent it.
    pub replica: u128,
    /// Server time when the replica sent it.
    pub at: DateTime<Utc>,
    /// The token string renewed.
    pub token: String,
    /// The token string it gave, if it was renewed.
    pub renewed: Option<String>,
}

/// The Storefront renewer, recording every mutation and able to kill its
/// replica at a chosen point (see [`Fate`]).
pub struct FleetRenewer {
    pub inner: StorefrontRenewer,
    pub server: SimulatedClock,
    pub calls: Arc<Mutex<Vec<Call>>>,
    pub fate: Arc<AtomicU8>,
    pub store: Arc<FleetStore>,
    pub replica: u128,
}

impl Renewable for FleetRenewer {
    type Credential = Token;
    type Error = storefront_token::Error;

    fn expires_at(&self, token: &Token) -> DateTime<Utc> {
        self.inner.expires_at(token)
    }

    async fn renew(&self, token: &Token) -> Result<Token, Self::Error> {
        let at = self.server.now();
        let secret = token.access_token().expose_secret().to_owned();
        let fate = self.fate.load(Ordering::SeqCst);
        if fate == Fate::DieBeforeSending as u8 {
            self.store.die();
            push(
                &self.calls,
                Call {
                    replica: self.replica,
                    at,
                    token: secret,
                    renewed: None,
                },
            );
            return std::future::pending().await;
        }
        let result = self.inner.renew(token).await;
        let renewed = result
            .as_ref()
            .ok()
            .map(|t| t.access_token().expose_secret().to_owned());
        push(
            &self.calls,
            Call {
                replica: self.replica,
                at,
                token: secret,
                renewed,
            },
        );
        if fate == Fate::DieAfterSending as u8 {
            self.store.die();
        }
        result
    }

    fn classify(&self, error: &Self::Error) -> FailureClass {
        self.inner.classify(error)
    }

    fn server_clock_offset(&self) -> Option<TimeDelta> {
        self.inner.server_clock_offset()
    }

    fn reset_server_clock_offset(&self) {
        self.inner.reset_server_clock_offset();
    }
}

fn push(calls: &Mutex<Vec<Call>>, call: Call) {
    if let Ok(mut calls) = calls.lock() {
        calls.push(call);
    }
}

/// One replica: its handle, its store and renewer controls, its events.
pub struct Replica {
    pub handle: Handle,
    pub store: Arc<FleetStore>,
    pub fate: Arc<AtomicU8>,
    pub events: Option<tokio::task::JoinHandle<Result<Vec<RenewalEvent>, u64>>>,
    pub id: ReplicaId,
}

impl Replica {
    pub fn set_fate(&self, fate: Fate) {
        self.fate.store(fate as u8, Ordering::SeqCst);
    }

    /// Every event this replica emitted, once it has stopped.
    pub async fn events(&mut self) -> Result<Vec<RenewalEvent>, BoxError> {
        let collected = self.events.take().ok_or("events already taken")?;
        Ok(collected
            .await?
            .map_err(|missed| format!("{missed} events lagged"))?)
    }
}

/// Collects every event until the engine stops; `Err(missed)` if any lagged.
pub fn collect(
    mut events: EventReceiver,
) -> tokio::task::JoinHandle<Result<Vec<RenewalEvent>, u64>> {
    tokio::spawn(async move {
        let mut seen = Vec::new();
        loop {
            match events.recv().await {
                Ok(event) => seen.push(event),
                Err(EventError::Lagged(missed)) => return Err(missed),
                Err(_) => return Ok(seen),
            }
        }
    })
}

/// How a replica is set up.
pub struct ReplicaConfig<'a> {
    pub redis_url: &'a str,
    pub prefix: &'a str,
    pub sealer: storefront_token::at_rest::Sealer,
    pub shop: &'a MockStorefront,
    pub server: &'a SimulatedClock,
    /// This replica's clock: the server's with an offset (a machine whose
    /// clock is wrong).
    pub offset: TimeDelta,
    pub policy: RenewalPolicy,
    pub calls: Arc<Mutex<Vec<Call>>>,
    pub replica_id: u128,
    /// Log in again (create a token for the demo customer) when a token dies.
    pub relogin: bool,
    pub event_capacity: usize,
}

/// A replica on its own `RedisStore` connection. Leases run on the server's
/// simulated clock: the one clock every replica shares, as Redis's `TIME` is
/// in production (the replicas' own clocks may be wrong).
pub async fn replica(config: ReplicaConfig<'_>) -> Result<Replica, BoxError> {
    let redis = real_io(
        RedisStore::builder(config.redis_url, config.sealer.clone())
            .prefix(config.prefix)
            .lease_clock(Arc::new(config.server.clone()))
            .build(),
    )
    .await?;
    let store = Arc::new(FleetStore::new(redis));
    let clock = config.server.with_offset(config.offset);
    let client = client(config.shop, &clock)?;
    let fate = Arc::new(AtomicU8::new(Fate::Live as u8));
    let renewer = FleetRenewer {
        inner: StorefrontRenewer::new(client.clone()),
        server: config.server.clone(),
        calls: config.calls,
        fate: Arc::clone(&fate),
        store: Arc::clone(&store),
        replica: config.replica_id,
    };
    let id = ReplicaId::new(config.replica_id);
    let mut builder = RenewalEngine::builder(renewer)
        .store(Arc::clone(&store))
        .clock(clock)
        .replica_id(id)
        .policy(config.policy)
        .event_capacity(config.event_capacity);
    if config.relogin {
        builder = builder.relogin(move |_id| {
            let client = client.clone();
            async move {
                let password = storefront_token::Password::new(PASSWORD);
                Ok(client.create_token(EMAIL, &password).await?)
            }
        });
    }
    let engine = builder.build();
    let events = collect(engine.events());
    let handle = engine.start().await?;
    Ok(Replica {
        handle,
        store,
        fate,
        events: Some(events),
        id,
    })
}

pub const EMAIL: &str = "ada@example.com";
pub const PASSWORD: &str = "correct horse battery staple";
pub const NAME: &str = "Ada Lovelace";

/// A client for `shop` on `clock`, without retries (the engine retries).
pub fn client(shop: &MockStorefront, clock: &SimulatedClock) -> Result<StorefrontClient, BoxError> {
    Ok(StorefrontClient::builder()
        .endpoint(shop.endpoint())
        .public_token(shop.public_token())
        .clock(clock.clone())
        .retry_policy(storefront_token::RetryPolicy::never())
        .build()?)
}

/// The simulated server clock at a whole second, and a mock on it with the demo
/// customer and `lifetime`-long tokens.
pub async fn shop(lifetime: Duration) -> Result<(SimulatedClock, MockStorefront), BoxError> {
    let start = DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")?.with_timezone(&Utc);
    let server = SimulatedClock::new(start);
    let shop = MockStorefront::builder()
        .demo_customer(EMAIL, PASSWORD, NAME)
        .clock(server.clone())
        .token_lifetime(lifetime)
        .build()
        .await?;
    Ok((server, shop))
}

/// A token the shop issued for the demo customer.
pub fn issue(shop: &MockStorefront) -> Result<Token, BoxError> {
    let (secret, expires_at) = shop.issue_token(EMAIL).ok_or("no customer")?;
    Ok(CustomerAccessToken::new(
        storefront_token::AccessToken::new(secret),
        expires_at,
    ))
}

pub fn secret(token: &Token) -> &str {
    token.access_token().expose_secret()
}

/// Every mutation recorded so far.
pub fn calls_of(calls: &Mutex<Vec<Call>>) -> Vec<Call> {
    calls.lock().map(|c| c.clone()).unwrap_or_default()
}

/// Waits until `n` mutations are recorded, keeping simulated time still (the
/// replicas' Redis calls are real IO); at most 20 s of real time.
pub async fn wait_for_calls(calls: &Mutex<Vec<Call>>, n: usize) -> Result<Vec<Call>, BoxError> {
    let started = std::time::Instant::now();
    loop {
        let seen = calls_of(calls);
        if seen.len() >= n {
            return Ok(seen);
        }
        if started.elapsed() > Duration::from_secs(20) {
            return Err(format!("{} mutations seen, {n} expected", seen.len()).into());
        }
        tokio::task::yield_now().await;
    }
}

/// Sleeps (in simulated time) until `at` on `clock`.
pub async fn until(clock: &SimulatedClock, at: DateTime<Utc>) {
    if let Ok(wait) = (at - clock.now()).to_std() {
        tokio::time::sleep(wait).await;
    }
}

/// Events per kind, for messages.
pub fn tally(events: &[RenewalEvent]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for event in events {
        let name = format!("{event:?}");
        let kind = name.split([' ', '{', '(']).next().unwrap_or("?").to_owned();
        *counts.entry(kind).or_default() += 1;
    }
    counts
}

/// Whether any of `haystack`'s windows is one of the `needles` (all of the
/// same length): a plaintext token string written at rest.
pub fn find_any<'a>(
    haystack: &[u8],
    needles: &'a std::collections::HashSet<String>,
) -> Option<&'a str> {
    let len = needles.iter().next()?.len();
    haystack.windows(len).find_map(|window| {
        let text = std::str::from_utf8(window).ok()?;
        needles.get(text).map(String::as_str)
    })
}

/// A plain connection to the Redis at `url`, for reading and writing raw keys.
pub async fn raw_connection(url: &str) -> Result<redis::aio::MultiplexedConnection, BoxError> {
    let client = redis::Client::open(url)?;
    Ok(real_io(client.get_multiplexed_async_connection()).await?)
}

/// One raw command, held in simulated time.
pub async fn raw<T: redis::FromRedisValue>(
    connection: &mut redis::aio::MultiplexedConnection,
    cmd: &redis::Cmd,
) -> Result<T, BoxError> {
    Ok(real_io(cmd.query_async::<T>(connection)).await?)
}

/// The holder and deadline (ms since the epoch) of `id`'s renewal lease, read
/// raw from Redis (`{prefix}:l:{id}` holds `<owner hex>:<deadline ms>`).
pub async fn raw_lease(
    connection: &mut redis::aio::MultiplexedConnection,
    prefix: &str,
    id: &TokenId,
) -> Result<Option<(u128, i64)>, BoxError> {
    let value: Option<String> = raw(
        connection,
        redis::cmd("GET").arg(format!("{prefix}:l:{}", id.as_str())),
    )
    .await?;
    let Some(value) = value else {
        return Ok(None);
    };
    let (owner, deadline) = value.split_once(':').ok_or("a lease is owner:deadline")?;
    Ok(Some((u128::from_str_radix(owner, 16)?, deadline.parse()?)))
}

/// What replicas of one test share: Redis, the prefix, the keys, the shop, the
/// server's clock, and the record of mutations.
pub struct Fleet {
    pub url: String,
    pub prefix: String,
    pub sealer: storefront_token::at_rest::Sealer,
    pub shop: MockStorefront,
    pub server: SimulatedClock,
    pub calls: Arc<Mutex<Vec<Call>>>,
}

impl Fleet {
    /// A fleet on the Redis at `url` under a fresh prefix, with fresh keys and a
    /// shop issuing `lifetime`-long tokens.
    pub async fn new(url: String, lifetime: Duration) -> Result<Self, BoxError> {
        let (server, shop) = shop(lifetime).await?;
        Ok(Self {
            url,
            prefix: crate::redis_support::unique_prefix("fleet"),
            sealer: crate::redis_support::fresh_sealer(),
            shop,
            server,
            calls: Arc::default(),
        })
    }

    /// A replica with clock `offset` seconds off the server's.
    pub async fn replica(
        &self,
        replica_id: u128,
        offset: i64,
        policy: RenewalPolicy,
        relogin: bool,
    ) -> Result<Replica, BoxError> {
        self.replica_sealing_with(replica_id, offset, policy, relogin, self.sealer.clone())
            .await
    }

    /// A replica whose store seals with `sealer` (the wrong keys, say).
    pub async fn replica_sealing_with(
        &self,
        replica_id: u128,
        offset: i64,
        policy: RenewalPolicy,
        relogin: bool,
        sealer: storefront_token::at_rest::Sealer,
    ) -> Result<Replica, BoxError> {
        replica(ReplicaConfig {
            redis_url: &self.url,
            prefix: &self.prefix,
            sealer,
            shop: &self.shop,
            server: &self.server,
            offset: TimeDelta::seconds(offset),
            policy,
            calls: Arc::clone(&self.calls),
            replica_id,
            relogin,
            event_capacity: 1 << 12,
        })
        .await
    }

    /// A client on the server's clock, to ask the shop whether a token is alive.
    pub fn client(&self) -> Result<StorefrontClient, BoxError> {
        client(&self.shop, &self.server)
    }
}

/// The [`SealError`](storefront_token::at_rest::SealError) somewhere in an
/// error's chain of sources.
pub fn seal_error<'e>(
    error: &'e (dyn std::error::Error + 'static),
) -> Option<&'e storefront_token::at_rest::SealError> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(seal) = error.downcast_ref::<storefront_token::at_rest::SealError>() {
            return Some(seal);
        }
        next = error.source();
    }
    None
}

/// A `redis-server` of a test's own, on a free port, persisting to a
/// directory of its own with the append-only file fsync'd on every write (so a
/// SIGKILL loses nothing acknowledged) and RDB compression off (so a grep of
/// the files on disk sees every stored byte as written).
#[derive(Debug)]
pub struct DiskRedis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl DiskRedis {
    /// Started; `None` (with a notice) when `redis-server` is not installed
    /// and Redis is not required.
    pub fn start(test: &str) -> Result<Option<Self>, BoxError> {
        let installed = std::process::Command::new("redis-server")
            .arg("--version")
            .output()
            .is_ok();
        if !installed {
            assert!(
                std::env::var("STOREFRONT_REQUIRE_REDIS").as_deref() != Ok("1"),
                "{test}: redis-server is not installed"
            );
            eprintln!("SKIPPED {test}: redis-server is not installed");
            return Ok(None);
        }
        let port = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        let mut server = Self {
            port,
            dir: tempfile::tempdir()?,
            child: None,
        };
        server.run()?;
        Ok(Some(server))
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it (SIGKILL): what it had not written to disk is lost.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it (again) on the same port and directory, and waits until it
    /// accepts connections (at most 10 s of real time; simulated time stands
    /// still meanwhile, as this blocks the runtime's thread).
    pub fn run(&mut self) -> Result<(), BoxError> {
        self.kill();
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .args(["--save", "", "--rdbcompression", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let started = std::time::Instant::now();
        loop {
            let reply = std::net::TcpStream::connect((std::net::Ipv4Addr::LOCALHOST, self.port))
                .and_then(|mut stream| {
                    use std::io::{Read, Write};
                    stream.write_all(b"PING\r\n")?;
                    let mut buf = [0u8; 7];
                    stream.read_exact(&mut buf)?;
                    Ok(buf)
                });
            match reply {
                Ok(reply) if &reply == b"+PONG\r\n" => return Ok(()),
                _ if started.elapsed() > Duration::from_secs(10) => {
                    return Err("redis-server did not answer within 10 s".into())
                }
                _ => std::thread::yield_now(),
            }
        }
    }

    /// Every file it wrote (the append-only files, RDB snapshots), read whole.
    pub fn files(&self) -> Result<Vec<(std::path::PathBuf, Vec<u8>)>, BoxError> {
        let mut files = Vec::new();
        let mut dirs = vec![self.dir.path().to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir)? {
                let path = entry?.path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    let bytes = std::fs::read(&path)?;
                    files.push((path, bytes));
                }
            }
        }
        Ok(files)
    }
}

impl Drop for DiskRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
