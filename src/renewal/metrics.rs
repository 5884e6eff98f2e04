//! The renewal engine's metrics (crate feature `metrics`), through the
//! [`metrics`](https://docs.rs/metrics/0.24) facade: install any exporter
//! (Prometheus, StatsD, OpenTelemetry …) and the engine reports to it.
//!
//! Install the recorder **before** [`RenewalEngine::start`](super::RenewalEngine::start):
//! the engine registers its metrics (and describes them, with their units) when
//! it starts, and keeps the handles, so recording costs an atomic operation or
//! two. Labels are small, fixed sets; never a token id or a secret. Several
//! engines in one process add up (gauges included).
//!
//! | Name | Type | Labels | Meaning |
//! |---|---|---|---|
//! | [`TOKENS`] | gauge | `state` | tokens held, by state |
//! | [`RENEWALS`] | counter | `outcome` | renewal attempts, by what they came to |
//! | [`RETRIES`] | counter | | attempts after a failed one for the same token |
//! | [`TIME_LEFT`] | histogram (s) | | time the old credential had left when a renewal succeeded |
//! | [`START_LATENESS`] | histogram (s) | | how late a due renewal started |
//! | [`LEASE_CONTENTION`] | counter | `result` | leases another replica held or had renewed |
//! | [`LEASE_BYPASS`] | counter | | renewals started without the lease, the store being unreachable |
//! | [`STORE_ERRORS`] | counter | `op` | store calls that failed, timed out or panicked |
//! | [`STORE_LATENCY`] | histogram (s) | `op` | store call durations |
//! | [`BREAKER_OPEN`] | gauge | | 1 while the shop's circuit breaker pauses renewals |
//! | [`BREAKER_PAUSES`] | counter | | times the breaker paused the shop |
//!
//! With Prometheus (`metrics-exporter-prometheus`), for a `/metrics` route:
//!
//! ```
//! # #[cfg(feature = "mock")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use metrics_exporter_prometheus::PrometheusBuilder;
//! use storefront_token::mock::MockStorefront;
//! use storefront_token::renewal::{metrics, RenewalEngine, StorefrontRenewer};
//! use storefront_token::{RetryPolicy, StorefrontClient};
//!
//! let prometheus = PrometheusBuilder::new().install_recorder()?; // before the engine starts
//! # let shop = MockStorefront::builder().build().await?;
//! let client = StorefrontClient::builder()
//! #   .endpoint(shop.endpoint())
//! #   .public_token(shop.public_token())
//!     // .shop("my-shop").public_token(…)
//!     .retry_policy(RetryPolicy::never())
//!     .build()?;
//! let renewals = RenewalEngine::builder(StorefrontRenewer::new(client)).build().start().await?;
//! let text = prometheus.render(); // what `GET /metrics` answers
//! assert!(text.contains(metrics::RENEWALS) && text.contains(metrics::TOKENS));
//! renewals.shutdown().await;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "mock"))]
//! # fn main() {}
//! ```

use ::metrics::{describe_counter, describe_gauge, describe_histogram, Unit};

/// Gauge: tokens held by this process, by `state` ([`STATE`]): `scheduled`,
/// `renewing`, `expired`, `rejected` (the [`TokenState`](super::TokenState)
/// values, lowercase). Refreshed when the engine's driver wakes, once a second
/// at most (less often when counting a very large engine would hold its lock
/// longer than 0.1 % of the time), and at least every
/// [heartbeat](super::RenewalPolicy::heartbeat) (30 s by default).
pub const TOKENS: &str = "storefront_token_tokens";

/// Counter: renewal attempts by `outcome` ([`OUTCOME`]):
///
/// - `renewed`: renewed (and stored, or kept while the write is retried);
/// - `conflict`: renewed, but another replica had written the token first
///   (its version is adopted, or ours goes in on top of an expired one);
/// - `transient_failure`: failed, may pass (a 5xx, a timeout …); retried;
/// - `shop_unavailable`: the shop refused every token (the breaker pauses it);
/// - `rejected`: the server refused the token: only a new login helps;
/// - `adopted`: another replica had renewed it: its version was taken instead;
/// - `lease_held`: another replica holds the renewal lease: nothing sent;
/// - `lease_failed`: the store could not grant the lease: nothing sent;
/// - `removed`: the token was deleted from the store (logged out) meanwhile;
/// - `moot`: the token was replaced or removed here while it was renewed;
/// - `expired`: it expired before a renewal could go through (no attempt).
pub const RENEWALS: &str = "storefront_token_renewals_total";

/// Counter: renewal attempts started after a failed attempt for the same token.
pub const RETRIES: &str = "storefront_token_renewal_retries_total";

/// Histogram, seconds: when a renewal succeeds, how long the credential it
/// replaces had left (its expiry minus now, in server time). Low values mean
/// renewals run close to expiry.
pub const TIME_LEFT: &str = "storefront_token_renewal_time_left_seconds";

/// Histogram, seconds: how late a due renewal started (a worker took it)
/// after its due time: the rate limit, a full pool or the timer. Starts ahead
/// of the due time (`renew_now`) are not recorded.
pub const START_LATENESS: &str = "storefront_token_renewal_start_lateness_seconds";

/// Counter: renewal leases refused because of another replica, by `result`
/// ([`RESULT`]): `held` (it is renewing the token) or `changed` (it already
/// renewed or replaced it).
pub const LEASE_CONTENTION: &str = "storefront_token_lease_contention_total";

/// Counter: renewals started without the store's lease because the store
/// could not grant one and the token would expire otherwise (each replica
/// keeps its tokens alive from memory). Each is also a
/// [`RenewingWithoutLease`](super::RenewalEvent::RenewingWithoutLease) event.
pub const LEASE_BYPASS: &str = "storefront_token_lease_bypass_total";

/// Counter: store calls that failed, timed out or panicked, by `op` ([`OP`]):
/// `load_all`, `versions`, `get`, `put`, `try_lease`, `release_lease`, `delete`.
pub const STORE_ERRORS: &str = "storefront_token_store_errors_total";

/// Histogram, seconds: how long store calls took, by `op` ([`OP`]), failed
/// ones included (a timed-out call counts the timeout).
pub const STORE_LATENCY: &str = "storefront_token_store_latency_seconds";

/// Gauge: 1 while the shop's circuit breaker pauses renewal starts (a
/// shop-level refusal), 0 when closed.
pub const BREAKER_OPEN: &str = "storefront_token_breaker_open";

/// Counter: times the breaker paused the shop (a failed probe pauses again).
pub const BREAKER_PAUSES: &str = "storefront_token_breaker_pauses_total";

/// Every metric the engine reports.
pub const ALL: [&str; 11] = [
    TOKENS,
    RENEWALS,
    RETRIES,
    TIME_LEFT,
    START_LATENESS,
    LEASE_CONTENTION,
    LEASE_BYPASS,
    STORE_ERRORS,
    STORE_LATENCY,
    BREAKER_OPEN,
    BREAKER_PAUSES,
];

/// The label of [`TOKENS`].
pub const STATE: &str = "state";
/// The label of [`RENEWALS`].
pub const OUTCOME: &str = "outcome";
/// The label of [`LEASE_CONTENTION`].
pub const RESULT: &str = "result";
/// The label of [`STORE_ERRORS`] and [`STORE_LATENCY`].
pub const OP: &str = "op";

/// Describes every metric to the current recorder (name, unit, meaning).
pub(crate) fn describe() {
    describe_gauge!(TOKENS, Unit::Count, "Tokens held, by state");
    describe_counter!(RENEWALS, Unit::Count, "Renewal attempts, by outcome");
    describe_counter!(
        RETRIES,
        Unit::Count,
        "Renewal attempts after a failed one for the same token"
    );
    describe_histogram!(
        TIME_LEFT,
        Unit::Seconds,
        "Time the replaced credential had left when its renewal succeeded (server time)"
    );
    describe_histogram!(
        START_LATENESS,
        Unit::Seconds,
        "How late a due renewal started after its due time"
    );
    describe_counter!(
        LEASE_CONTENTION,
        Unit::Count,
        "Renewal leases refused because another replica held or had renewed the token"
    );
    describe_counter!(
        LEASE_BYPASS,
        Unit::Count,
        "Renewals started without the lease because the store was unreachable"
    );
    describe_counter!(STORE_ERRORS, Unit::Count, "Store calls that failed, by op");
    describe_histogram!(STORE_LATENCY, Unit::Seconds, "Store call durations, by op");
    describe_gauge!(
        BREAKER_OPEN,
        Unit::Count,
        "1 while the shop's circuit breaker pauses renewals"
    );
    describe_counter!(
        BREAKER_PAUSES,
        Unit::Count,
        "Times the shop's circuit breaker paused renewals"
    );
}
