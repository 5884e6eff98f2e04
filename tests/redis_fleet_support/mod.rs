//! What the fleet tests (`tests/redis_fleet*.rs`) share: a store wrapper that
//! keeps simulated time still while Redis answers and can make a replica die
//! ([`store`]), a renewer wrapper that records every mutation and can hang or
//! kill its replica at a chosen point, replicas on a `RedisStore`, and event
//! collection ([`replica`]), Redis reached directly ([`raw`]), and the shop,
//! clocks and small helpers (here).
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

#[path = "../common/hooked_store.rs"]
pub mod hooked_store;
pub mod raw;
pub mod replica;
pub mod store;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::task::Poll;
use std::time::Duration;

use chrono::{DateTime, Utc};
use storefront_token::mock::{MockStorefront, SimulatedClock};
use storefront_token::renewal::{RenewalEvent, RenewalHandle};
use storefront_token::{Clock, CustomerAccessToken, StorefrontClient};

// Each test binary uses some of these.
#[allow(unused_imports)]
pub use raw::{raw, raw_connection, raw_lease, DiskRedis};
#[allow(unused_imports)]
pub use replica::{collect, replica, Call, Fate, Fleet, FleetRenewer, Replica, ReplicaConfig};
#[allow(unused_imports)]
pub use store::{fleet_store, FleetHook, FleetStore};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;
pub type BoxError = Box<dyn std::error::Error>;
pub type Handle = RenewalHandle<CustomerAccessToken>;
type Token = CustomerAccessToken;

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
