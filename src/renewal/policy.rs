//! When to renew and how long to wait after a failure: pure functions of time,
//! tested by the scenario suite in `tests/renewal_scenarios.rs`.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::id::TokenId;

/// Earliest point of the lifetime at which a token is renewed. Vault's
/// LifetimeWatcher renews between 2/3 and 9/10 of the lease; a customer token
/// cannot be re-fetched once expired, so we renew earlier and keep more margin.
const DEFAULT_EARLIEST_FRACTION: f64 = 0.55;
/// Latest point of the lifetime at which a token is (first) renewed.
const DEFAULT_LATEST_FRACTION: f64 = 0.70;
/// A renewal never starts later than this before expiry (and never later than
/// [`DEFAULT_MARGIN_FRACTION`] of the lifetime before it)…
const DEFAULT_MIN_MARGIN: Duration = Duration::from_secs(5 * 60);
/// …whichever is larger.
const DEFAULT_MARGIN_FRACTION: f64 = 0.1;
/// Very short lifetimes (tests, demos) renew this fraction of the lifetime before
/// expiry…
const SHORT_MARGIN_FRACTION: f64 = 1.0 / 3.0;
/// …or this long before it, whichever is larger.
const SHORT_MIN_MARGIN: Duration = Duration::from_secs(10);
/// First retry ceiling after a failed renewal, and the shortest wait between two
/// attempts on one token.
const DEFAULT_RETRY_INITIAL: Duration = Duration::from_secs(10);
/// Longest wait between attempts…
const DEFAULT_RETRY_CAP: Duration = Duration::from_secs(5 * 60);
/// …and never more than this share of the time left, so several attempts fit
/// before expiry.
const RETRY_REMAINING_DIVISOR: u32 = 10;
/// Longest the engine sleeps before looking at the wall clock again; tokio's timer
/// stops during system suspend, the wall clock does not.
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(30);
/// Wall-clock and monotonic time disagreeing by more than this is a clock jump.
const DEFAULT_JUMP_THRESHOLD: Duration = Duration::from_secs(5);
/// A server clock offset beyond this is worth a warning.
const DEFAULT_SKEW_WARNING: Duration = Duration::from_secs(30);
/// Renewal starts per second. Shopify documents no limit for this mutation, so
/// the default is conservative.
const DEFAULT_STARTS_PER_SECOND: f64 = 20.0;
/// Renewals in flight at once.
const DEFAULT_MAX_IN_FLIGHT: usize = 32;
/// Longest wait for one renewal (or re-login) before it counts as a transient
/// failure.
const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest wait for one store operation.
const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often replicas compare their tokens with the store's versions.
const DEFAULT_RECONCILE_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// First pause of the whole shop after a shop-level failure…
const DEFAULT_SHOP_PAUSE_INITIAL: Duration = Duration::from_secs(30);
/// …doubling up to this.
const DEFAULT_SHOP_PAUSE_CAP: Duration = Duration::from_secs(15 * 60);
/// `renew_now` calls and store look-ups queued at once, at most.
const DEFAULT_MAX_QUEUED: usize = 1024;
/// Re-logins that fail for now are tried this many times in a row.
const DEFAULT_RELOGIN_ATTEMPTS: u32 = 8;

/// When tokens are renewed, how failures are retried, and how fast renewals
/// start. Every number has a default from the crate's renewal policy; all can be
/// changed.
///
/// A token with lifetime `L = expires_at − issued_at` is renewed at a stable
/// per-token point between 55 % and 70 % of `L` (from a hash of its
/// [`TokenId`], so replicas and restarts agree), never later than
/// `expires_at − max(5 min, 0.1·L)`. When the 5-minute floor alone leaves no room
/// after the earliest point (lifetimes under about 11 minutes, as in tests and
/// demos) it renews at
/// `expires_at − max(L/3, 10 s)`. After a transient failure it retries after a
/// random wait between 10 s and `min(10 s·2ⁿ, 5 min, time left / 10)`, never
/// sooner than 10 s after the last attempt, until the token expires.
///
/// ```
/// use std::time::Duration;
/// use storefront_token::renewal::RenewalPolicy;
///
/// let policy = RenewalPolicy::default()
///     .with_starts_per_second(100.0)
///     .with_max_in_flight(64)
///     .with_lifetime_fractions(0.5, 0.6);
/// assert_eq!(policy.max_in_flight(), 64);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RenewalPolicy {
    earliest_fraction: f64,
    latest_fraction: f64,
    min_margin: Duration,
    margin_fraction: f64,
    retry_initial: Duration,
    retry_cap: Duration,
    heartbeat: Duration,
    jump_threshold: Duration,
    skew_warning: Duration,
    starts_per_second: f64,
    max_in_flight: usize,
    call_timeout: Duration,
    store_timeout: Duration,
    reconcile_interval: Duration,
    shop_pause_initial: Duration,
    shop_pause_cap: Duration,
    max_queued: usize,
    relogin_attempts: u32,
}

impl Default for RenewalPolicy {
    fn default() -> Self {
        Self {
            earliest_fraction: DEFAULT_EARLIEST_FRACTION,
            latest_fraction: DEFAULT_LATEST_FRACTION,
            min_margin: DEFAULT_MIN_MARGIN,
            margin_fraction: DEFAULT_MARGIN_FRACTION,
            retry_initial: DEFAULT_RETRY_INITIAL,
            retry_cap: DEFAULT_RETRY_CAP,
            heartbeat: DEFAULT_HEARTBEAT,
            jump_threshold: DEFAULT_JUMP_THRESHOLD,
            skew_warning: DEFAULT_SKEW_WARNING,
            starts_per_second: DEFAULT_STARTS_PER_SECOND,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            store_timeout: DEFAULT_STORE_TIMEOUT,
            reconcile_interval: DEFAULT_RECONCILE_INTERVAL,
            shop_pause_initial: DEFAULT_SHOP_PAUSE_INITIAL,
            shop_pause_cap: DEFAULT_SHOP_PAUSE_CAP,
            max_queued: DEFAULT_MAX_QUEUED,
            relogin_attempts: DEFAULT_RELOGIN_ATTEMPTS,
        }
    }
}

impl RenewalPolicy {
    /// Renew between these fractions of the lifetime (each clamped to `0.0..=1.0`,
    /// swapped if reversed). Default 0.55 and 0.70.
    #[must_use]
    pub fn with_lifetime_fractions(mut self, earliest: f64, latest: f64) -> Self {
        let (a, b) = (clamp_fraction(earliest), clamp_fraction(latest));
        (self.earliest_fraction, self.latest_fraction) = if a <= b { (a, b) } else { (b, a) };
        self
    }

    /// The least time before expiry a first renewal may start, as an absolute
    /// floor and a fraction of the lifetime (the larger wins). Default 5 min, 0.1.
    #[must_use]
    pub fn with_margin(mut self, min_margin: Duration, fraction: f64) -> Self {
        self.min_margin = min_margin;
        self.margin_fraction = clamp_fraction(fraction);
        self
    }

    /// Retry waits: the first ceiling (also the shortest gap between attempts) and
    /// the cap. Default 10 s and 5 min. The initial wait is at least 1 ms.
    #[must_use]
    pub fn with_retry_backoff(mut self, initial: Duration, cap: Duration) -> Self {
        self.retry_initial = initial.max(Duration::from_millis(1));
        self.retry_cap = cap.max(self.retry_initial);
        self
    }

    /// Longest sleep between two looks at the wall clock. Default 30 s.
    #[must_use]
    pub fn with_heartbeat(mut self, heartbeat: Duration) -> Self {
        self.heartbeat = heartbeat.max(Duration::from_millis(1));
        self
    }

    /// Wall-clock jumps larger than this raise a clock-jump event. Default 5 s.
    #[must_use]
    pub fn with_jump_threshold(mut self, threshold: Duration) -> Self {
        self.jump_threshold = threshold;
        self
    }

    /// Server clock offsets larger than this raise a warning. Default 30 s.
    #[must_use]
    pub fn with_skew_warning(mut self, threshold: Duration) -> Self {
        self.skew_warning = threshold;
        self
    }

    /// Renewal starts per second (at least 0.001). Default 20.
    #[must_use]
    pub fn with_starts_per_second(mut self, rate: f64) -> Self {
        self.starts_per_second = if rate.is_finite() {
            rate.max(0.001)
        } else {
            f64::MAX
        };
        self
    }

    /// Renewals running at once (at least 1), each on one of as many worker
    /// tasks. Default 32.
    #[must_use]
    pub fn with_max_in_flight(mut self, limit: usize) -> Self {
        self.max_in_flight = limit.max(1);
        self
    }

    /// Timeouts: for one renewal or re-login (the renewer's or the hook's code),
    /// and for one store operation. A timed-out renewal is a transient failure; a
    /// timed-out store write is retried. Default 60 s and 10 s (at least 1 ms).
    #[must_use]
    pub fn with_timeouts(mut self, call: Duration, store: Duration) -> Self {
        self.call_timeout = call.max(Duration::from_millis(1));
        self.store_timeout = store.max(Duration::from_millis(1));
        self
    }

    /// How often replicas compare their tokens with the store's versions, so a
    /// token deleted on one replica (a logout) stops being served on the others
    /// within this time. Default 5 min (at least 1 s).
    #[must_use]
    pub fn with_reconcile_interval(mut self, interval: Duration) -> Self {
        self.reconcile_interval = interval.max(Duration::from_secs(1));
        self
    }

    /// How long renewals pause for the whole shop after a shop-level failure: the
    /// first pause, doubling after each failed probe up to the cap. Default 30 s
    /// and 15 min.
    #[must_use]
    pub fn with_shop_pause(mut self, initial: Duration, cap: Duration) -> Self {
        self.shop_pause_initial = initial.max(Duration::from_millis(1));
        self.shop_pause_cap = cap.max(self.shop_pause_initial);
        self
    }

    /// `renew_now` calls and store look-ups (for ids not held) queued at once;
    /// beyond it callers get [`Busy`](super::RenewalErrorKind::Busy). Default 1,024.
    #[must_use]
    pub fn with_max_queued(mut self, limit: usize) -> Self {
        self.max_queued = limit.max(1);
        self
    }

    /// Re-logins that fail for now are retried, with backoff, this many times in
    /// a row before the token is given up. Default 8.
    #[must_use]
    pub fn with_relogin_attempts(mut self, attempts: u32) -> Self {
        self.relogin_attempts = attempts.max(1);
        self
    }

    /// The timeout for one renewal or re-login.
    #[must_use]
    pub fn call_timeout(&self) -> Duration {
        self.call_timeout
    }

    /// The timeout for one store operation.
    #[must_use]
    pub fn store_timeout(&self) -> Duration {
        self.store_timeout
    }

    /// How long a renewal lease lasts: longer than a lease, a renewal and a
    /// write together, so it lapses only when its replica died.
    #[must_use]
    pub fn lease_duration(&self) -> Duration {
        self.call_timeout + self.store_timeout * 3
    }

    pub(crate) fn reconcile_interval(&self) -> Duration {
        self.reconcile_interval
    }

    pub(crate) fn shop_pause(&self, failed_probes: u32) -> Duration {
        self.shop_pause_initial
            .saturating_mul(2u32.saturating_pow(failed_probes.min(31)))
            .min(self.shop_pause_cap)
    }

    pub(crate) fn max_queued(&self) -> usize {
        self.max_queued
    }

    pub(crate) fn relogin_attempts(&self) -> u32 {
        self.relogin_attempts
    }

    /// Below this much time left, a token is renewed without a lease when the
    /// store cannot grant one: keeping the customer logged in beats the risk of
    /// a second renewal.
    pub(crate) fn lease_bypass(&self) -> Duration {
        self.min_margin
    }

    /// Renewals in flight at once.
    #[must_use]
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    /// Renewal starts per second.
    #[must_use]
    pub fn starts_per_second(&self) -> f64 {
        self.starts_per_second
    }

    /// Longest sleep between two looks at the wall clock.
    #[must_use]
    pub fn heartbeat(&self) -> Duration {
        self.heartbeat
    }

    /// The shortest time between two attempts on one token.
    pub(crate) fn min_retry_gap(&self) -> Duration {
        self.retry_initial
    }

    pub(crate) fn jump_threshold(&self) -> Duration {
        self.jump_threshold
    }

    pub(crate) fn skew_warning(&self) -> Duration {
        self.skew_warning
    }

    /// The gap between two renewal starts under the rate limit.
    pub(crate) fn start_interval(&self) -> Duration {
        Duration::try_from_secs_f64(1.0 / self.starts_per_second).unwrap_or(Duration::ZERO)
    }

    /// When a token issued at `issued_at` and expiring at `expires_at` (both in
    /// server time) should first be renewed.
    #[must_use]
    pub fn renew_at(
        &self,
        id: &TokenId,
        issued_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let lifetime = (expires_at - issued_at).max(TimeDelta::zero());
        let margin = to_delta(self.min_margin).max(scale(lifetime, self.margin_fraction));
        // The absolute floor leaves no room in the window: a very short lifetime.
        if to_delta(self.min_margin) > scale(lifetime, 1.0 - self.earliest_fraction) {
            let short_margin =
                scale(lifetime, SHORT_MARGIN_FRACTION).max(to_delta(SHORT_MIN_MARGIN));
            return (expires_at - short_margin).max(issued_at);
        }
        let fraction = self.earliest_fraction
            + (self.latest_fraction - self.earliest_fraction) * stable_unit(id);
        (issued_at + scale(lifetime, fraction)).min(expires_at - margin)
    }

    /// The wait before attempt `failures + 1` after `failures` failed attempts,
    /// with `remaining` time before expiry. Uniform between the initial wait and
    /// the attempt's ceiling; never zero.
    #[must_use]
    pub fn retry_delay(&self, failures: u32, remaining: Duration) -> Duration {
        let floor = self.retry_initial;
        let ceiling = self
            .retry_initial
            .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1).min(31)))
            .min(self.retry_cap)
            .min(remaining / RETRY_REMAINING_DIVISOR)
            .max(floor);
        floor + (ceiling - floor).mul_f64(fastrand::f64())
    }
}

fn clamp_fraction(value: f64) -> f64 {
    if value.is_nan() {
        0.0
    } else {
        value.clamp(0.0, 1.0)
    }
}

fn to_delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

fn scale(delta: TimeDelta, factor: f64) -> TimeDelta {
    TimeDelta::milliseconds((delta.num_milliseconds() as f64 * factor) as i64)
}

/// A number in `[0, 1)` that depends only on the token's id: the same on every
/// replica, every restart and every version of this crate (FNV-1a, then the
/// SplitMix64 finaliser to spread similar ids apart). It runs on every renewal,
/// so it is cheap; it need not resist an adversary.
fn stable_unit(id: &TokenId) -> f64 {
    const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = id.as_str().bytes().fold(FNV_OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME)
    });
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^= hash >> 31;
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(seconds)
    }

    #[test]
    fn renewal_point_is_stable_per_id_and_inside_the_window() {
        let policy = RenewalPolicy::default();
        let lifetime = 42 * 86_400;
        for n in 0..500 {
            let id = TokenId::new(format!("customer-{n}"));
            let when = policy.renew_at(&id, at(0), at(lifetime));
            assert_eq!(when, policy.renew_at(&id, at(0), at(lifetime)), "stable");
            let fraction = (when - at(0)).num_milliseconds() as f64 / (lifetime * 1000) as f64;
            assert!((0.55..=0.70).contains(&fraction), "{fraction}");
        }
    }

    #[test]
    fn renewal_points_spread_over_the_window() {
        let policy = RenewalPolicy::default();
        let lifetime = 1_000_000;
        let mut buckets = [0u32; 10];
        for n in 0..10_000 {
            let when = policy.renew_at(&TokenId::new(format!("customer-{n}")), at(0), at(lifetime));
            let fraction = ((when - at(0)).num_seconds() as f64 / lifetime as f64 - 0.55) / 0.15;
            buckets[((fraction * 10.0) as usize).min(9)] += 1;
        }
        assert!(
            buckets.iter().all(|&n| (800..1200).contains(&n)),
            "{buckets:?}"
        );
        // Pinned (computed independently), so that replicas running different
        // versions of the crate agree on when to renew.
        assert_eq!(
            stable_unit(&TokenId::new("customer-1")),
            0.174_560_920_502_408_8
        );
    }

    #[test]
    fn the_margin_caps_the_renewal_point() {
        let policy = RenewalPolicy::default().with_lifetime_fractions(0.95, 0.99);
        let when = policy.renew_at(&TokenId::new("a"), at(0), at(10_000));
        assert_eq!(when, at(9_000), "0.1·L = 1000 s beats 5 min");
        let when = policy.renew_at(&TokenId::new("a"), at(0), at(2_000));
        assert!(when <= at(1_700), "5 min beats 0.1·L");
    }

    #[test]
    fn short_lifetimes_renew_a_third_before_expiry() {
        let policy = RenewalPolicy::default();
        assert_eq!(policy.renew_at(&TokenId::new("a"), at(0), at(60)), at(40));
        assert_eq!(policy.renew_at(&TokenId::new("a"), at(0), at(15)), at(5));
        assert_eq!(
            policy.renew_at(&TokenId::new("a"), at(0), at(6)),
            at(0),
            "never before issue"
        );
    }

    #[test]
    fn retry_delays_are_never_zero_and_respect_the_caps() {
        let policy = RenewalPolicy::default();
        let day = Duration::from_secs(86_400);
        for failures in 1..12 {
            for _ in 0..200 {
                let delay = policy.retry_delay(failures, day);
                let ceiling =
                    Duration::from_secs(10 << (failures - 1).min(5)).min(Duration::from_secs(300));
                assert!(
                    delay >= Duration::from_secs(10) && delay <= ceiling,
                    "{failures}: {delay:?}"
                );
            }
        }
        // Little time left: the ceiling shrinks to a tenth of it, the floor stays.
        let delay = policy.retry_delay(5, Duration::from_secs(200));
        assert!(
            delay >= Duration::from_secs(10) && delay <= Duration::from_secs(20),
            "{delay:?}"
        );
        assert_eq!(
            policy.retry_delay(3, Duration::ZERO),
            Duration::from_secs(10)
        );
    }
}
