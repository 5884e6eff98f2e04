//! Fleet benchmarks: the renewal engine on `RedisStore` (figures in the README).
//!
//! 1. Draining due renewals through three replicas, each an engine with its own
//!    `RedisStore` connection to one Redis, versus one engine on a
//!    `MemoryStore`: the same tokens, the same cheap in-process renewer (what is
//!    measured is the engine and the store, not a shop), 32 in flight per
//!    engine, the rate limit out of the way. Target: the fleet at ≥ 0.8× the
//!    single engine. Also with a renewer that takes 5 ms (a shop's latency, for
//!    scale).
//! 2. Round trips to Redis per renewal, from `RedisStore::round_trips`: the
//!    renewing replica's (target ≤ 2: the lease, then the write that releases
//!    it), and the fleet's (the other replicas' lease requests that find the
//!    new version and adopt it).
//! 3. Loading 1,000,000 stored tokens (written beforehand with pipelines) at
//!    engine start, and the heap held per token once loaded (a counting
//!    allocator). Target: ≤ 10 s.
//!
//! Needs a Redis it may fill (about 200 MB for a million tokens, under a key
//! prefix of its own that it deletes afterwards):
//! `STOREFRONT_REDIS_URL=redis://127.0.0.1:6379 cargo bench --bench fleet`.
//! Without it, prints a notice and exits 0. `STOREFRONT_BENCH_COUNT` sets the
//! drain's token count (default 50,000), `STOREFRONT_BENCH_LOAD` the load's
//! (default 1,000,000).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use storefront_token::at_rest::{EncryptionKey, Keyring, Sealer};
use storefront_token::renewal::{
    MemoryStore, PutOutcome, RedisStore, Renewable, RenewalEngine, RenewalHandle, RenewalPolicy,
    StoreError, TokenId, TokenStore,
};
use storefront_token::{AccessToken, CustomerAccessToken};

#[path = "../tests/common/hooked_store.rs"]
mod hooked_store;

use hooked_store::{HookedStore, StoreHook};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

/// The Redis suite's helpers: the same sweep of a prefix's keys the tests use.
#[path = "../tests/redis_support/mod.rs"]
mod redis_support;

type Token = CustomerAccessToken;
type BoxError = Box<dyn std::error::Error>;

#[derive(Debug, thiserror::Error)]
#[error("never")]
struct Never;

/// Renews in-process: the same string, 42 days more. Holds every renewal until
/// the gate opens, so that the engines' start-up (loading the store) is not
/// timed; with `latency`, takes that long, as a shop would.
#[derive(Clone)]
struct GatedRenewer {
    open: Arc<AtomicBool>,
    opened: Arc<tokio::sync::Notify>,
    latency: Duration,
}

impl GatedRenewer {
    fn new(latency: Duration) -> Self {
        Self {
            open: Arc::default(),
            opened: Arc::default(),
            latency,
        }
    }

    fn open(&self) {
        self.open.store(true, Ordering::SeqCst);
        self.opened.notify_waiters();
    }
}

impl Renewable for GatedRenewer {
    type Credential = Token;
    type Error = Never;

    fn expires_at(&self, token: &Token) -> DateTime<Utc> {
        token.expires_at()
    }

    async fn renew(&self, token: &Token) -> Result<Token, Never> {
        while !self.open.load(Ordering::SeqCst) {
            let opened = self.opened.notified();
            if self.open.load(Ordering::SeqCst) {
                break;
            }
            opened.await;
        }
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        Ok(CustomerAccessToken::new(
            token.access_token().clone(),
            Utc::now() + TimeDelta::days(42),
        ))
    }
}

/// Counts the writes that landed (across every replica sharing the counter)
/// and says when the expected number is in.
struct LandedWrites {
    stored: Arc<AtomicUsize>,
    target: usize,
    done: Arc<tokio::sync::Notify>,
}

impl StoreHook<Token> for LandedWrites {
    fn after_put(&self, outcome: &Result<PutOutcome<Token>, StoreError>) {
        if matches!(outcome, Ok(PutOutcome::Stored { .. }))
            && self.stored.fetch_add(1, Ordering::SeqCst) + 1 == self.target
        {
            self.done.notify_one();
        }
    }
}

/// A store that counts the writes that landed.
type Counted<S> = HookedStore<S, LandedWrites>;

/// The token `n`: 12 days left of 42 (issued 30 days ago), so overdue.
fn token(n: usize, now: DateTime<Utc>) -> (TokenId, Token, DateTime<Utc>) {
    (
        TokenId::new(format!("c{n}")),
        CustomerAccessToken::new(
            AccessToken::new(format!("{n:032x}")),
            now + TimeDelta::days(12),
        ),
        now - TimeDelta::days(30),
    )
}

fn policy() -> RenewalPolicy {
    RenewalPolicy::default()
        .with_starts_per_second(1e9)
        .with_max_in_flight(32)
}

fn engine<S: TokenStore<Token>>(
    renewer: GatedRenewer,
    store: Arc<S>,
    in_flight: usize,
) -> RenewalEngine<GatedRenewer, S> {
    RenewalEngine::builder(renewer)
        .store(store)
        .policy(policy().with_max_in_flight(in_flight))
        .event_capacity(1)
        .build()
}

/// One engine on a `MemoryStore` holding `count` overdue tokens, `in_flight`
/// at once: renewals per second once the gate opens.
async fn memory_drain(count: usize, latency: Duration, in_flight: usize) -> Result<f64, BoxError> {
    let now = Utc::now();
    let memory = MemoryStore::new();
    for n in 0..count {
        let (id, token, issued) = token(n, now);
        memory.put(&id, &token, issued, None).await?;
    }
    let done = Arc::new(tokio::sync::Notify::new());
    let store = Arc::new(Counted::new(
        memory,
        LandedWrites {
            stored: Arc::default(),
            target: count,
            done: Arc::clone(&done),
        },
    ));
    let renewer = GatedRenewer::new(latency);
    let handle = engine(renewer.clone(), store, in_flight).start().await?;
    let started = Instant::now();
    renewer.open();
    done.notified().await;
    let rate = count as f64 / started.elapsed().as_secs_f64();
    handle.shutdown().await;
    Ok(rate)
}

/// What a drain through Redis found.
struct RedisDrain {
    rate: f64,
    /// Round trips of every replica, per renewal.
    fleet_trips: f64,
    /// Round trips of the replica that renewed, per renewal (one replica).
    renewer_trips: f64,
}

/// `replicas` engines, each on its own `RedisStore` connection, sharing
/// `count` overdue tokens under a fresh prefix: renewals per second once the
/// gate opens, and round trips.
async fn redis_drain(
    url: &str,
    replicas: usize,
    count: usize,
    latency: Duration,
) -> Result<RedisDrain, BoxError> {
    let prefix = format!(
        "sft-bench:fleet:{}:{}",
        std::process::id(),
        fastrand::u64(..)
    );
    let sealer = Sealer::new(Keyring::new(EncryptionKey::generate("bench")?));
    write_tokens(url, &prefix, &sealer, count).await?;
    let done = Arc::new(tokio::sync::Notify::new());
    let stored = Arc::new(AtomicUsize::new(0));
    let renewer = GatedRenewer::new(latency);
    let mut stores = Vec::new();
    let mut handles: Vec<RenewalHandle<Token>> = Vec::new();
    for _ in 0..replicas {
        let redis = RedisStore::builder(url, sealer.clone())
            .prefix(prefix.as_str())
            .build()
            .await?;
        stores.push(redis.clone());
        let store = Arc::new(Counted::new(
            redis,
            LandedWrites {
                stored: Arc::clone(&stored),
                target: count,
                done: Arc::clone(&done),
            },
        ));
        handles.push(engine(renewer.clone(), store, 32).start().await?);
    }
    let trips = |stores: &[RedisStore]| stores.iter().map(RedisStore::round_trips).sum::<u64>();
    let before = trips(&stores);
    let started = Instant::now();
    renewer.open();
    done.notified().await;
    let rate = count as f64 / started.elapsed().as_secs_f64();
    let fleet_trips = (trips(&stores) - before) as f64 / count as f64;
    for handle in &handles {
        handle.shutdown().await;
    }
    redis_support::delete_prefix(url, &prefix).await;
    Ok(RedisDrain {
        rate,
        fleet_trips,
        renewer_trips: if replicas == 1 { fleet_trips } else { f64::NAN },
    })
}

/// Writes `count` overdue tokens under `prefix` as `RedisStore` lays them out
/// (`{prefix}:t:{id}`: `v`, `d`; the `{prefix}:version` counter), sealed,
/// with pipelines of 5,000.
async fn write_tokens(
    url: &str,
    prefix: &str,
    sealer: &Sealer,
    count: usize,
) -> Result<(), BoxError> {
    let mut connection = redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await?;
    let now = Utc::now();
    for batch in (0..count).collect::<Vec<_>>().chunks(5_000) {
        let mut pipeline = redis::pipe();
        for &n in batch {
            let (id, token, issued) = token(n, now);
            let sealed = sealer.seal_token(id.as_str(), &token, issued)?;
            pipeline
                .cmd("HSET")
                .arg(format!("{prefix}:t:{}", id.as_str()))
                .arg("v")
                .arg(n + 1)
                .arg("d")
                .arg(sealed)
                .ignore();
        }
        pipeline.query_async::<()>(&mut connection).await?;
    }
    redis::cmd("SET")
        .arg(format!("{prefix}:version"))
        .arg(count + 1)
        .query_async::<()>(&mut connection)
        .await?;
    Ok(())
}

/// Loads `count` tokens written beforehand: seconds to start, and heap bytes
/// held per token once started.
async fn load(url: &str, count: usize) -> Result<(f64, f64), BoxError> {
    let prefix = format!(
        "sft-bench:load:{}:{}",
        std::process::id(),
        fastrand::u64(..)
    );
    let sealer = Sealer::new(Keyring::new(EncryptionKey::generate("bench")?));
    let writing = Instant::now();
    write_tokens(url, &prefix, &sealer, count).await?;
    eprintln!(
        "wrote {count} sealed tokens with pipelines in {:.1} s",
        writing.elapsed().as_secs_f64()
    );
    let store = RedisStore::builder(url, sealer)
        .prefix(prefix.as_str())
        .build()
        .await?;
    let renewer = GatedRenewer::new(Duration::ZERO); // never opened: nothing renews
    let engine = RenewalEngine::builder(renewer)
        .store(Arc::new(store))
        .policy(policy())
        .event_capacity(1)
        .build();
    let before = counting_alloc::live();
    let started = Instant::now();
    let handle = engine.start().await?;
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(handle.len().await, count, "every token loaded");
    let per_token = (counting_alloc::live() as f64 - before as f64) / count as f64;
    handle.shutdown().await;
    drop(handle);
    redis_support::delete_prefix(url, &prefix).await;
    Ok((seconds, per_token))
}

fn main() -> Result<(), BoxError> {
    if std::env::args().any(|arg| arg == "--list") {
        return Ok(());
    }
    let Some(url) = std::env::var("STOREFRONT_REDIS_URL")
        .ok()
        .filter(|url| !url.is_empty())
    else {
        println!(
            "fleet benchmark skipped: set STOREFRONT_REDIS_URL=redis://127.0.0.1:PORT (a Redis it may \
             fill with about 200 MB under a prefix of its own) to run it"
        );
        return Ok(());
    };
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(default)
    };
    let count = env("STOREFRONT_BENCH_COUNT", 50_000);
    let load_count = env("STOREFRONT_BENCH_LOAD", 1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut rows = Vec::new();
        for latency in [Duration::ZERO, Duration::from_millis(5)] {
            let memory = memory_drain(count, latency, 32).await?;
            let memory_96 = memory_drain(count, latency, 96).await?;
            let fleet = redis_drain(&url, 3, count, latency).await?;
            let single = redis_drain(&url, 1, count, latency).await?;
            rows.push((latency, memory, memory_96, fleet, single));
        }
        let (seconds, per_token) = load(&url, load_count).await?;
        println!("fleet benchmarks ({count} due tokens per drain, 32 in flight per engine, 2 worker threads)");
        println!("| renewer | 1 engine, MemoryStore, 32 (96) in flight | 3 replicas, RedisStore, 3 x 32 in flight | ratio to 32 (96) (target >= 0.8) | 1 replica, RedisStore | round trips per renewal: renewing replica (target <= 2) / fleet |");
        println!("| --- | --- | --- | --- | --- | --- |");
        for (latency, memory, memory_96, fleet, single) in &rows {
            println!(
                "| {} | {memory:.0}/s ({memory_96:.0}/s) | {:.0}/s | {:.2} ({:.2}) | {:.0}/s | {:.2} / {:.2} |",
                if latency.is_zero() {
                    "in-process, instant".to_owned()
                } else {
                    format!("in-process, {} ms", latency.as_millis())
                },
                fleet.rate,
                fleet.rate / memory,
                fleet.rate / memory_96,
                single.rate,
                single.renewer_trips,
                fleet.fleet_trips,
            );
        }
        println!(
            "\nloading {load_count} stored tokens (sealed, written with pipelines) at engine start: {seconds:.2} s \
             (target <= 10); heap held per token once loaded: {per_token:.0} bytes (engine state, credential, id)"
        );
        Ok::<(), BoxError>(())
    })
}
