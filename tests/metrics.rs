//! The engine's metrics (feature `metrics`), recorded by a debugging recorder
//! set for this thread only, against the mock Storefront on paused time: each
//! test drives one situation and checks the counts against the shop's own
//! request counter and the engine's events.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ::metrics::Unit;
use chrono::{DateTime, TimeDelta, Utc};
use common::{simulated_shop, EMAIL};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::MetricKind;
use storefront_token::mock::{Fault, MockStorefront};
use storefront_token::renewal::metrics as names;
use storefront_token::renewal::{
    EventReceiver, LeaseOutcome, MemoryStore, PutOutcome, ReloginError, RenewalEngine,
    RenewalEvent, RenewalPolicy, ReplicaId, StoreError, StoredToken, StorefrontRenewer, TokenId,
    TokenStore,
};
use storefront_token::{AccessToken, Clock, CustomerAccessToken, Operation};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const DAY: Duration = Duration::from_secs(86_400);

/// What the recorder saw, summed over snapshots: the debugging recorder hands
/// out counter and gauge changes since the last snapshot (the engine moves its
/// gauges by differences), and histogram samples since then.
struct Seen {
    snapshotter: Snapshotter,
    counters: HashMap<String, u64>,
    gauges: HashMap<String, f64>,
    histograms: HashMap<String, Vec<f64>>,
    described: HashMap<String, Option<Unit>>,
}

/// `name{key=value,…}`, labels sorted.
fn key(name: &str, labels: &[(&str, &str)]) -> String {
    let mut labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    labels.sort();
    format!("{name}{{{}}}", labels.join(","))
}

impl Seen {
    fn new(recorder: &DebuggingRecorder) -> Self {
        Self {
            snapshotter: recorder.snapshotter(),
            counters: HashMap::new(),
            gauges: HashMap::new(),
            histograms: HashMap::new(),
            described: HashMap::new(),
        }
    }

    fn update(&mut self) {
        for (composite, unit, description, value) in self.snapshotter.snapshot().into_vec() {
            let metric = composite.key();
            let labels: Vec<(&str, &str)> = metric.labels().map(|l| (l.key(), l.value())).collect();
            let name = key(metric.name(), &labels);
            if description.is_some() {
                self.described.insert(metric.name().to_owned(), unit);
            }
            match (composite.kind(), value) {
                (MetricKind::Counter, DebugValue::Counter(n)) => {
                    *self.counters.entry(name).or_default() += n;
                }
                (MetricKind::Gauge, DebugValue::Gauge(x)) => {
                    *self.gauges.entry(name).or_default() += x.into_inner();
                }
                (MetricKind::Histogram, DebugValue::Histogram(xs)) => self
                    .histograms
                    .entry(name)
                    .or_default()
                    .extend(xs.into_iter().map(|x| x.into_inner())),
                _ => {}
            }
        }
    }

    fn counter(&mut self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.update();
        self.counters.get(&key(name, labels)).copied().unwrap_or(0)
    }

    fn renewals(&mut self, outcome: &str) -> u64 {
        self.counter(names::RENEWALS, &[(names::OUTCOME, outcome)])
    }

    fn gauge(&mut self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.update();
        self.gauges.get(&key(name, labels)).copied().unwrap_or(0.0)
    }

    fn tokens(&mut self, state: &str) -> f64 {
        self.gauge(names::TOKENS, &[(names::STATE, state)])
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        self.update();
        self.histograms
            .get(&key(name, labels))
            .cloned()
            .unwrap_or_default()
    }
}

fn events(receiver: &mut EventReceiver) -> Vec<RenewalEvent> {
    let mut seen = Vec::new();
    while let Ok(Some(event)) = receiver.try_recv() {
        seen.push(event);
    }
    seen
}

/// `count` tokens the shop issued (lifetime as set up), stored as issued now.
async fn stored_tokens<S: TokenStore<CustomerAccessToken>>(
    shop: &MockStorefront,
    store: &S,
    count: usize,
    issued_at: DateTime<Utc>,
) -> Result<Vec<(TokenId, u64)>, Box<dyn std::error::Error>> {
    let mut ids = Vec::new();
    for n in 0..count {
        let (secret, expires_at) = shop.issue_token(EMAIL).ok_or("no customer")?;
        let token = CustomerAccessToken::new(AccessToken::new(secret), expires_at);
        let id = TokenId::new(format!("customer-{n}"));
        match store.put(&id, &token, issued_at, None).await? {
            PutOutcome::Stored { version } => ids.push((id, version)),
            _ => return Err("not stored".into()),
        }
    }
    Ok(ids)
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn renewals_time_left_lateness_and_tokens_are_counted() -> TestResult {
    const TOKENS: usize = 20;
    let recorder = DebuggingRecorder::new();
    let mut seen = Seen::new(&recorder);
    let _local = ::metrics::set_default_local_recorder(&recorder);
    let (clock, shop, client) = simulated_shop(DAY).await;
    let store = Arc::new(MemoryStore::new());
    stored_tokens(&shop, &*store, TOKENS, clock.now()).await?;
    let handle = RenewalEngine::builder(StorefrontRenewer::new(client))
        .store(Arc::clone(&store))
        .clock(clock.clone())
        .build()
        .start()
        .await?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(seen.tokens("scheduled"), TOKENS as f64);
    assert_eq!(seen.renewals("renewed"), 0);

    // Renewed between 55 % and 70 % of the day, each once.
    tokio::time::sleep(DAY.mul_f64(0.8)).await;
    assert_eq!(shop.requests(Operation::Renew), TOKENS as u64);
    assert_eq!(seen.renewals("renewed"), TOKENS as u64);
    assert_eq!(seen.counter(names::RETRIES, &[]), 0);
    let left = seen.histogram(names::TIME_LEFT, &[]);
    assert_eq!(left.len(), TOKENS, "{left:?}");
    let day = DAY.as_secs_f64();
    // Whole-second expiries and the Date header's rounding: a few seconds.
    assert!(
        left.iter()
            .all(|&s| (0.30 * day - 5.0..=0.45 * day + 5.0).contains(&s)),
        "{left:?}"
    );
    let late = seen.histogram(names::START_LATENESS, &[]);
    assert_eq!(late.len(), TOKENS, "{late:?}");
    assert!(late.iter().all(|&s| (0.0..2.0).contains(&s)), "{late:?}");
    let op = |op| [(names::OP, op)];
    assert_eq!(
        seen.histogram(names::STORE_LATENCY, &op("try_lease")).len(),
        TOKENS
    );
    assert_eq!(
        seen.histogram(names::STORE_LATENCY, &op("put")).len(),
        TOKENS
    );
    assert_eq!(
        seen.histogram(names::STORE_LATENCY, &op("load_all")).len(),
        1
    );
    assert!(!seen
        .histogram(names::STORE_LATENCY, &op("versions"))
        .is_empty());
    for op in ["load_all", "versions", "get", "put", "try_lease"] {
        assert_eq!(
            seen.counter(names::STORE_ERRORS, &[(names::OP, op)]),
            0,
            "{op}"
        );
    }
    assert_eq!(seen.tokens("scheduled"), TOKENS as f64);
    assert_eq!(seen.gauge(names::BREAKER_OPEN, &[]), 0.0);

    // Every metric is described; the histograms are in seconds.
    for name in names::ALL {
        assert!(seen.described.contains_key(name), "{name} not described");
    }
    for name in [
        names::TIME_LEFT,
        names::START_LATENESS,
        names::STORE_LATENCY,
    ] {
        assert_eq!(seen.described[name], Some(Unit::Seconds), "{name}");
    }

    handle.shutdown().await;
    assert_eq!(seen.tokens("scheduled"), 0.0, "a stopped engine holds none");
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_failing_shop_counts_transient_failures_and_retries() -> TestResult {
    let recorder = DebuggingRecorder::new();
    let mut seen = Seen::new(&recorder);
    let _local = ::metrics::set_default_local_recorder(&recorder);
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
    let handle = RenewalEngine::builder(StorefrontRenewer::new(client))
        .store(Arc::clone(&store))
        .clock(clock.clone())
        .build()
        .start()
        .await?;
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

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_lease_held_or_changed_by_another_replica_is_contention() -> TestResult {
    let recorder = DebuggingRecorder::new();
    let mut seen = Seen::new(&recorder);
    let _local = ::metrics::set_default_local_recorder(&recorder);
    let (clock, shop, client) = simulated_shop(DAY).await;
    let store = Arc::new(MemoryStore::new());
    let ids = stored_tokens(&shop, &*store, 1, clock.now()).await?;
    let id = &ids[0].0;
    let handle = RenewalEngine::builder(StorefrontRenewer::new(client))
        .store(Arc::clone(&store))
        .clock(clock.clone())
        // No reconciling pass to notice the other replica's write first.
        .policy(RenewalPolicy::default().with_reconcile_interval(10 * DAY))
        .build()
        .start()
        .await?;
    let other = ReplicaId::random();

    // Another replica takes the lease just before the renewal is due, for 2 min.
    let status = handle.status(id).await.ok_or("held")?;
    let due = status.next_renewal_at().ok_or("scheduled")?;
    tokio::time::sleep((due - clock.now() - TimeDelta::seconds(1)).to_std()?).await;
    let lease = store
        .try_lease(id, other, Duration::from_secs(120), status.version())
        .await?;
    assert!(matches!(lease, LeaseOutcome::Acquired));
    tokio::time::sleep(Duration::from_secs(300)).await;
    let held = seen.counter(names::LEASE_CONTENTION, &[(names::RESULT, "held")]);
    assert!(held >= 1, "{held}");
    assert_eq!(seen.renewals("lease_held"), held);
    assert_eq!(shop.requests(Operation::Renew), 1, "renewed once it lapsed");
    assert_eq!(seen.renewals("renewed"), 1);
    assert_eq!(seen.counter(names::RETRIES, &[]), 0, "no attempt failed");

    // Another replica writes a newer token just before the next renewal.
    let status = handle.status(id).await.ok_or("held")?;
    let due = status.next_renewal_at().ok_or("scheduled")?;
    tokio::time::sleep((due - clock.now() - TimeDelta::seconds(1)).to_std()?).await;
    let (secret, expires_at) = shop.issue_token(EMAIL).ok_or("no customer")?;
    let newer = CustomerAccessToken::new(AccessToken::new(secret), expires_at);
    store
        .put(id, &newer, clock.now(), Some(status.version()))
        .await?;
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(
        seen.counter(names::LEASE_CONTENTION, &[(names::RESULT, "changed")]),
        1
    );
    assert_eq!(seen.renewals("adopted"), 1);
    assert_eq!(shop.requests(Operation::Renew), 1, "adopted, not renewed");
    handle.shutdown().await;
    Ok(())
}

/// A store that can go down: every call fails while `down`.
#[derive(Default)]
struct FlakyStore {
    inner: MemoryStore<CustomerAccessToken>,
    down: AtomicBool,
}

impl FlakyStore {
    fn up(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::new("connection refused", None))
        } else {
            Ok(())
        }
    }
}

impl TokenStore<CustomerAccessToken> for FlakyStore {
    async fn load_all(
        &self,
    ) -> Result<Vec<(TokenId, StoredToken<CustomerAccessToken>)>, StoreError> {
        self.up()?;
        self.inner.load_all().await
    }

    async fn versions(&self) -> Result<Vec<(TokenId, u64)>, StoreError> {
        self.up()?;
        self.inner.versions().await
    }

    async fn get(
        &self,
        id: &TokenId,
    ) -> Result<Option<StoredToken<CustomerAccessToken>>, StoreError> {
        self.up()?;
        self.inner.get(id).await
    }

    async fn put(
        &self,
        id: &TokenId,
        credential: &CustomerAccessToken,
        issued_at: DateTime<Utc>,
        expected_version: Option<u64>,
    ) -> Result<PutOutcome<CustomerAccessToken>, StoreError> {
        self.up()?;
        self.inner
            .put(id, credential, issued_at, expected_version)
            .await
    }

    async fn try_lease(
        &self,
        id: &TokenId,
        owner: ReplicaId,
        duration: Duration,
        expected_version: u64,
    ) -> Result<LeaseOutcome<CustomerAccessToken>, StoreError> {
        self.up()?;
        self.inner
            .try_lease(id, owner, duration, expected_version)
            .await
    }

    async fn release_lease(
        &self,
        id: &TokenId,
        owner: ReplicaId,
        version: u64,
    ) -> Result<(), StoreError> {
        self.up()?;
        self.inner.release_lease(id, owner, version).await
    }

    async fn delete(&self, id: &TokenId, expected_version: Option<u64>) -> Result<(), StoreError> {
        self.up()?;
        self.inner.delete(id, expected_version).await
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_unreachable_store_counts_errors_and_one_renewal_without_the_lease() -> TestResult {
    let recorder = DebuggingRecorder::new();
    let mut seen = Seen::new(&recorder);
    let _local = ::metrics::set_default_local_recorder(&recorder);
    let (clock, shop, client) = simulated_shop(DAY).await;
    let store = Arc::new(FlakyStore::default());
    stored_tokens(&shop, &store.inner, 1, clock.now()).await?;
    let engine = RenewalEngine::builder(StorefrontRenewer::new(client))
        .store(Arc::clone(&store))
        .clock(clock.clone())
        .build();
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
    let recorder = DebuggingRecorder::new();
    let mut seen = Seen::new(&recorder);
    let _local = ::metrics::set_default_local_recorder(&recorder);
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
    let handle = RenewalEngine::builder(StorefrontRenewer::new(client))
        .store(Arc::clone(&store))
        .clock(clock.clone())
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

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn tokens_are_counted_by_state() -> TestResult {
    let recorder = DebuggingRecorder::new();
    let mut seen = Seen::new(&recorder);
    let _local = ::metrics::set_default_local_recorder(&recorder);
    let (clock, shop, client) = simulated_shop(DAY).await;
    let store = Arc::new(MemoryStore::new());
    let ids = stored_tokens(&shop, &*store, 3, clock.now()).await?;
    // One expired in the store.
    let dead = CustomerAccessToken::new(AccessToken::new("old"), clock.now() - TimeDelta::hours(1));
    let when = clock.now() - TimeDelta::days(2);
    store
        .put(&TokenId::new("expired"), &dead, when, None)
        .await?;
    // Re-logins that never succeed keep dead tokens held, waiting.
    let handle = RenewalEngine::builder(StorefrontRenewer::new(client))
        .store(Arc::clone(&store))
        .clock(clock.clone())
        .relogin(|_| async { Err(ReloginError::retry_later("the customer is away")) })
        .build()
        .start()
        .await?;
    // One the shop revoked: renewing it now finds it rejected.
    let revoked = handle.valid(&ids[0].0).await?;
    assert!(shop.revoke_token(revoked.access_token().expose_secret()));
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert!(handle.renew_now(&ids[0].0).await.is_err());
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(seen.tokens("scheduled"), 2.0);
    assert_eq!(seen.tokens("renewing"), 0.0);
    assert_eq!(seen.tokens("expired"), 1.0);
    assert_eq!(seen.tokens("rejected"), 1.0);
    assert_eq!(seen.renewals("rejected"), 1);
    assert_eq!(seen.renewals("expired"), 1);
    handle.shutdown().await;
    for state in ["scheduled", "renewing", "expired", "rejected"] {
        assert_eq!(seen.tokens(state), 0.0, "{state}");
    }
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn two_engines_add_up_and_each_takes_its_share_away() -> TestResult {
    let recorder = DebuggingRecorder::new();
    let mut seen = Seen::new(&recorder);
    let _local = ::metrics::set_default_local_recorder(&recorder);
    let (clock, shop, client) = simulated_shop(DAY).await;
    let (first_store, second_store) = (Arc::new(MemoryStore::new()), Arc::new(MemoryStore::new()));
    stored_tokens(&shop, &*first_store, 2, clock.now()).await?;
    stored_tokens(&shop, &*second_store, 3, clock.now()).await?;
    let start = |store: Arc<MemoryStore<CustomerAccessToken>>| {
        RenewalEngine::builder(StorefrontRenewer::new(client.clone()))
            .store(store)
            .clock(clock.clone())
            .build()
            .start()
    };
    let first = start(first_store).await?;
    let second = start(second_store).await?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(seen.tokens("scheduled"), 5.0);
    first.shutdown().await;
    assert_eq!(seen.tokens("scheduled"), 3.0);
    second.shutdown().await;
    assert_eq!(seen.tokens("scheduled"), 0.0);
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_renewal_in_flight_counts_as_renewing() -> TestResult {
    let recorder = DebuggingRecorder::new();
    let mut seen = Seen::new(&recorder);
    let _local = ::metrics::set_default_local_recorder(&recorder);
    let (clock, shop, client) = simulated_shop(DAY).await;
    let store = Arc::new(MemoryStore::new());
    let ids = stored_tokens(&shop, &*store, 1, clock.now()).await?;
    let handle = RenewalEngine::builder(StorefrontRenewer::new(client))
        .store(Arc::clone(&store))
        .clock(clock.clone())
        // The driver looks every second; the gauge follows.
        .policy(RenewalPolicy::default().with_heartbeat(Duration::from_secs(1)))
        .build()
        .start()
        .await?;
    // The shop takes 8 s to answer (within the client's timeout): the driver's
    // heartbeats meanwhile count the token as renewing.
    shop.inject(Fault::Delay(Duration::from_secs(8)), 1);
    let renewing = {
        let handle = handle.clone();
        let id = ids[0].0.clone();
        tokio::spawn(async move { handle.renew_now(&id).await })
    };
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(seen.tokens("renewing"), 1.0);
    assert_eq!(seen.tokens("scheduled"), 0.0);
    renewing.await??;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(seen.tokens("renewing"), 0.0);
    assert_eq!(seen.tokens("scheduled"), 1.0);
    assert_eq!(seen.renewals("renewed"), 1);
    assert_eq!(shop.requests(Operation::Renew), 1);
    handle.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_renewal_for_a_token_replaced_meanwhile_is_moot() -> TestResult {
    let recorder = DebuggingRecorder::new();
    let mut seen = Seen::new(&recorder);
    let _local = ::metrics::set_default_local_recorder(&recorder);
    let (clock, shop, client) = simulated_shop(DAY).await;
    let store = Arc::new(MemoryStore::new());
    let ids = stored_tokens(&shop, &*store, 1, clock.now()).await?;
    let id = ids[0].0.clone();
    let handle = RenewalEngine::builder(StorefrontRenewer::new(client))
        .store(Arc::clone(&store))
        .clock(clock.clone())
        .build()
        .start()
        .await?;
    shop.inject(Fault::Delay(Duration::from_secs(8)), 1);
    let renewing = {
        let (handle, id) = (handle.clone(), id.clone());
        tokio::spawn(async move { handle.renew_now(&id).await })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    // A new login under the same id while the renewal is in flight.
    let (secret, expires_at) = shop.issue_token(EMAIL).ok_or("no customer")?;
    let login = CustomerAccessToken::new(AccessToken::new(secret), expires_at);
    handle.add(id.clone(), login.clone(), None).await?;
    let _ = renewing.await?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(shop.requests(Operation::Renew), 1);
    assert_eq!(seen.renewals("moot"), 1);
    assert_eq!(seen.renewals("renewed"), 0);
    assert!(seen.histogram(names::TIME_LEFT, &[]).is_empty());
    let held = handle.valid(&id).await?;
    assert_eq!(
        held.access_token().expose_secret(),
        login.access_token().expose_secret(),
        "the new login is kept"
    );
    handle.shutdown().await;
    Ok(())
}
