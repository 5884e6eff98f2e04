//! The mock's own clock: real time plus an offset that tests move.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};

/// A clock that starts at a chosen instant and then ticks with real time,
/// unless frozen.
#[derive(Debug, Clone)]
pub(crate) struct Clock {
    base: DateTime<Utc>,
    base_instant: Instant,
    frozen: bool,
    /// An outside time source the mock follows (plus `offset`), such as a test's
    /// simulated clock shared with the code under test.
    source: Option<(Arc<dyn crate::Clock>, TimeDelta)>,
}

impl Clock {
    pub(crate) fn new(start: DateTime<Utc>, frozen: bool) -> Self {
        Clock {
            base: start,
            base_instant: Instant::now(),
            frozen,
            source: None,
        }
    }

    /// A clock that follows `source`.
    pub(crate) fn following(source: Arc<dyn crate::Clock>) -> Self {
        Clock {
            base: source.now(),
            base_instant: Instant::now(),
            frozen: false,
            source: Some((source, TimeDelta::zero())),
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        if let Some((source, offset)) = &self.source {
            return source.now() + *offset;
        }
        if self.frozen {
            return self.base;
        }
        add_std(self.base, self.base_instant.elapsed())
    }

    pub(crate) fn advance(&mut self, by: Duration) {
        if let Some((_, offset)) = &mut self.source {
            *offset += TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
            return;
        }
        self.base = add_std(self.base, by);
    }

    pub(crate) fn set_now(&mut self, at: DateTime<Utc>) {
        if let Some((source, offset)) = &mut self.source {
            *offset = at - source.now();
            return;
        }
        self.base = at;
        self.base_instant = Instant::now();
    }
}

/// `at + by`, saturating at the largest representable instant instead of panicking.
pub(crate) fn add_std(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(by)
        .ok()
        .and_then(|delta| at.checked_add_signed(delta))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// RFC 3339 with whole seconds and a `Z` offset, as Shopify formats `DateTime`.
pub(crate) fn format_datetime(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// IMF-fixdate for the `Date` header, clamped to 1970..=9999 (what `httpdate` can format).
pub(crate) fn http_date(at: DateTime<Utc>) -> String {
    let secs = at.timestamp().clamp(0, 253_402_300_799);
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_moves_only_when_told() {
        let start = DateTime::<Utc>::UNIX_EPOCH;
        let mut clock = Clock::new(start, true);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.now(), start + TimeDelta::seconds(90));
    }

    #[test]
    fn huge_advance_saturates() {
        let mut clock = Clock::new(Utc::now(), true);
        clock.advance(Duration::MAX);
        assert_eq!(clock.now(), DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn http_date_is_clamped() {
        assert_eq!(
            http_date(DateTime::<Utc>::MAX_UTC),
            "Fri, 31 Dec 9999 23:59:59 GMT"
        );
        assert_eq!(
            http_date(DateTime::<Utc>::MIN_UTC),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
    }

    #[test]
    fn formats_with_z() {
        let at = DateTime::parse_from_rfc3339("2026-01-08T15:50:00.123+00:00")
            .map(|d| d.with_timezone(&Utc));
        assert_eq!(
            at.map(format_datetime).ok().as_deref(),
            Some("2026-01-08T15:50:00Z")
        );
    }
}
