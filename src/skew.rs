//! Estimating the storefront's clock offset from the `Date` header of its
//! responses, so expiries (server time) can be compared with our clock.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::HeaderValue;

/// Recent samples kept; the estimate is their median, so a few odd ones (a slow
/// response, a proxy's cached `Date`) do not move it.
const SAMPLES: usize = 15;
/// `Date` has whole seconds, so on average it reads half a second early.
const DATE_ROUNDING_MS: i64 = 500;
/// Marks "no estimate yet" in the atomic.
const NONE: i64 = i64::MIN;

#[derive(Debug)]
pub(crate) struct ServerClock {
    samples: Mutex<Samples>,
    offset_ms: AtomicI64,
}

#[derive(Debug, Default)]
struct Samples {
    last_date: Option<HeaderValue>,
    offsets_ms: VecDeque<i64>,
}

impl Default for ServerClock {
    fn default() -> Self {
        Self {
            samples: Mutex::new(Samples::default()),
            offset_ms: AtomicI64::new(NONE),
        }
    }
}

impl ServerClock {
    /// Takes a sample from a response's `Date` header seen at `local_now`. Each
    /// distinct `Date` value is parsed once.
    pub(crate) fn observe(&self, date: &HeaderValue, local_now: DateTime<Utc>) {
        let Ok(mut samples) = self.samples.lock() else {
            return;
        };
        if samples.last_date.as_ref() == Some(date) {
            return;
        }
        samples.last_date = Some(date.clone());
        let Some(server) = date
            .to_str()
            .ok()
            .and_then(|text| httpdate::parse_http_date(text).ok())
            .map(DateTime::<Utc>::from)
        else {
            return;
        };
        let offset = (server - local_now).num_milliseconds() + DATE_ROUNDING_MS;
        if samples.offsets_ms.len() == SAMPLES {
            samples.offsets_ms.pop_front();
        }
        samples.offsets_ms.push_back(offset);
        let mut sorted: Vec<i64> = samples.offsets_ms.iter().copied().collect();
        sorted.sort_unstable();
        self.offset_ms
            .store(sorted[sorted.len() / 2], Ordering::Relaxed);
    }

    /// Forgets every sample, so [`offset`](Self::offset) is `None` until new
    /// responses rebuild the estimate.
    pub(crate) fn reset(&self) {
        // Hold the samples' lock while clearing the estimate, so an `observe`
        // racing with the reset cannot store a median of pre-reset samples.
        let mut samples = match self.samples.lock() {
            Ok(samples) => samples,
            Err(poisoned) => poisoned.into_inner(),
        };
        *samples = Samples::default();
        self.offset_ms.store(NONE, Ordering::Relaxed);
    }

    /// Server time minus local time, once a sample has been seen.
    pub(crate) fn offset(&self) -> Option<TimeDelta> {
        match self.offset_ms.load(Ordering::Relaxed) {
            NONE => None,
            ms => Some(TimeDelta::milliseconds(ms)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> HeaderValue {
        HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static("bad"))
    }

    fn local(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn median_of_recent_samples_with_rounding_corrected() {
        let clock = ServerClock::default();
        assert_eq!(clock.offset(), None);
        // The server is 10 minutes ahead.
        clock.observe(
            &date("Wed, 21 Oct 2026 07:38:00 GMT"),
            local("2026-10-21T07:28:00Z"),
        );
        assert_eq!(clock.offset(), Some(TimeDelta::milliseconds(600_500)));
        // An outlier does not move the median of three.
        clock.observe(
            &date("Wed, 21 Oct 2026 07:38:01 GMT"),
            local("2026-10-21T07:28:01Z"),
        );
        clock.observe(
            &date("Wed, 21 Oct 2026 09:00:00 GMT"),
            local("2026-10-21T07:28:02Z"),
        );
        assert_eq!(clock.offset(), Some(TimeDelta::milliseconds(600_500)));
        // The same Date value is sampled once; a garbled one not at all.
        clock.observe(
            &date("Wed, 21 Oct 2026 09:00:00 GMT"),
            local("2026-10-21T07:28:03Z"),
        );
        clock.observe(&date("not a date"), local("2026-10-21T07:28:04Z"));
        assert_eq!(
            clock
                .samples
                .lock()
                .map(|s| s.offsets_ms.len())
                .unwrap_or(0),
            3
        );
    }

    #[test]
    fn reset_forgets_every_sample() {
        let clock = ServerClock::default();
        // The server is 10 minutes ahead; three samples.
        for second in 0..3 {
            clock.observe(
                &date(&format!("Wed, 21 Oct 2026 07:38:0{second} GMT")),
                local(&format!("2026-10-21T07:28:0{second}Z")),
            );
        }
        assert_eq!(clock.offset(), Some(TimeDelta::milliseconds(600_500)));

        clock.reset();
        assert_eq!(clock.offset(), None);

        // After a jump our clock reads an hour later; the server now seems 50
        // minutes behind. The old samples (10 minutes ahead) would have been the
        // median of four; the new estimate comes from the new samples only.
        clock.observe(
            &date("Wed, 21 Oct 2026 07:38:03 GMT"),
            local("2026-10-21T08:28:03Z"),
        );
        assert_eq!(clock.offset(), Some(TimeDelta::milliseconds(-2_999_500)));
        // The Date seen just before the reset is sampled again after it.
        clock.reset();
        clock.observe(
            &date("Wed, 21 Oct 2026 07:38:03 GMT"),
            local("2026-10-21T08:28:04Z"),
        );
        assert_eq!(clock.offset(), Some(TimeDelta::milliseconds(-3_000_500)));
        assert_eq!(
            clock
                .samples
                .lock()
                .map(|s| s.offsets_ms.len())
                .unwrap_or(0),
            1
        );
    }
}
