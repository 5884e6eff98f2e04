//! The renewal engine against the mock Storefront, on simulated time: single
//! flight, the keeper's watch channel, restarts from a store, re-login, replicas
//! sharing a store, clock jumps.

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

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_thousand_concurrent_renewals_share_one_request() -> TestResult {
    let (_clock, shop, client) = simulated_shop(42 * DAY).await;
    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    let keeper = TokenKeeper::start(StorefrontRenewer::new(client), token).await?;
    tokio::time::sleep(DAY).await; // so the renewal moves the expiry
                                   // The renewal stays in flight (on the paused timer) until every caller has asked.
    shop.inject(Fault::Delay(Duration::from_millis(500)), 1);
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..1_000 {
        let keeper = keeper.clone();
        callers.spawn(async move { keeper.renew_now().await });
    }
    let mut renewed = Vec::new();
    while let Some(result) = callers.join_next().await {
        renewed.push(result??);
    }
    assert_eq!(
        shop.requests(Operation::Renew),
        1,
        "one mutation for 1,000 callers"
    );
    assert_eq!(renewed.len(), 1_000);
    assert!(renewed
        .iter()
        .all(|t| t.expires_at() == renewed[0].expires_at()));
    keeper.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_keeper_publishes_each_renewal_and_stops_when_dropped() -> TestResult {
    let (clock, shop, client) = simulated_shop(Duration::from_secs(60)).await;
    shop.set_renew_rotates_token(true);
    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    let first = token.access_token().clone();
    let engine = RenewalEngine::builder(StorefrontRenewer::new(client))
        .clock(clock.clone())
        .build();
    let keeper = TokenKeeper::start_with(engine, token).await?;
    let mut current = keeper.subscribe();
    let started = clock.now();
    let mut seen = Vec::new();
    for _ in 0..3 {
        current.changed().await?;
        let token: Option<CustomerAccessToken> = current.borrow_and_update().clone();
        let token = token.ok_or("the keeper lost the token")?;
        seen.push(((clock.now() - started).num_milliseconds(), token));
    }
    // A 60 s lifetime is renewed 20 s before expiry: at 40 s, 80 s, 120 s (give or
    // take the mock's whole-second expiries and the Date header's rounding).
    let times: Vec<i64> = seen.iter().map(|(at, _)| *at).collect();
    for (at, want) in times.iter().zip([40_000, 80_000, 120_000]) {
        assert!((at - want).abs() <= 2_500, "{times:?}");
    }
    assert!(
        seen.iter().all(|(_, t)| t.access_token() != &first),
        "rotated tokens are published"
    );
    assert_eq!(
        keeper.token().await?.access_token(),
        seen[2].1.access_token()
    );
    assert_eq!(shop.requests(Operation::Renew), 3);
    drop(keeper);
    drop(current);
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(
        shop.requests(Operation::Renew),
        3,
        "no renewals after the keeper is dropped"
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_restart_drains_overdue_tokens_at_the_rate_and_expires_dead_ones_for_free() -> TestResult
{
    const TOKENS: usize = 10_000;
    const RATE: f64 = 500.0;
    let (clock, shop, client) = simulated_shop(42 * DAY).await;
    let store = Arc::new(MemoryStore::new());
    let now = clock.now();
    let (mut overdue, mut expired) = (0, 0);
    for n in 0..TOKENS {
        let (secret, expires_at) = shop.issue_token(EMAIL).ok_or("no customer")?;
        let (issued_at, expires_at) = if n % 100 == 0 {
            expired += 1;
            (now - TimeDelta::days(43), now - TimeDelta::days(1))
        } else if n % 5 == 1 {
            overdue += 1;
            (now - TimeDelta::days(30), now + TimeDelta::days(12))
        } else {
            (now, expires_at)
        };
        let token = CustomerAccessToken::new(AccessToken::new(secret), expires_at);
        store
            .put(&TokenId::new(format!("c{n}")), &token, issued_at, None)
            .await?;
    }
    let calls = Arc::new(Mutex::new(HashMap::new()));
    let renewer = RecordingRenewer {
        inner: StorefrontRenewer::new(client),
        clock: clock.clone(),
        calls: Arc::clone(&calls),
    };
    let engine = RenewalEngine::builder(renewer)
        .store(Arc::clone(&store))
        .clock(clock.clone())
        .policy(RenewalPolicy::default().with_starts_per_second(RATE))
        .event_capacity(1 << 16)
        .build();
    let handle = engine.start().await?;
    let mut events = handle.events();
    tokio::time::sleep(Duration::from_secs(60)).await;
    handle.shutdown().await;

    let (mut renewed, mut expired_events) = (0, 0);
    while let Ok(Some(event)) = events.try_recv() {
        match event {
            RenewalEvent::Renewed { .. } => renewed += 1,
            RenewalEvent::Expired { .. } => expired_events += 1,
            other => return Err(format!("unexpected {other:?}").into()),
        }
    }
    assert_eq!((overdue, expired), (2_000, 100));
    assert_eq!(expired_events, expired, "every expired token is announced");
    assert_eq!(renewed, overdue, "every overdue token is renewed");
    assert_eq!(
        shop.requests(Operation::Renew),
        overdue as u64,
        "expired tokens cost no request"
    );

    let mut starts: Vec<f64> = calls
        .lock()
        .map_err(|e| e.to_string())?
        .values()
        .flatten()
        .map(|at| (*at - now).num_milliseconds() as f64 / 1000.0)
        .collect();
    starts.sort_by(f64::total_cmp);
    let drain = starts.last().copied().unwrap_or_default();
    let expected = overdue as f64 / RATE;
    assert!(
        (drain - expected).abs() <= 0.1,
        "drained in {drain} s, expected {expected} s"
    );
    for window in starts.windows(2) {
        assert!(
            window[1] - window[0] >= 1.0 / RATE - 1e-3,
            "two starts closer than the rate allows"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_rejected_token_is_replaced_by_the_relogin_hook() -> TestResult {
    let (clock, shop, client) = simulated_shop(42 * DAY).await;
    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    shop.revoke_token(token.access_token().expose_secret());
    let login = client.clone();
    let engine = RenewalEngine::builder(StorefrontRenewer::new(client))
        .clock(clock.clone())
        .relogin(move |_id| {
            let login = login.clone();
            async move { Ok(login.create_token(EMAIL, &Password::new(PASSWORD)).await?) }
        })
        .build();
    let handle = engine.start().await?;
    let mut events = handle.events();
    let id = TokenId::new("ada");
    handle.add(id.clone(), token, None).await?;
    let error = handle
        .renew_now(&id)
        .await
        .err()
        .ok_or("a revoked token renewed")?;
    assert_eq!(error.kind(), RenewalErrorKind::Rejected);
    assert!(error.must_log_in_again());
    let mut names = Vec::new();
    while names.last() != Some(&"LoggedInAgain") {
        names.push(match events.recv().await? {
            RenewalEvent::RenewalFailed {
                transient: false, ..
            } => "RenewalFailed",
            RenewalEvent::Rejected { .. } => "Rejected",
            RenewalEvent::LoggedInAgain { .. } => "LoggedInAgain",
            other => return Err(format!("unexpected {other:?}").into()),
        });
    }
    assert_eq!(names, ["RenewalFailed", "Rejected", "LoggedInAgain"]);
    let status = handle.status(&id).await.ok_or("token gone")?;
    assert_eq!(status.state(), TokenState::Scheduled);
    assert_eq!(shop.requests(Operation::Create), 2);
    handle.shutdown().await;
    Ok(())
}

/// One replica of a storefront backend: an engine on the shared `store`.
async fn replica(
    client: storefront_token::StorefrontClient,
    store: &Arc<MemoryStore<CustomerAccessToken>>,
    clock: &storefront_token::mock::SimulatedClock,
) -> Result<storefront_token::renewal::RenewalHandle<CustomerAccessToken>, Box<dyn std::error::Error>>
{
    let engine = RenewalEngine::builder(StorefrontRenewer::new(client))
        .store(Arc::clone(store))
        .clock(clock.clone())
        .build();
    Ok(engine.start().await?)
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn replicas_sharing_a_store_adopt_each_others_renewals() -> TestResult {
    let (clock, shop, client) = simulated_shop(42 * DAY).await;
    let store = Arc::new(MemoryStore::new());
    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    let first = replica(client.clone(), &store, &clock).await?;
    let id = TokenId::new("ada");
    first.add(id.clone(), token, None).await?;
    let second = replica(client, &store, &clock).await?;
    let mut second_events = second.events();
    tokio::time::sleep(DAY).await;
    // The first replica renews; the second, holding the old version, sees the
    // store move on within its reconcile interval and adopts the renewal,
    // sending nothing itself.
    let renewed = first.renew_now(&id).await?;
    tokio::time::sleep(Duration::from_secs(5 * 60 + 1)).await; // the reconcile interval
    let adopted = second.status(&id).await.ok_or("held")?;
    assert_eq!(
        adopted.expires_at(),
        renewed.expires_at(),
        "the stored token wins"
    );
    assert!(matches!(
        second_events.recv().await?,
        RenewalEvent::AdoptedFromStore { .. }
    ));
    assert_eq!(shop.requests(Operation::Renew), 1);
    first.shutdown().await;
    second.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_token_another_replica_removed_is_dropped_not_written_back() -> TestResult {
    let (clock, shop, client) = simulated_shop(42 * DAY).await;
    let store = Arc::new(MemoryStore::new());
    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    let first = replica(client.clone(), &store, &clock).await?;
    let id = TokenId::new("ada");
    first.add(id.clone(), token, None).await?;
    let second = replica(client, &store, &clock).await?;
    let mut first_events = first.events();
    // The customer logs out through the second replica.
    second.remove(&id).await?;
    assert!(store.is_empty());
    tokio::time::sleep(DAY).await;
    // The first replica's renewal asks the store for the lease, finds the token
    // gone, sends nothing and lets it go.
    let renewal = first.renew_now(&id).await;
    assert!(
        matches!(&renewal, Err(e) if e.kind() == RenewalErrorKind::NotFound),
        "{renewal:?}"
    );
    assert_eq!(
        shop.requests(Operation::Renew),
        0,
        "nothing sent for a logout"
    );
    assert!(store.is_empty(), "not written back");
    let event = first_events.recv().await?;
    assert!(
        matches!(&event, RenewalEvent::Removed { id: gone } if *gone == id),
        "{event:?}"
    );
    assert!(first.status(&id).await.is_none());
    first.shutdown().await;
    second.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_suspend_is_noticed_within_a_heartbeat_and_due_renewals_run() -> TestResult {
    let (clock, shop, client) = simulated_shop(Duration::from_secs(3_600)).await;
    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    let engine = RenewalEngine::builder(StorefrontRenewer::new(client))
        .clock(clock.clone())
        .build();
    let handle = engine.start().await?;
    let mut events = handle.events();
    handle.add(TokenId::new("ada"), token, None).await?;
    // Sleep through most of the lifetime while "suspended": wall time jumps, the
    // timers do not move.
    clock.jump(TimeDelta::minutes(50));
    tokio::time::sleep(Duration::from_secs(31)).await;
    let jump = events.recv().await?;
    assert!(
        matches!(jump, RenewalEvent::ClockJump { jump } if jump >= TimeDelta::minutes(49)),
        "{jump:?}"
    );
    assert!(matches!(events.recv().await?, RenewalEvent::Renewed { .. }));
    assert_eq!(shop.requests(Operation::Renew), 1);
    handle.shutdown().await;
    Ok(())
}

/// Panics on its first renewal, then renews through the wrapped renewer.
struct PanicsOnce {
    inner: StorefrontRenewer,
    panicked: std::sync::atomic::AtomicBool,
}

impl storefront_token::renewal::Renewable for PanicsOnce {
    type Credential = CustomerAccessToken;
    type Error = storefront_token::Error;

    fn expires_at(&self, token: &CustomerAccessToken) -> chrono::DateTime<chrono::Utc> {
        self.inner.expires_at(token)
    }

    async fn renew(&self, token: &CustomerAccessToken) -> Result<CustomerAccessToken, Self::Error> {
        if !self
            .panicked
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            panic!("a bug in the renewer");
        }
        self.inner.renew(token).await
    }

    fn classify(&self, error: &Self::Error) -> storefront_token::renewal::FailureClass {
        self.inner.classify(error)
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_panicking_renewal_is_a_transient_failure_and_is_retried() -> TestResult {
    let (clock, shop, client) = simulated_shop(Duration::from_secs(600)).await;
    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    let renewer = PanicsOnce {
        inner: StorefrontRenewer::new(client),
        panicked: std::sync::atomic::AtomicBool::new(false),
    };
    let engine = RenewalEngine::builder(renewer).clock(clock.clone()).build();
    let handle = engine.start().await?;
    let mut events = handle.events();
    let id = TokenId::new("customer-1");
    handle
        .add(id.clone(), token.clone(), Some(clock.now()))
        .await?;
    let failed = events.recv().await?;
    assert!(
        matches!(
            &failed,
            RenewalEvent::RenewalFailed { transient: true, next_attempt_at: Some(_), error, .. }
                if storefront_token::ErrorReport::new(error).to_string().contains("panicked")
        ),
        "{failed:?}"
    );
    assert_eq!(shop.requests(Operation::Renew), 0, "the panic came first");
    let renewed = events.recv().await?;
    assert!(
        matches!(&renewed, RenewalEvent::Renewed { expires_at, .. } if *expires_at > token.expires_at()),
        "{renewed:?}"
    );
    assert_eq!(shop.requests(Operation::Renew), 1);
    handle.shutdown().await;
    Ok(())
}

/// Holds `count` tokens `{prefix}0`, `{prefix}1`, … (each with its own secret),
/// all issued at `issued_at` and expiring at `expires_at`.
async fn add_tokens(
    handle: &storefront_token::renewal::RenewalHandle<CustomerAccessToken>,
    prefix: &str,
    count: usize,
    expires_at: chrono::DateTime<chrono::Utc>,
    issued_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), storefront_token::renewal::RenewalError> {
    for n in 0..count {
        let id = format!("{prefix}{n}");
        let token = CustomerAccessToken::new(AccessToken::new(format!("{id}-secret")), expires_at);
        handle.add(TokenId::new(id), token, Some(issued_at)).await?;
    }
    Ok(())
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_on_two_threads_renew_every_overdue_token_exactly_once() -> TestResult {
    const TOKENS: usize = 5_000;
    let store = Arc::new(MemoryStore::new());
    let renewer = CountingRenewer::default();
    let engine = RenewalEngine::builder(renewer.clone())
        .store(Arc::clone(&store))
        .policy(
            RenewalPolicy::default()
                .with_starts_per_second(1e9)
                .with_max_in_flight(8),
        )
        .event_capacity(TOKENS * 2)
        .build();
    let handle = engine.start().await?;
    // Subscribed before any token is held, so no event is missed.
    let mut events = handle.events();
    let now = chrono::Utc::now();
    // Issued 30 days ago with 12 left: overdue at once.
    add_tokens(
        &handle,
        "c",
        TOKENS,
        now + TimeDelta::days(12),
        now - TimeDelta::days(30),
    )
    .await?;
    let mut renewed = std::collections::HashSet::new();
    let waited = tokio::time::timeout(Duration::from_secs(60), async {
        while renewed.len() < TOKENS {
            match events.recv().await {
                Ok(RenewalEvent::Renewed { id, .. }) => {
                    renewed.insert(id);
                }
                Ok(other) => return Err(format!("unexpected event {other:?}")),
                Err(error) => return Err(error.to_string()),
            }
        }
        Ok(())
    })
    .await;
    handle.shutdown().await;
    waited.map_err(|_| "the drain did not finish")??;
    let calls = renewer.calls.lock().map_err(|_| "poisoned")?.clone();
    assert_eq!(calls.len(), TOKENS, "every token renewed");
    assert!(calls.values().all(|&n| n == 1), "none renewed twice");
    let stored = store.load_all().await?;
    assert!(stored
        .iter()
        .all(|(_, token)| token.credential.expires_at() > now + TimeDelta::days(40)));
    // Versions are store-wide: one write per login and one per renewal.
    let last = stored.iter().map(|(_, token)| token.version).max();
    assert_eq!(last, Some(2 * TOKENS as u64), "one write per renewal");
    Ok(())
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

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn renewals_made_due_by_a_jump_run_side_by_side() -> TestResult {
    let clock = storefront_token::mock::SimulatedClock::new(chrono::Utc::now());
    let renewer = SlowRenewer {
        clock: clock.clone(),
        delay: Duration::from_secs(1),
        running: Arc::default(),
        most: Arc::default(),
    };
    let engine = RenewalEngine::builder(renewer.clone())
        .clock(clock.clone())
        .policy(
            RenewalPolicy::default()
                .with_max_in_flight(8)
                .with_starts_per_second(1_000.0),
        )
        .build();
    let handle = engine.start().await?;
    let mut events = handle.events();
    let now = clock.now();
    let token = |n: usize, hours| {
        CustomerAccessToken::new(
            AccessToken::new(format!("token-{n}")),
            now + TimeDelta::hours(hours),
        )
    };
    // One renewal runs at once; eight more fall due 20 hours from now.
    handle
        .add(
            TokenId::new("now"),
            token(99, 4),
            Some(now - TimeDelta::hours(20)),
        )
        .await?;
    for n in 0..8 {
        handle
            .add(TokenId::new(format!("t{n}")), token(n, 24), Some(now))
            .await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The wall clock jumps while that renewal runs: when it finishes, its worker
    // finds all eight due, and the idle workers must take their share.
    clock.jump(TimeDelta::hours(20));
    let jumped = tokio::time::Instant::now();
    let mut renewed = 0;
    while renewed < 9 {
        if let RenewalEvent::Renewed { .. } = events.recv().await? {
            renewed += 1;
        }
    }
    assert_eq!(
        renewer.most.load(std::sync::atomic::Ordering::SeqCst),
        8,
        "the eight ran side by side"
    );
    assert!(
        jumped.elapsed() < Duration::from_secs(3),
        "{:?}",
        jumped.elapsed()
    );
    handle.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_panicking_relogin_hook_is_called_once_and_the_token_stays_expired() -> TestResult {
    let clock = storefront_token::mock::SimulatedClock::new(chrono::Utc::now());
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let now = clock.now();
    let store = one_expired_token(now).await?;
    let engine = RenewalEngine::builder(CountingRenewer::default())
        .clock(clock.clone())
        .store(Arc::clone(&store))
        .relogin(move |_| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                tokio::task::yield_now().await;
                panic!("a bug in the re-login hook")
            }
        })
        .build();
    let mut events = engine.events();
    let handle = engine.start().await?;
    let id = TokenId::new("gone0");
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(matches!(events.recv().await?, RenewalEvent::Expired { .. }));
    assert!(matches!(
        events.recv().await?,
        RenewalEvent::NotLoggedInAgain { .. }
    ));
    assert!(
        handle.status(&id).await.is_none(),
        "dropped after its event"
    );
    assert!(store.is_empty(), "and deleted from the store");
    handle.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_renewer_that_never_waits_still_lets_other_tasks_run() -> TestResult {
    const TOKENS: usize = 2_000;
    let store = Arc::new(MemoryStore::new());
    let now = chrono::Utc::now();
    for n in 0..TOKENS {
        let token = CustomerAccessToken::new(
            AccessToken::new(format!("token-{n}")),
            now + TimeDelta::days(12),
        );
        store
            .put(
                &TokenId::new(format!("c{n}")),
                &token,
                now - TimeDelta::days(30),
                None,
            )
            .await?;
    }
    #[derive(Clone, Default)]
    struct Immediate(Arc<std::sync::atomic::AtomicUsize>);
    impl storefront_token::renewal::Renewable for Immediate {
        type Credential = CustomerAccessToken;
        type Error = std::io::Error;
        fn expires_at(&self, token: &CustomerAccessToken) -> chrono::DateTime<chrono::Utc> {
            token.expires_at()
        }
        async fn renew(
            &self,
            token: &CustomerAccessToken,
        ) -> Result<CustomerAccessToken, Self::Error> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(CustomerAccessToken::new(
                token.access_token().clone(),
                token.expires_at() + TimeDelta::days(30),
            ))
        }
    }
    let renewer = Immediate::default();
    let engine = RenewalEngine::builder(renewer.clone())
        .store(store)
        .policy(
            RenewalPolicy::default()
                .with_starts_per_second(1e9)
                .with_max_in_flight(1),
        )
        .build();
    let handle = engine.start().await?;
    // The worker runs first; when this task next gets a turn, the drain must not
    // be over: the worker gave way on the way.
    tokio::task::yield_now().await;
    let done = renewer.0.load(std::sync::atomic::Ordering::SeqCst);
    assert!(done > 0 && done < TOKENS, "{done} renewed before yielding");
    handle.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_caller_waiting_on_a_relogin_that_finds_nothing_is_answered() -> TestResult {
    let clock = storefront_token::mock::SimulatedClock::new(chrono::Utc::now());
    let now = clock.now();
    let store = one_expired_token(now).await?;
    let engine = RenewalEngine::builder(CountingRenewer::default())
        .clock(clock.clone())
        .store(store)
        .relogin(|_| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Err(storefront_token::renewal::ReloginError::give_up())
        })
        .build();
    let mut events = engine.events();
    let handle = engine.start().await?;
    let id = TokenId::new("gone0");
    // The re-login is under way (it takes 5 s); a caller asks meanwhile and is
    // told at once: an expired token is never handed out, nor renewed.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let status = handle.status(&id).await.ok_or("held")?;
    assert_eq!(status.state(), TokenState::Expired);
    let answer = tokio::time::timeout(Duration::from_secs(60), handle.renew_now(&id)).await?;
    assert!(
        matches!(&answer, Err(e) if e.kind() == RenewalErrorKind::Expired),
        "{answer:?}"
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    let mut seen = Vec::new();
    while let Some(event) = events.try_recv()? {
        seen.push(event);
    }
    assert!(
        seen.iter()
            .any(|e| matches!(e, RenewalEvent::NotLoggedInAgain { id: gone, .. } if *gone == id)),
        "{seen:?}"
    );
    handle.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn relogins_start_under_the_rate_limit_after_due_renewals() -> TestResult {
    let clock = storefront_token::mock::SimulatedClock::new(chrono::Utc::now());
    let logins = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&logins);
    let login_clock = clock.clone();
    let renewer = CountingRenewer::default();
    let now = clock.now();
    let store = Arc::new(MemoryStore::new());
    store_tokens(
        &store,
        "x",
        200,
        now - TimeDelta::seconds(1),
        now - TimeDelta::hours(1),
    )
    .await?;
    store_tokens(
        &store,
        "v",
        5,
        now + TimeDelta::days(1),
        now - TimeDelta::days(41),
    )
    .await?;
    let engine = RenewalEngine::builder(renewer.clone())
        .clock(clock.clone())
        .policy(
            RenewalPolicy::default()
                .with_starts_per_second(2.0)
                .with_max_in_flight(8),
        )
        .relogin(move |_| {
            let at = tokio::time::Instant::now();
            if let Ok(mut logins) = recorded.lock() {
                logins.push(at);
            }
            let expires = login_clock.now() + TimeDelta::days(42);
            async move { Ok(CustomerAccessToken::new(AccessToken::new("fresh"), expires)) }
        })
        .store(Arc::clone(&store))
        .build();
    let mut events = engine.events();
    let handle = engine.start().await?;
    let started = tokio::time::Instant::now();
    // The five valid tokens are renewed first, at the rate.
    let mut renewed = 0;
    while renewed < 5 {
        if let RenewalEvent::Renewed { .. } = events.recv().await? {
            renewed += 1;
        }
    }
    assert!(
        started.elapsed() <= Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    let logins = logins.lock().map_err(|_| "poisoned")?.clone();
    let early = logins
        .iter()
        .filter(|&&at| at - started <= Duration::from_secs(10))
        .count();
    // 2 starts a second: about 20 starts in 10 s, shared with the 5 renewals.
    assert!(
        (10..=17).contains(&early),
        "{early} re-logins in the first 10 s"
    );
    handle.shutdown().await;
    Ok(())
}

/// A clock that panics once told to: caller code breaking its contract under
/// the engine's lock.
#[derive(Debug, Clone)]
struct BreakableClock {
    inner: storefront_token::mock::SimulatedClock,
    broken: Arc<std::sync::atomic::AtomicBool>,
}

impl Clock for BreakableClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        assert!(
            !self.broken.load(std::sync::atomic::Ordering::SeqCst),
            "a broken clock"
        );
        self.inner.now()
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_panic_under_the_engines_lock_stops_it_and_every_caller_hears() -> TestResult {
    let inner = storefront_token::mock::SimulatedClock::new(chrono::Utc::now());
    let clock = BreakableClock {
        inner: inner.clone(),
        broken: Arc::default(),
    };
    let renewer = SlowRenewer {
        clock: inner.clone(),
        delay: Duration::from_secs(1),
        running: Arc::default(),
        most: Arc::default(),
    };
    let engine = RenewalEngine::builder(renewer)
        .clock(clock.clone())
        .policy(RenewalPolicy::default().with_max_in_flight(1))
        .build();
    let handle = engine.start().await?;
    let now = inner.now();
    let token = |name: &str, hours| {
        CustomerAccessToken::new(AccessToken::new(name), now + TimeDelta::hours(hours))
    };
    handle
        .add(
            TokenId::new("due"),
            token("due", 4),
            Some(now - TimeDelta::hours(20)),
        )
        .await?;
    handle
        .add(TokenId::new("later"), token("later", 24), Some(now))
        .await?;
    tokio::time::sleep(Duration::from_millis(100)).await; // "due" is being renewed
    clock
        .broken
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let answer = tokio::time::timeout(
        Duration::from_secs(600),
        handle.renew_now(&TokenId::new("later")),
    )
    .await?;
    assert!(
        matches!(&answer, Err(e) if e.kind() == RenewalErrorKind::Stopped),
        "{answer:?}"
    );
    tokio::time::timeout(Duration::from_secs(600), handle.shutdown()).await?;
    let late = handle.renew_now(&TokenId::new("due")).await;
    assert!(
        matches!(&late, Err(e) if e.kind() == RenewalErrorKind::Stopped),
        "{late:?}"
    );
    Ok(())
}
