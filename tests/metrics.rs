//! The engine's metrics (feature `metrics`), recorded by a debugging recorder
//! set for this thread only, against the mock Storefront on paused time: each
//! test drives one situation and checks the counts against the shop's own
//! request counter and the engine's events.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ::metrics::Unit;
use chrono::{DateTime, TimeDelta, Utc};
use common::{simulated_shop, EMAIL};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::MetricKind;
use storefront_token::mock::{Fault, MockStorefront, SimulatedClock};
use storefront_token::renewal::metrics as names;
use storefront_token::renewal::{
    EventReceiver, LeaseOutcome, MemoryStore, PutOutcome, ReloginError, RenewalEngine,
    RenewalEngineBuilder, RenewalEvent, RenewalPolicy, ReplicaId, StoreError, StorefrontRenewer,
    TokenId, TokenStore,
};
use storefront_token::{AccessToken, Clock, CustomerAccessToken, Operation, StorefrontClient};

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

/// Records this thread's metrics into a new `Seen` named `$seen`, until the
/// end of the calling test.
macro_rules! record_metrics {
    ($seen:ident) => {
        let recorder = DebuggingRecorder::new();
        let mut $seen = Seen::new(&recorder);
        let _local = ::metrics::set_default_local_recorder(&recorder);
    };
}

/// An engine renewing through `client`, on `store` and `clock`.
fn engine<S: TokenStore<CustomerAccessToken>>(
    client: StorefrontClient,
    store: &Arc<S>,
    clock: &SimulatedClock,
) -> RenewalEngineBuilder<StorefrontRenewer, S> {
    RenewalEngine::builder(StorefrontRenewer::new(client))
        .store(Arc::clone(store))
        .clock(clock.clone())
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
    record_metrics!(seen);
    let (clock, shop, client) = simulated_shop(DAY).await;
    let store = Arc::new(MemoryStore::new());
    stored_tokens(&shop, &*store, TOKENS, clock.now()).await?;
    let handle = engine(client, &store, &clock).build().start().await?;
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
async fn a_lease_held_or_changed_by_another_replica_is_contention() -> TestResult {
    record_metrics!(seen);
    let (clock, shop, client) = simulated_shop(DAY).await;
    let store = Arc::new(MemoryStore::new());
    let ids = stored_tokens(&shop, &*store, 1, clock.now()).await?;
    let id = &ids[0].0;
    let handle = engine(client, &store, &clock)
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

#[path = "metrics/failures.rs"]
mod failures;
#[path = "metrics/token_states.rs"]
mod token_states;
