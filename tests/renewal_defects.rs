//! One test per defect found in the first renewal engine, each run as a
//! storefront backend would meet it: replicas on one store, a shop that rotates
//! token strings, stores and hooks that fail or hang, floods of calls, clock
//! steps. Numbers refer to the defects listed in the engine's second-pass issue.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common::hooked_store::{HookedStore, Op, StoreHook};
use common::{simulated_shop, EMAIL, PASSWORD};
use storefront_token::mock::{Fault, SimulatedClock};
use storefront_token::renewal::{
    EventError, EventReceiver, MemoryStore, RenewalEngine, RenewalErrorKind, RenewalEvent,
    RenewalHandle, RenewalPolicy, StoreError, StorefrontRenewer, TokenId, TokenStore,
};
use storefront_token::{Clock, CustomerAccessToken, Operation, Password, StorefrontClient};

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Handle = RenewalHandle<CustomerAccessToken>;

const DAY: Duration = Duration::from_secs(86_400);

fn secret(token: &CustomerAccessToken) -> &str {
    token.access_token().expose_secret()
}

/// Every event received so far.
fn drain(events: &mut EventReceiver) -> Vec<RenewalEvent> {
    let mut seen = Vec::new();
    while let Ok(Some(event)) = events.try_recv() {
        seen.push(event);
    }
    seen
}

/// An engine for `client` on `store` and `clock`, started; its event receiver
/// subscribed before start.
async fn replica<S: TokenStore<CustomerAccessToken>>(
    client: &StorefrontClient,
    store: &Arc<S>,
    clock: &SimulatedClock,
    policy: RenewalPolicy,
) -> Result<(Handle, EventReceiver), Box<dyn std::error::Error>> {
    let engine = RenewalEngine::builder(StorefrontRenewer::new(client.clone()))
        .store(Arc::clone(store))
        .clock(clock.clone())
        .policy(policy)
        .build();
    let events = engine.events();
    Ok((engine.start().await?, events))
}

/// 1. Two replicas load the same stored token; the shop rotates token strings.
/// Exactly one renewal mutation is sent; neither replica logs the customer out.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn d1_replicas_send_one_renewal_and_rotation_logs_nobody_out() -> TestResult {
    let (clock, shop, client) = simulated_shop(42 * DAY).await;
    shop.set_renew_rotates_token(true);
    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    let first = secret(&token).to_owned();
    let store = Arc::new(MemoryStore::new());
    let id = TokenId::new("ada");
    store.put(&id, &token, clock.now(), None).await?;
    let policy = RenewalPolicy::default();
    let (a, mut a_events) = replica(&client, &store, &clock, policy.clone()).await?;
    let (b, mut b_events) = replica(&client, &store, &clock, policy).await?;
    // Past the renewal point (55-70 % of 42 days), before expiry.
    tokio::time::sleep(31 * DAY).await;
    assert_eq!(shop.requests(Operation::Renew), 1, "one mutation per cycle");
    let stored = store.snapshot(&id).ok_or("stored")?;
    let (from_a, from_b) = (a.valid(&id).await?, b.valid(&id).await?);
    assert_ne!(secret(&stored.credential), first, "rotated");
    assert_eq!(secret(&from_a), secret(&stored.credential));
    assert_eq!(secret(&from_b), secret(&stored.credential));
    client.customer(from_b.access_token()).await?; // alive at the shop
    let seen: Vec<_> = drain(&mut a_events)
        .into_iter()
        .chain(drain(&mut b_events))
        .collect();
    assert!(
        !seen.iter().any(|e| matches!(
            e,
            RenewalEvent::Rejected { .. } | RenewalEvent::Expired { .. }
        )),
        "{seen:?}"
    );
    assert_eq!(
        seen.iter()
            .filter(|e| matches!(e, RenewalEvent::Renewed { .. }))
            .count(),
        1
    );
    assert_eq!(shop.requests(Operation::Create), 1, "no needless login");
    Ok(())
}

/// 2. A renewal in flight when the customer logs out and in again (same id,
/// another replica) never overwrites the new login.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn d2_a_stale_renewal_never_overwrites_a_new_login() -> TestResult {
    let (clock, shop, client) = simulated_shop(42 * DAY).await;
    let store = Arc::new(MemoryStore::new());
    let id = TokenId::new("ada");
    let (a, _) = replica(&client, &store, &clock, RenewalPolicy::default()).await?;
    let (b, _) = replica(&client, &store, &clock, RenewalPolicy::default()).await?;
    a.add(
        id.clone(),
        client.create_token(EMAIL, &Password::new(PASSWORD)).await?,
        None,
    )
    .await?;
    tokio::time::sleep(DAY).await;
    shop.inject(Fault::Delay(Duration::from_secs(5)), 1);
    let renewing = {
        let (a, id) = (a.clone(), id.clone());
        tokio::spawn(async move { a.renew_now(&id).await })
    };
    tokio::time::sleep(Duration::from_secs(1)).await; // the renewal is at the shop
    b.remove(&id).await?;
    let second = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    b.add(id.clone(), second.clone(), None).await?;
    let answered = renewing.await??;
    let stored = store.snapshot(&id).ok_or("stored")?;
    assert_eq!(
        secret(&stored.credential),
        secret(&second),
        "the new login stays"
    );
    assert_eq!(secret(&answered), secret(&second));
    assert_eq!(secret(&a.valid(&id).await?), secret(&second));
    Ok(())
}

/// 3a. `renew_now` keeps the gap after an attempt: fifty calls on a token whose
/// shop answers 503 send one mutation, and the others hear its error.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn d3_renew_now_keeps_the_gap_after_a_failed_attempt() -> TestResult {
    let (clock, shop, client) = simulated_shop(42 * DAY).await;
    let store = Arc::new(MemoryStore::new());
    let (handle, _) = replica(&client, &store, &clock, RenewalPolicy::default()).await?;
    let id = TokenId::new("ada");
    handle
        .add(
            id.clone(),
            client.create_token(EMAIL, &Password::new(PASSWORD)).await?,
            None,
        )
        .await?;
    let unavailable = Fault::Status {
        status: 503,
        retry_after: None,
    };
    shop.set_random_fault(Some((unavailable, 1.0)));
    for _ in 0..50 {
        let error = handle.renew_now(&id).await.err().ok_or("renewed")?;
        assert_eq!(error.kind(), RenewalErrorKind::Failed);
        let cause = error
            .source_as::<storefront_token::Error>()
            .ok_or("typed source")?;
        assert_eq!(cause.status(), Some(503));
    }
    assert_eq!(shop.requests(Operation::Renew), 1);
    tokio::time::sleep(Duration::from_secs(11)).await;
    let _ = handle.renew_now(&id).await;
    assert_eq!(
        shop.requests(Operation::Renew),
        2,
        "after the gap, one more"
    );
    Ok(())
}

/// Writes `count` live tokens (issued now) straight into `store`.
async fn stored_tokens(
    shop: &storefront_token::mock::MockStorefront,
    store: &MemoryStore<CustomerAccessToken>,
    count: usize,
    issued_at: DateTime<Utc>,
) -> Result<Vec<TokenId>, Box<dyn std::error::Error>> {
    let mut ids = Vec::with_capacity(count);
    for n in 0..count {
        let (secret, expires_at) = shop.issue_token(EMAIL).ok_or("no customer")?;
        let token =
            CustomerAccessToken::new(storefront_token::AccessToken::new(secret), expires_at);
        let id = TokenId::new(format!("c{n}"));
        store.put(&id, &token, issued_at, None).await?;
        ids.push(id);
    }
    Ok(ids)
}

/// 3b. A flood of `renew_now` on different ids goes through the queue's bound
/// and the start-rate limit; nothing starts after shutdown.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn d3_a_flood_of_renew_now_is_bounded_and_stops_at_shutdown() -> TestResult {
    let (clock, shop, client) = simulated_shop(42 * DAY).await;
    let store = Arc::new(MemoryStore::new());
    let ids = stored_tokens(&shop, &store, 2_000, clock.now()).await?;
    let policy = RenewalPolicy::default()
        .with_starts_per_second(20.0)
        .with_max_queued(100);
    let (handle, _) = replica(&client, &store, &clock, policy).await?;
    tokio::time::sleep(DAY).await;
    let mut calls = tokio::task::JoinSet::new();
    for id in ids {
        let handle = handle.clone();
        calls.spawn(async move { handle.renew_now(&id).await });
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let in_first_second = shop.requests(Operation::Renew);
    assert!(
        (1..=22).contains(&in_first_second),
        "{in_first_second} starts in the first second at 20/s"
    );
    handle.shutdown().await;
    let at_shutdown = shop.requests(Operation::Renew);
    let (mut busy, mut stopped, mut renewed) = (0, 0, 0);
    while let Some(answer) = calls.join_next().await {
        match answer? {
            Ok(_) => renewed += 1,
            Err(e) if e.kind() == RenewalErrorKind::Busy => busy += 1,
            Err(e) if e.kind() == RenewalErrorKind::Stopped => stopped += 1,
            Err(e) => return Err(e.into()),
        }
    }
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(
        shop.requests(Operation::Renew),
        at_shutdown,
        "nothing after shutdown"
    );
    assert!(busy >= 1_800, "{busy} refused beyond the queue's bound");
    assert_eq!(busy + stopped + renewed, 2_000);
    assert_eq!(
        renewed as u64, at_shutdown,
        "one mutation per renewal answered"
    );
    Ok(())
}

/// 4. A rejected token is never handed out while its re-login waits.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn d4_a_rejected_token_is_not_served_while_its_relogin_waits() -> TestResult {
    let (clock, shop, client) = simulated_shop(42 * DAY).await;
    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    shop.revoke_token(secret(&token));
    let login = client.clone();
    let engine = RenewalEngine::builder(StorefrontRenewer::new(client))
        .clock(clock.clone())
        .relogin(move |_| {
            let login = login.clone();
            async move {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(login.create_token(EMAIL, &Password::new(PASSWORD)).await?)
            }
        })
        .build();
    let handle = engine.start().await?;
    let id = TokenId::new("ada");
    handle.add(id.clone(), token, None).await?;
    let mut watcher = handle.watch(&id).await.ok_or("watch")?;
    let rejected = handle.renew_now(&id).await.err().ok_or("renewed")?;
    assert_eq!(rejected.kind(), RenewalErrorKind::Rejected);
    let valid = handle.valid(&id).await;
    assert!(
        matches!(&valid, Err(e) if e.kind() == RenewalErrorKind::Rejected),
        "{valid:?}"
    );
    assert!(
        watcher.borrow_and_update().is_none(),
        "watchers hear None at once"
    );
    let late = handle.watch(&id).await.ok_or("watch")?;
    assert!(late.borrow().is_none(), "a new watcher too");
    tokio::time::sleep(Duration::from_secs(31)).await;
    let fresh = handle.valid(&id).await?;
    assert!(watcher.has_changed()?);
    let published = watcher.borrow_and_update().clone().ok_or("published")?;
    assert_eq!(secret(&published), secret(&fresh));
    Ok(())
}

/// Writes can be made to hang, fail or panic.
#[derive(Default)]
struct PutFaults {
    hang_puts: AtomicBool,
    failing_puts: AtomicUsize,
    panic_next_put: AtomicBool,
}

impl StoreHook<CustomerAccessToken> for PutFaults {
    async fn before(&self, op: Op<'_>) -> Result<(), StoreError> {
        if !matches!(op, Op::Put(_)) {
            return Ok(());
        }
        if self.hang_puts.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if self.panic_next_put.swap(false, Ordering::SeqCst) {
            panic!("a bug in the store");
        }
        let failing = self.failing_puts.load(Ordering::SeqCst);
        if failing > 0 {
            self.failing_puts.store(failing - 1, Ordering::SeqCst);
            return Err(StoreError::new("the database is down", None));
        }
        Ok(())
    }
}

/// A memory store whose writes can be made to hang, fail or panic.
type FaultyStore = HookedStore<MemoryStore<CustomerAccessToken>, PutFaults>;

/// 5. A store write that never returns is cut off by the store timeout: the
/// renewed token is served, and shutdown returns.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn d5_a_hanging_store_is_bounded_in_time() -> TestResult {
    let (clock, _shop, client) = simulated_shop(42 * DAY).await;
    let store = Arc::new(FaultyStore::default());
    let policy =
        RenewalPolicy::default().with_timeouts(Duration::from_secs(5), Duration::from_secs(2));
    let (handle, mut events) = replica(&client, &store, &clock, policy).await?;
    let id = TokenId::new("ada");
    handle
        .add(
            id.clone(),
            client.create_token(EMAIL, &Password::new(PASSWORD)).await?,
            None,
        )
        .await?;
    tokio::time::sleep(DAY).await;
    store.hang_puts.store(true, Ordering::SeqCst);
    let renewed = tokio::time::timeout(Duration::from_secs(60), handle.renew_now(&id)).await??;
    let status = handle.status(&id).await.ok_or("held")?;
    assert!(status.pending_write(), "kept as a pending write");
    assert_eq!(status.expires_at(), renewed.expires_at(), "and served");
    assert!(drain(&mut events).iter().any(|e| matches!(
        e,
        RenewalEvent::StoreFailed {
            will_retry: true,
            ..
        }
    )));
    tokio::time::timeout(Duration::from_secs(60), handle.shutdown()).await?;
    Ok(())
}

/// A renewer that never answers.
struct HangingRenewer;

impl storefront_token::renewal::Renewable for HangingRenewer {
    type Credential = CustomerAccessToken;
    type Error = std::io::Error;

    fn expires_at(&self, token: &CustomerAccessToken) -> DateTime<Utc> {
        token.expires_at()
    }

    async fn renew(&self, _: &CustomerAccessToken) -> Result<CustomerAccessToken, std::io::Error> {
        std::future::pending().await
    }
}

/// 5b. A renewer that never answers is a transient failure after the call
/// timeout, and shutdown returns.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn d5_a_hanging_renewer_times_out_as_a_transient_failure() -> TestResult {
    let engine = RenewalEngine::builder(HangingRenewer)
        .policy(
            RenewalPolicy::default().with_timeouts(Duration::from_secs(5), Duration::from_secs(2)),
        )
        .build();
    let handle = engine.start().await?;
    let id = TokenId::new("x");
    let token = CustomerAccessToken::new(
        storefront_token::AccessToken::new("x"),
        Utc::now() + TimeDelta::days(1),
    );
    handle.add(id.clone(), token, None).await?;
    let answer = tokio::time::timeout(Duration::from_secs(60), handle.renew_now(&id)).await?;
    assert!(
        matches!(&answer, Err(e) if e.kind() == RenewalErrorKind::Failed),
        "{answer:?}"
    );
    assert!(handle.valid(&id).await.is_ok(), "still valid, still served");
    tokio::time::timeout(Duration::from_secs(60), handle.shutdown()).await?;
    Ok(())
}

/// 6. A renewed token whose write failed (or panicked) is retried until it is
/// in the store; a restart then serves it, rotation or not.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn d6_a_failed_write_is_retried_until_it_lands() -> TestResult {
    let (clock, shop, client) = simulated_shop(42 * DAY).await;
    shop.set_renew_rotates_token(true);
    let store = Arc::new(FaultyStore::default());
    let (handle, mut events) = replica(&client, &store, &clock, RenewalPolicy::default()).await?;
    let id = TokenId::new("ada");
    handle
        .add(
            id.clone(),
            client.create_token(EMAIL, &Password::new(PASSWORD)).await?,
            None,
        )
        .await?;
    for fault in ["fail", "panic"] {
        tokio::time::sleep(DAY).await;
        match fault {
            "fail" => store.failing_puts.store(3, Ordering::SeqCst),
            _ => store.panic_next_put.store(true, Ordering::SeqCst),
        }
        let renewed = handle.renew_now(&id).await?;
        assert_ne!(
            store
                .inner
                .snapshot(&id)
                .map(|s| secret(&s.credential).to_owned()),
            Some(secret(&renewed).to_owned()),
            "{fault}: not stored yet"
        );
        assert_eq!(
            secret(&handle.valid(&id).await?),
            secret(&renewed),
            "served meanwhile"
        );
        tokio::time::sleep(Duration::from_secs(3_600)).await;
        let stored = store.inner.snapshot(&id).ok_or("stored")?;
        assert_eq!(
            secret(&stored.credential),
            secret(&renewed),
            "{fault}: landed"
        );
        assert!(drain(&mut events)
            .iter()
            .any(|e| matches!(e, RenewalEvent::Persisted { .. })));
    }
    handle.shutdown().await;
    // A restart finds the rotated token, alive at the shop.
    let (restarted, _) = replica(&client, &store, &clock, RenewalPolicy::default()).await?;
    let token = restarted.valid(&id).await?;
    client.customer(token.access_token()).await?;
    Ok(())
}

/// 7. Events end with `Closed` after shutdown, whatever handles are alive; a
/// receiver taken before start sees what start-up finds.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn d7_events_close_at_shutdown_and_none_are_lost_at_start() -> TestResult {
    let store = Arc::new(MemoryStore::new());
    let now = Utc::now();
    let expired = CustomerAccessToken::new(
        storefront_token::AccessToken::new("old"),
        now - TimeDelta::minutes(1),
    );
    store
        .put(
            &TokenId::new("old"),
            &expired,
            now - TimeDelta::days(42),
            None,
        )
        .await?;
    let engine = RenewalEngine::builder(HangingRenewer).store(store).build();
    let mut early = engine.events();
    let handle = engine.start().await?;
    let kept = handle.clone();
    let mut late = handle.events();
    let first = tokio::time::timeout(Duration::from_secs(60), early.recv()).await??;
    assert!(matches!(first, RenewalEvent::Expired { .. }), "{first:?}");
    handle.shutdown().await;
    let ended = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            if let Err(EventError::Closed) = late.recv().await {
                return true;
            }
        }
    })
    .await?;
    assert!(ended);
    assert!(matches!(
        kept.events().recv().await,
        Err(EventError::Closed)
    ));
    Ok(())
}

/// 8. Expiries are compared in the server's time (a client clock ten minutes
/// fast must not call a live token expired); a new token is issued in server
/// time; a clock step resets the server-clock estimate.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn d8_expiries_are_in_server_time_and_a_clock_step_resets_the_estimate() -> TestResult {
    let (server, shop, _) = simulated_shop(Duration::from_secs(15 * 60)).await;
    let local = server.with_offset(TimeDelta::minutes(10));
    let client = common::builder_for(&shop)
        .clock(local.clone())
        .retry_policy(storefront_token::RetryPolicy::never())
        .build()?;
    let engine = RenewalEngine::builder(StorefrontRenewer::new(client.clone()))
        .clock(local.clone())
        .policy(RenewalPolicy::default().with_heartbeat(Duration::from_secs(1)))
        .build();
    let mut events = engine.events();
    let handle = engine.start().await?;
    for _ in 0..3 {
        client.create_token(EMAIL, &Password::new(PASSWORD)).await?; // Date samples
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await; // the engine takes the estimate
    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    let id = TokenId::new("ada");
    handle.add(id.clone(), token, None).await?;
    let status = handle.status(&id).await.ok_or("held")?;
    let issued_off = (status.issued_at() - server.now()).num_seconds().abs();
    assert!(
        issued_off <= 2,
        "issued in server time ({issued_off} s off)"
    );
    // Fifteen minutes of lifetime (renewed 5 minutes before expiry), the local
    // clock ten minutes ahead: six minutes on it has expired by local time, and
    // is alive by the server's.
    tokio::time::sleep(Duration::from_secs(6 * 60)).await;
    assert!(
        status.expires_at() < local.now(),
        "expired by the local clock"
    );
    assert!(handle.valid(&id).await.is_ok(), "alive by the server's");
    // The local clock is stepped back an hour: the old estimate is void.
    local.set_offset(TimeDelta::minutes(-50));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seen = drain(&mut events);
    assert!(
        seen.iter()
            .any(|e| matches!(e, RenewalEvent::ClockJump { .. })),
        "{seen:?}"
    );
    assert!(
        client.server_clock_offset().is_none(),
        "the estimate was reset"
    );
    handle.shutdown().await;
    Ok(())
}

/// 9. Dead tokens leave memory and the store after their event; churn leaves
/// the count at the live tokens.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn d9_memory_follows_live_tokens() -> TestResult {
    let store = Arc::new(MemoryStore::new());
    let clock = SimulatedClock::new(Utc::now());
    let engine = RenewalEngine::builder(HangingRenewer)
        .clock(clock.clone())
        .store(Arc::clone(&store))
        .policy(
            RenewalPolicy::default().with_timeouts(Duration::from_secs(1), Duration::from_secs(1)),
        )
        .build();
    let mut events = engine.events();
    let handle = engine.start().await?;
    let now = clock.now();
    let token = |name: &str, ttl| {
        CustomerAccessToken::new(storefront_token::AccessToken::new(name), now + ttl)
    };
    handle
        .add(
            TokenId::new("dies"),
            token("dies", TimeDelta::seconds(30)),
            None,
        )
        .await?;
    for round in 0..200 {
        let id = TokenId::new(format!("churn{}", round % 10));
        handle.remove(&id).await?;
        handle.add(id, token("c", TimeDelta::days(1)), None).await?;
    }
    assert_eq!(handle.len().await, 11);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let seen = drain(&mut events);
    assert!(seen
        .iter()
        .any(|e| matches!(e, RenewalEvent::Expired { .. })));
    assert_eq!(handle.len().await, 10, "the dead token is dropped");
    assert!(
        store.snapshot(&TokenId::new("dies")).is_none(),
        "and deleted"
    );
    assert_eq!(store.len(), 10);
    let asked = handle.valid(&TokenId::new("dies")).await;
    assert!(
        matches!(&asked, Err(e) if e.kind() == RenewalErrorKind::Expired),
        "a caller still hears why it is gone: {asked:?}"
    );
    Ok(())
}

/// 10. Replicas see each other's logins (read through) and logouts (within the
/// reconcile interval).
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn d10_replicas_see_each_others_logins_and_logouts() -> TestResult {
    let (clock, _shop, client) = simulated_shop(42 * DAY).await;
    let store = Arc::new(MemoryStore::new());
    let policy = RenewalPolicy::default().with_reconcile_interval(Duration::from_secs(30));
    let (a, _) = replica(&client, &store, &clock, policy.clone()).await?;
    let (b, _) = replica(&client, &store, &clock, policy).await?;
    let id = TokenId::new("ada");
    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    a.add(id.clone(), token.clone(), None).await?;
    assert_eq!(
        secret(&b.valid(&id).await?),
        secret(&token),
        "logged in on A, served by B"
    );
    a.remove(&id).await?;
    tokio::time::sleep(Duration::from_secs(31)).await;
    let gone = b.valid(&id).await;
    assert!(
        matches!(&gone, Err(e) if e.kind() == RenewalErrorKind::NotFound),
        "{gone:?}"
    );
    Ok(())
}

/// 11. A renewal with an earlier (still future) expiry and a new string is the
/// server's answer: taken, served, stored.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn d11_an_earlier_expiry_with_a_new_string_is_accepted() -> TestResult {
    let (clock, shop, client) = simulated_shop(42 * DAY).await;
    shop.set_renew_rotates_token(true);
    let store = Arc::new(MemoryStore::new());
    let (handle, _) = replica(&client, &store, &clock, RenewalPolicy::default()).await?;
    let id = TokenId::new("ada");
    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    handle.add(id.clone(), token.clone(), None).await?;
    tokio::time::sleep(DAY).await;
    shop.set_token_lifetime(10 * DAY);
    let renewed = handle.renew_now(&id).await?;
    assert!(renewed.expires_at() < token.expires_at(), "earlier");
    assert_ne!(secret(&renewed), secret(&token), "rotated");
    assert_eq!(secret(&handle.valid(&id).await?), secret(&renewed));
    let stored = store.snapshot(&id).ok_or("stored")?;
    assert_eq!(secret(&stored.credential), secret(&renewed));
    let next = handle.status(&id).await.and_then(|s| s.next_renewal_at());
    assert!(
        next.is_some_and(|at| at < renewed.expires_at()),
        "scheduled by it"
    );
    Ok(())
}

/// 12. Shop-level refusals (here a 401: a wrong storefront token) pause the whole
/// shop behind one breaker instead of burning attempts per token; `Retry-After`
/// is the least wait.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn d12_a_shop_level_refusal_pauses_the_shop_not_each_token() -> TestResult {
    let (clock, shop, client) = simulated_shop(42 * DAY).await;
    let store = Arc::new(MemoryStore::new());
    // Issued long ago: overdue at start.
    let ids = stored_tokens(&shop, &store, 100, clock.now() - TimeDelta::days(100)).await?;
    shop.set_random_fault(Some((
        Fault::Status {
            status: 401,
            retry_after: None,
        },
        1.0,
    )));
    let policy = RenewalPolicy::default()
        .with_starts_per_second(1_000.0)
        .with_shop_pause(Duration::from_secs(30), Duration::from_secs(600));
    let (handle, mut events) = replica(&client, &store, &clock, policy).await?;
    tokio::time::sleep(Duration::from_secs(120)).await;
    let requests = shop.requests(Operation::Renew);
    // In flight when the first 401 came back (up to the pool), then one probe
    // after 30 s and one after 60 more: not 100 tokens × their retries.
    assert!(requests <= 40, "{requests} requests while the shop refuses");
    let seen = drain(&mut events);
    let paused = seen
        .iter()
        .filter(|e| matches!(e, RenewalEvent::ShopPaused { .. }))
        .count();
    assert!((1..=3).contains(&paused), "{paused} pauses");
    for id in &ids {
        assert!(handle.valid(id).await.is_ok(), "tokens keep being served");
    }
    shop.set_random_fault(None);
    tokio::time::sleep(Duration::from_secs(1_800)).await;
    let seen = drain(&mut events);
    assert!(seen.iter().any(|e| matches!(e, RenewalEvent::ShopResumed)));
    let renewed = seen
        .iter()
        .filter(|e| matches!(e, RenewalEvent::Renewed { .. }))
        .count();
    assert_eq!(renewed, 100, "all renewed once the shop answers");

    // Retry-After: the next attempt waits at least as long as asked.
    let id = &ids[0];
    tokio::time::sleep(15 * DAY).await;
    shop.inject(
        Fault::Status {
            status: 429,
            retry_after: Some("600".into()),
        },
        1,
    );
    let before = handle.status(id).await.ok_or("held")?.expires_at();
    let failed = handle.renew_now(id).await.err().ok_or("renewed")?;
    let cause = failed
        .source_as::<storefront_token::Error>()
        .ok_or("typed")?;
    assert_eq!(cause.retry_after(), Some(Duration::from_secs(600)));
    let status = handle.status(id).await.ok_or("held")?;
    assert_eq!(status.expires_at(), before);
    let next = status.next_renewal_at().ok_or("scheduled")?;
    assert!(
        next - clock.now() >= TimeDelta::seconds(599),
        "{}",
        next - clock.now()
    );
    Ok(())
}
