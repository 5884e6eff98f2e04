//! Retrying transient failures: exponential backoff with full jitter, bounded in
//! attempts and total time, honouring `Retry-After`.

use std::time::{Duration, SystemTime};

/// Default number of attempts, the first included.
const DEFAULT_MAX_ATTEMPTS: u32 = 4;
/// Default first backoff ceiling. Shopify recommends about one second of backoff
/// when throttled; with full jitter the average first wait is half of this.
const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// Default ceiling of any single backoff.
const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Default budget for one call, attempts and waits together.
const DEFAULT_MAX_ELAPSED: Duration = Duration::from_secs(30);

/// How the client retries transient failures (see
/// [`Error::is_transient`](crate::Error::is_transient)).
///
/// Waits grow exponentially with full jitter: before retry `n` the client waits a
/// random time in `[0, min(max_backoff, initial_backoff * 2^n))`, or exactly what
/// the storefront asked for in `Retry-After`. The call gives up when the attempts
/// run out or the next wait would take it past the total budget (attempts and
/// waits together). Permanent failures are never retried.
///
/// ```
/// use std::time::Duration;
/// use storefront_token::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .with_max_attempts(6)
///     .with_initial_backoff(Duration::from_millis(200))
///     .with_max_elapsed(Duration::from_secs(20));
/// assert_eq!(policy.max_attempts(), 6);
/// assert_eq!(RetryPolicy::never().max_attempts(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            initial_backoff: DEFAULT_INITIAL_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            max_elapsed: DEFAULT_MAX_ELAPSED,
        }
    }
}

impl RetryPolicy {
    /// A policy that makes one attempt and never retries.
    #[must_use]
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Sets the number of attempts, the first included (at least 1).
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the ceiling of the first backoff.
    #[must_use]
    pub fn with_initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// Sets the ceiling of any single backoff.
    #[must_use]
    pub fn with_max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// Sets the budget for one call, attempts and waits together: no retry starts
    /// (or waits) past it, and a retry's timeout is cut to what is left of it.
    #[must_use]
    pub fn with_max_elapsed(mut self, budget: Duration) -> Self {
        self.max_elapsed = budget;
        self
    }

    /// The number of attempts, the first included.
    #[must_use]
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The budget for one call, attempts and waits together.
    #[must_use]
    pub fn max_elapsed(&self) -> Duration {
        self.max_elapsed
    }

    /// The wait before retry number `retry` (0 for the first retry), or `None`
    /// when the policy says to stop. `waited` is the time the call has spent so
    /// far; `retry_after` is what the server asked for, if anything.
    pub(crate) fn next_wait(
        &self,
        retry: u32,
        waited: Duration,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if retry.saturating_add(1) >= self.max_attempts {
            return None;
        }
        let wait = retry_after.unwrap_or_else(|| self.jittered_backoff(retry));
        (waited.saturating_add(wait) <= self.max_elapsed).then_some(wait)
    }

    fn jittered_backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(retry.min(31)))
            .min(self.max_backoff);
        ceiling.mul_f64(fastrand::f64())
    }
}

/// Parses a `Retry-After` value: whole or decimal seconds, or an HTTP date
/// (measured from `now`, which should be the response's `Date` when present).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::try_from_secs_f64(seconds).ok())
            .flatten();
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2026 07:28:00 GMT").ok();
        let now = now.unwrap_or(SystemTime::UNIX_EPOCH);
        let cases: [(&str, Option<Duration>); 9] = [
            ("2", Some(Duration::from_secs(2))),
            (" 0 ", Some(Duration::ZERO)),
            ("1.5", Some(Duration::from_millis(1500))),
            (
                "Wed, 21 Oct 2026 07:28:30 GMT",
                Some(Duration::from_secs(30)),
            ),
            ("Wed, 21 Oct 2026 07:27:00 GMT", Some(Duration::ZERO)),
            ("-1", None),
            ("NaN", None),
            ("soon", None),
            ("", None),
        ];
        for (value, want) in cases {
            assert_eq!(parse_retry_after(value, now), want, "{value:?}");
        }
    }

    #[test]
    fn backoff_is_bounded_by_attempts_budget_and_ceiling() {
        let policy = RetryPolicy::default()
            .with_max_attempts(4)
            .with_initial_backoff(Duration::from_secs(1))
            .with_max_backoff(Duration::from_secs(3))
            .with_max_elapsed(Duration::from_secs(100));
        for retry in 0..3 {
            for _ in 0..200 {
                let wait = policy.next_wait(retry, Duration::ZERO, None);
                let ceiling = Duration::from_secs(1 << retry).min(Duration::from_secs(3));
                assert!(wait.is_some_and(|w| w < ceiling), "{retry}: {wait:?}");
            }
        }
        assert_eq!(
            policy.next_wait(3, Duration::ZERO, None),
            None,
            "attempts exhausted"
        );
        assert_eq!(
            policy.next_wait(0, Duration::from_secs(99), Some(Duration::from_secs(2))),
            None,
            "budget exhausted"
        );
        assert_eq!(
            policy.next_wait(0, Duration::ZERO, Some(Duration::from_secs(7))),
            Some(Duration::from_secs(7)),
            "retry-after is honoured exactly"
        );
        assert_eq!(
            RetryPolicy::never().next_wait(0, Duration::ZERO, None),
            None
        );
    }
}
