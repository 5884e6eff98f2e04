//! How results are printed: text, or one JSON object per line with `--json`;
//! and the human durations both use.

use std::error::Error as StdError;

use chrono::{TimeDelta, Utc};
use serde_json::json;
use storefront_token::{CustomerAccessToken, ErrorReport};

/// Prints results as text or as one JSON object per line.
pub(crate) struct Output {
    pub(crate) json: bool,
}

impl Output {
    pub(crate) fn event(&self, text: String, value: serde_json::Value) {
        if self.json {
            println!("{value}");
        } else {
            println!("{text}");
        }
    }

    pub(crate) fn token(&self, step: &str, token: &CustomerAccessToken, show: bool) {
        let fingerprint = token.access_token().fingerprint().to_string();
        let mut value = json!({
            "event": step,
            "expires_at": token.expires_at().to_rfc3339(),
            "fingerprint": fingerprint,
        });
        let mut text = format!(
            "{step}: token {fingerprint} valid until {} ({} left)",
            token.expires_at().to_rfc3339(),
            short_duration(token.expires_at() - Utc::now())
        );
        if show {
            value["access_token"] = json!(token.access_token().expose_secret());
            text.push_str(&format!(
                "\naccess token: {}",
                token.access_token().expose_secret()
            ));
        }
        self.event(text, value);
    }

    /// An error and its whole source chain, on one line ([`ErrorReport`]).
    pub(crate) fn error(&self, error: &(dyn StdError + 'static)) {
        let report = ErrorReport::new(error);
        if self.json {
            eprintln!(
                "{}",
                json!({ "event": "error", "error": error.to_string(), "message": report.to_string() })
            );
        } else {
            eprintln!("error: {report}");
        }
    }
}

/// `text`, cut to `max` characters with an ellipsis.
pub(crate) fn truncated(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// `41d 23h`, `3h 05m`, `4m 07s`, `12s`; zero for the past.
pub(crate) fn short_duration(delta: TimeDelta) -> String {
    let seconds = delta.num_seconds().max(0);
    let (days, hours, minutes, secs) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    if days > 0 {
        format!("{days}d {hours:02}h")
    } else if hours > 0 {
        format!("{hours}h {minutes:02}m")
    } else if minutes > 0 {
        format!("{minutes}m {secs:02}s")
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(short_duration(TimeDelta::seconds(29)), "29s");
        assert_eq!(short_duration(TimeDelta::seconds(89)), "1m 29s");
        assert_eq!(
            short_duration(TimeDelta::hours(3) + TimeDelta::minutes(5)),
            "3h 05m"
        );
        assert_eq!(
            short_duration(TimeDelta::days(41) + TimeDelta::hours(23)),
            "41d 23h"
        );
        assert_eq!(short_duration(TimeDelta::seconds(-5)), "0s");
    }
}
