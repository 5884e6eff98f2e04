//! Failures counted: a failing shop (transient failures, retries), an
//! unreachable store (errors, one renewal without the lease), and the shop
//! breaker's gauge.

use std::sync::atomic::{AtomicBool, Ordering};

use common::hooked_store::{HookedStore, Op, StoreHook};

use super::*;

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_failing_shop_counts_transient_failures_and_retries() -> TestResult {
    record_metrics!(seen);
    let (clock, shop, client) = simulated_shop(DAY).await;
    let store = Arc::new(MemoryStore::new());
    stored_tokens(&shop, &*store, 1, clock.now()).await?;
    shop.set_random_fault(Some((
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        1.0,
    )));
    let handle = engine(client, &store, &clock).build().start().await?;
    tokio::time::sleep(DAY.mul_f64(0.8)).await;
    let attempts = shop.requests(Operation::Renew);
    assert!(attempts >= 3, "{attempts} attempts");
    assert_eq!(seen.renewals("transient_failure"), attempts);
    assert_eq!(seen.counter(names::RETRIES, &[]), attempts - 1);
    assert_eq!(seen.renewals("renewed"), 0);
    assert!(seen.histogram(names::TIME_LEFT, &[]).is_empty());

    // The shop answers again: the next attempt, a retry too, renews.
    shop.set_random_fault(None);
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(shop.requests(Operation::Renew), attempts + 1);
    assert_eq!(seen.renewals("renewed"), 1);
    assert_eq!(seen.counter(names::RETRIES, &[]), attempts);
    assert_eq!(seen.histogram(names::TIME_LEFT, &[]).len(), 1);
    handle.shutdown().await;
    Ok(())
}

/// Store calls fail while `down`: every one, with "connection refused".
#[derive(Default)]
struct Outage {
    down: AtomicBool,
}

impl StoreHook<CustomerAccessToken> for Outage {
    async fn before(&self, _op: Op<'_>) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::new("connection refused", None))
        } else {
            Ok(())
        }
    }
}

/// A memory store that can go down.
type FlakyStore = HookedStore<MemoryStore<CustomerAccessToken>, Outage>;

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_unreachable_store_counts_errors_and_one_renewal_without_the_lease() -> TestResult {
    record_metrics!(seen);
    let (clock, shop, client) = simulated_shop(DAY).await;
    let store = Arc::new(FlakyStore::default());
    stored_tokens(&shop, &store.inner, 1, clock.now()).await?;
    let engine = engine(client, &store, &clock).build();
    let mut receiver = engine.events();
    let handle = engine.start().await?;
    store.down.store(true, Ordering::SeqCst);

    // Until the last minutes the lease is asked for and refused; then the token
    // is renewed from memory, once, and its write keeps failing.
    tokio::time::sleep(DAY).await;
    let lease_errors = seen.counter(names::STORE_ERRORS, &[(names::OP, "try_lease")]);
    assert!(lease_errors >= 2, "{lease_errors}");
    let lease_failed = seen.renewals("lease_failed");
    // Retried writes ask for the lease too.
    assert!((2..=lease_errors).contains(&lease_failed), "{lease_failed}");
    assert!(seen.counter(names::STORE_ERRORS, &[(names::OP, "put")]) >= 1);
    assert!(seen.counter(names::STORE_ERRORS, &[(names::OP, "versions")]) >= 1);
    assert_eq!(seen.counter(names::LEASE_BYPASS, &[]), 1);
    assert_eq!(shop.requests(Operation::Renew), 1);
    assert_eq!(seen.renewals("renewed"), 1);
    let seen_events = events(&mut receiver);
    let bypasses: Vec<_> = seen_events
        .iter()
        .filter(|e| matches!(e, RenewalEvent::RenewingWithoutLease { .. }))
        .collect();
    assert_eq!(bypasses.len(), 1, "{bypasses:?}");
    assert!(bypasses[0].to_string().contains("without the lease"));
    let renewed = seen_events
        .iter()
        .position(|e| matches!(e, RenewalEvent::Renewed { .. }))
        .ok_or("renewed")?;
    let bypassed = seen_events
        .iter()
        .position(|e| matches!(e, RenewalEvent::RenewingWithoutLease { .. }))
        .ok_or("bypassed")?;
    assert!(bypassed < renewed, "announced before its outcome");
    assert!(handle.valid(&TokenId::new("customer-0")).await.is_ok());
    handle.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_breaker_gauge_opens_then_closes() -> TestResult {
    record_metrics!(seen);
    let (clock, shop, client) = simulated_shop(DAY).await;
    let store = Arc::new(MemoryStore::new());
    // Issued long ago (expiring in a day): overdue at start.
    stored_tokens(&shop, &*store, 10, clock.now() - TimeDelta::days(5)).await?;
    shop.set_random_fault(Some((
        Fault::Status {
            status: 401,
            retry_after: None,
        },
        1.0,
    )));
    let handle = engine(client, &store, &clock)
        .policy(
            RenewalPolicy::default()
                .with_shop_pause(Duration::from_secs(30), Duration::from_secs(600)),
        )
        .build()
        .start()
        .await?;
    tokio::time::sleep(Duration::from_secs(100)).await;
    assert_eq!(seen.gauge(names::BREAKER_OPEN, &[]), 1.0);
    let pauses = seen.counter(names::BREAKER_PAUSES, &[]);
    assert!(
        (2..=3).contains(&pauses),
        "first pause, then failed probes: {pauses}"
    );
    assert!(seen.renewals("shop_unavailable") >= 1);
    assert_eq!(seen.renewals("renewed"), 0);

    shop.set_random_fault(None);
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(seen.gauge(names::BREAKER_OPEN, &[]), 0.0);
    assert_eq!(seen.counter(names::BREAKER_PAUSES, &[]), pauses);
    assert_eq!(seen.renewals("renewed"), 10);
    handle.shutdown().await;
    Ok(())
}
