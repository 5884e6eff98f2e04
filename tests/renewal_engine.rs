//! The renewal engine against the mock Storefront, on simulated time: single
//! flight, the keeper's watch channel, restarts from a store, re-login, replicas
//! sharing a store, clock jumps, workers side by side, and panics in caller code.
//! This file holds the shared helpers; the tests are in `renewal_engine/`.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::TimeDelta;
use common::{simulated_shop, RecordingRenewer, EMAIL, PASSWORD};
use storefront_token::mock::Fault;
use storefront_token::renewal::{
    MemoryStore, RenewalEngine, RenewalErrorKind, RenewalEvent, RenewalPolicy, StorefrontRenewer,
    TokenId, TokenKeeper, TokenState, TokenStore,
};
use storefront_token::{AccessToken, Clock, CustomerAccessToken, Operation, Password};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const DAY: Duration = Duration::from_secs(86_400);

/// Writes tokens straight into a store, as an earlier run (or another replica)
/// left them: the way to hand the engine tokens that have already expired.
async fn store_tokens(
    store: &MemoryStore<CustomerAccessToken>,
    prefix: &str,
    count: usize,
    expires_at: chrono::DateTime<chrono::Utc>,
    issued_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), storefront_token::renewal::StoreError> {
    for n in 0..count {
        let id = format!("{prefix}{n}");
        let token = CustomerAccessToken::new(AccessToken::new(format!("{id}-secret")), expires_at);
        store
            .put(&TokenId::new(id), &token, issued_at, None)
            .await?;
    }
    Ok(())
}

/// A store holding one token, `gone0`, issued an hour before `now` and expired a
/// second before it.
async fn one_expired_token(
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Arc<MemoryStore<CustomerAccessToken>>, storefront_token::renewal::StoreError> {
    let store = Arc::new(MemoryStore::new());
    let (expired, issued) = (now - TimeDelta::seconds(1), now - TimeDelta::hours(1));
    store_tokens(&store, "gone", 1, expired, issued).await?;
    Ok(store)
}

/// Renews in-process at once, counting calls per token.
#[derive(Clone, Default)]
struct CountingRenewer {
    calls: Arc<Mutex<HashMap<String, usize>>>,
}

impl storefront_token::renewal::Renewable for CountingRenewer {
    type Credential = CustomerAccessToken;
    type Error = std::io::Error;

    fn expires_at(&self, token: &CustomerAccessToken) -> chrono::DateTime<chrono::Utc> {
        token.expires_at()
    }

    async fn renew(&self, token: &CustomerAccessToken) -> Result<CustomerAccessToken, Self::Error> {
        if let Ok(mut calls) = self.calls.lock() {
            *calls
                .entry(token.access_token().expose_secret().to_owned())
                .or_default() += 1;
        }
        // Give the other worker thread a chance to contend for the schedule.
        tokio::task::yield_now().await;
        Ok(CustomerAccessToken::new(
            token.access_token().clone(),
            chrono::Utc::now() + TimeDelta::days(42),
        ))
    }
}

/// Renews in-process after `delay` of (paused) tokio time, recording the most
/// renewals it ever had running at once.
#[derive(Clone)]
struct SlowRenewer {
    clock: storefront_token::mock::SimulatedClock,
    delay: Duration,
    running: Arc<std::sync::atomic::AtomicUsize>,
    most: Arc<std::sync::atomic::AtomicUsize>,
}

impl storefront_token::renewal::Renewable for SlowRenewer {
    type Credential = CustomerAccessToken;
    type Error = std::io::Error;

    fn expires_at(&self, token: &CustomerAccessToken) -> chrono::DateTime<chrono::Utc> {
        token.expires_at()
    }

    async fn renew(&self, token: &CustomerAccessToken) -> Result<CustomerAccessToken, Self::Error> {
        use std::sync::atomic::Ordering::SeqCst;
        let now_running = self.running.fetch_add(1, SeqCst) + 1;
        self.most.fetch_max(now_running, SeqCst);
        tokio::time::sleep(self.delay).await;
        self.running.fetch_sub(1, SeqCst);
        Ok(CustomerAccessToken::new(
            token.access_token().clone(),
            self.clock.now() + TimeDelta::hours(24),
        ))
    }
}

#[path = "renewal_engine/lifecycle.rs"]
mod lifecycle;
#[path = "renewal_engine/panics.rs"]
mod panics;
#[path = "renewal_engine/relogin.rs"]
mod relogin;
#[path = "renewal_engine/replicas.rs"]
mod replicas;
#[path = "renewal_engine/scheduling.rs"]
mod scheduling;
