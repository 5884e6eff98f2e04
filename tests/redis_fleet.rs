//! The fleet on Redis: three replicas of a storefront backend, each with its own
//! `RedisStore` connection to one Redis, against one mock shop that rotates
//! token strings, with random transient faults, over 30 simulated days. The
//! `MemoryStore` version of this test is
//! `renewal_soak::three_replicas_with_rotation_renew_each_token_once_per_cycle`.
//!
//! Needs a Redis: `STOREFRONT_REDIS_URL=redis://127.0.0.1:6379 cargo test --test
//! redis_fleet`; without it the test prints a notice and passes (see
//! `tests/redis_support`). How simulated time and a Redis in another process
//! get along is explained in `tests/redis_fleet_support`.

mod redis_fleet_support;
mod redis_support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::TimeDelta;
use redis_fleet_support::{
    find_any, issue, real_io, replica, secret, shop, tally, until, ReplicaConfig, TestResult,
};
use storefront_token::mock::Fault;
use storefront_token::renewal::{RenewalEvent, RenewalPolicy, TokenId, TokenStore};
use storefront_token::{Clock, CustomerAccessToken, Operation};

const TOKENS: usize = 5_000;
const DAYS: i64 = 30;
/// Tokens live 14 days: renewed at 55-70 % of that, three cycles fit in 30
/// days (the third ends by day 29.4), never four (the fourth starts after day
/// 30.8).
const LIFETIME: Duration = Duration::from_secs(14 * 86_400);
const CYCLES: usize = 3;
const FAULT_RATE: f64 = 0.2;

/// Three replicas (clocks 3 s slow, right, 4 s fast) share 5,000 tokens in one
/// Redis for 30 simulated days; the shop rotates the token string on every
/// renewal and answers 20 % of requests with a 503. Each token is renewed
/// exactly once per cycle across the replicas (every mutation the shop saw is
/// one successful renewal or one reported failure), none expires, none is
/// rejected, every replica ends serving the stored (live) token, and no token
/// string was ever written to Redis in plain text.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn three_replicas_on_redis_renew_each_token_once_per_cycle() -> TestResult {
    let Some(url) = real_io(redis_support::redis_url_or_skip(
        "redis_fleet::three_replicas_on_redis",
    ))
    .await
    else {
        return Ok(());
    };
    let real_start = std::time::Instant::now();
    let prefix = redis_support::unique_prefix("fleet");
    let sealer = redis_support::fresh_sealer();
    let (server, shop) = shop(LIFETIME).await?;
    shop.set_renew_rotates_token(true);
    let calls = Arc::new(Mutex::new(Vec::new()));
    let mut replicas = Vec::new();
    for (n, offset) in [-3, 0, 4].into_iter().enumerate() {
        replicas.push(
            replica(ReplicaConfig {
                redis_url: &url,
                prefix: &prefix,
                sealer: sealer.clone(),
                shop: &shop,
                server: &server,
                offset: TimeDelta::seconds(offset),
                policy: RenewalPolicy::default()
                    .with_reconcile_interval(Duration::from_secs(6 * 3_600)),
                calls: Arc::clone(&calls),
                replica_id: n as u128 + 1,
                relogin: false,
                event_capacity: 1 << 17,
            })
            .await?,
        );
    }
    let start = server.now();
    let mut ids = Vec::with_capacity(TOKENS);
    let mut sentinels = HashSet::new();
    for n in 0..TOKENS {
        let token = issue(&shop)?;
        sentinels.insert(secret(&token).to_owned());
        let id = TokenId::new(format!("customer-{n}"));
        // Logged in on one replica; the others learn of it by reconciling or
        // when a request for that customer reaches them.
        replicas[n % 3]
            .handle
            .add(id.clone(), token, Some(start))
            .await?;
        ids.push(id);
    }
    for (n, id) in ids.iter().enumerate().step_by(7) {
        // A customer's next request lands on another replica: read through.
        replicas[(n + 1) % 3].handle.valid(id).await?;
    }
    shop.set_random_fault(Some((
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        FAULT_RATE,
    )));
    until(&server, start + TimeDelta::days(DAYS)).await;
    shop.set_random_fault(None);

    let end = server.now();
    let store = &replicas[0].store.inner;
    let mut versions = HashMap::new();
    for id in &ids {
        let stored = real_io(TokenStore::<CustomerAccessToken>::get(store, id))
            .await?
            .ok_or("every token is stored")?;
        versions.insert(id.clone(), stored.version);
        for replica in &replicas {
            let token = replica.handle.valid(id).await?;
            assert!(
                token.expires_at() > end,
                "every replica serves a live token"
            );
            assert_eq!(
                secret(&token),
                secret(&stored.credential),
                "and the one stored: the last renewal's"
            );
        }
    }
    let round_trips = store.round_trips();
    for replica in &replicas {
        replica.handle.shutdown().await;
    }
    let mut renewed: HashMap<TokenId, usize> = HashMap::new();
    let mut failures = 0;
    let mut adopted = 0;
    for replica in &mut replicas {
        let events = replica.events().await?;
        for event in &events {
            match event {
                RenewalEvent::Renewed { id, .. } => *renewed.entry(id.clone()).or_default() += 1,
                RenewalEvent::RenewalFailed {
                    transient: true, ..
                } => failures += 1,
                RenewalEvent::AdoptedFromStore { .. } => adopted += 1,
                RenewalEvent::ClockSkew { .. } => {}
                other => {
                    return Err(
                        format!("unexpected event: {other}; all: {:?}", tally(&events)).into(),
                    )
                }
            }
        }
    }
    assert_eq!(renewed.len(), TOKENS, "every token was renewed");
    let mut per_token: HashMap<usize, usize> = HashMap::new();
    renewed
        .values()
        .for_each(|n| *per_token.entry(*n).or_default() += 1);
    assert!(
        renewed.values().all(|&n| n == CYCLES),
        "successful renewals per token across replicas: {per_token:?}"
    );
    // Every mutation sent was one successful renewal or one reported failure:
    // no replica sent one for a token another was renewing.
    let calls = calls.lock().map_err(|e| e.to_string())?.clone();
    assert_eq!(calls.len(), CYCLES * TOKENS + failures);
    assert_eq!(shop.requests(Operation::Renew), calls.len() as u64);
    assert!(
        failures > calls.len() / 10,
        "the faults were exercised: {failures} of {}",
        calls.len()
    );
    // Versions only grew: one for the login, one per renewal, store-wide unique.
    let distinct: HashSet<u64> = versions.values().copied().collect();
    assert_eq!(distinct.len(), TOKENS, "versions never repeat");

    // No token string, of any generation, is in Redis in plain text.
    sentinels.extend(calls.iter().filter_map(|call| call.renewed.clone()));
    let dump = real_io(redis_support::raw_entries(&url, &prefix)).await;
    assert!(dump.len() >= TOKENS, "the dump holds every token's entry");
    for (key, values) in &dump {
        assert_eq!(find_any(key, &sentinels), None, "a token string in a key");
        for value in values {
            assert_eq!(find_any(value, &sentinels), None, "a token string at rest");
        }
    }
    println!(
        "fleet on redis: {TOKENS} tokens, 3 replicas, {DAYS} days, rotation, {:.0} % faults: {} renewal \
         mutations = {} successful ({CYCLES} per token, exactly) + {failures} transient failures; \
         {adopted} adoptions from the store; 0 expired, 0 rejected; {} sentinel token strings absent \
         from {} raw Redis entries; {round_trips} round trips on replica 1; {:.1} s real time",
        FAULT_RATE * 100.0,
        calls.len(),
        CYCLES * TOKENS,
        sentinels.len(),
        dump.len(),
        real_start.elapsed().as_secs_f64()
    );
    real_io(redis_support::delete_prefix(&url, &prefix)).await;
    Ok(())
}
