//! `RedisStore` against a real Redis: the `TokenStore` protocol call by call,
//! leases on an injected clock, what is (not) in Redis, values that do not
//! open, the re-seal pass, round trips, and Redis going away and coming back.
//!
//! Runs against `STOREFRONT_REDIS_URL`; each test prints `SKIPPED …` and
//! passes without it (see tests/redis_support).

mod redis_support;

use std::error::Error as StdError;

use redis_support::{
    contains, delete_prefix, fresh_key, fresh_sealer, raw_connection, raw_entries,
    redis_url_or_skip, unique_prefix, ManualClock, OwnRedis,
};
use storefront_token::at_rest::{Keyring, SealError, Sealer};
use storefront_token::chrono::{DateTime, TimeDelta, Utc};
use storefront_token::renewal::{
    LeaseOutcome, PutOutcome, RedisStore, ReplicaId, StoreError, TokenId, TokenStore,
};
use storefront_token::{AccessToken, CustomerAccessToken};

type Token = CustomerAccessToken;
type TestResult = Result<(), Box<dyn StdError>>;

/// Runs the test against the configured Redis, or returns (skipped) without one.
macro_rules! redis_or_skip {
    ($test:literal) => {
        match redis_url_or_skip($test).await {
            Some(url) => url,
            None => return Ok(()),
        }
    };
}

fn issued() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).expect("a valid time")
}

fn token(secret: &str) -> Token {
    CustomerAccessToken::new(AccessToken::new(secret), issued() + TimeDelta::days(30))
}

/// The store seen as a store of customer tokens (it is one for every credential).
fn tokens(store: &RedisStore) -> &(impl TokenStore<Token> + '_) {
    store
}

async fn store_with(url: &str, prefix: &str, sealer: Sealer) -> Result<RedisStore, StoreError> {
    RedisStore::builder(url, sealer)
        .prefix(prefix)
        .build()
        .await
}

fn stored_version(outcome: &PutOutcome<Token>) -> u64 {
    match outcome {
        PutOutcome::Stored { version } => *version,
        other => panic!("expected Stored, got {other:?}"),
    }
}

/// The seal error behind a store error.
fn seal_error(error: &StoreError) -> &SealError {
    error
        .source()
        .and_then(|source| source.downcast_ref::<SealError>())
        .unwrap_or_else(|| panic!("no SealError behind {error:?}"))
}

async fn hset(url: &str, key: &str, field: &str, value: &[u8]) {
    let mut connection = raw_connection(url).await.expect("Redis answers");
    let _: i64 = redis::cmd("HSET")
        .arg(key)
        .arg(field)
        .arg(value)
        .query_async(&mut connection)
        .await
        .expect("HSET works");
}

async fn hget(url: &str, key: &str, field: &str) -> Option<Vec<u8>> {
    let mut connection = raw_connection(url).await.expect("Redis answers");
    redis::cmd("HGET")
        .arg(key)
        .arg(field)
        .query_async(&mut connection)
        .await
        .expect("HGET works")
}

#[path = "redis_store/operations.rs"]
mod operations;
#[path = "redis_store/protocol.rs"]
mod protocol;
#[path = "redis_store/sealing.rs"]
mod sealing;
