//! `watch`'s live status line: the token, its time left, the next renewal and
//! the last result.

use chrono::{DateTime, Local, TimeDelta, Utc};
use storefront_token::renewal::TokenState;
use storefront_token::CustomerAccessToken;

use super::output::short_duration;

/// What the status line shows, besides the last result.
#[derive(Clone)]
pub(crate) struct StatusLine {
    fingerprint: String,
    state: &'static str,
    expires_at: DateTime<Utc>,
    next_renewal_at: Option<DateTime<Utc>>,
}

impl StatusLine {
    pub(crate) fn from_token(token: &CustomerAccessToken) -> Self {
        StatusLine {
            fingerprint: token.access_token().fingerprint().to_string(),
            state: "scheduled",
            expires_at: token.expires_at(),
            next_renewal_at: None,
        }
    }

    pub(crate) fn from_status(
        status: &storefront_token::renewal::TokenStatus<CustomerAccessToken>,
    ) -> Self {
        StatusLine {
            fingerprint: status.credential().access_token().fingerprint().to_string(),
            state: match status.state() {
                TokenState::Scheduled => "scheduled",
                TokenState::Renewing => "renewing",
                TokenState::Expired => "expired",
                TokenState::Rejected => "rejected",
                _ => "unknown",
            },
            expires_at: status.expires_at(),
            next_renewal_at: status.next_renewal_at(),
        }
    }

    pub(crate) fn render(&self, last_result: &str) -> String {
        let now = Utc::now();
        let next = match self.next_renewal_at {
            // A renewal due now or overdue is under way: "in 0s" would read as
            // stuck.
            Some(at) if at <= now + TimeDelta::seconds(1) => "renewing now".to_owned(),
            Some(at) => format!(
                "next renewal {} (in {})",
                at.with_timezone(&Local).format("%H:%M:%S"),
                short_duration(at - now)
            ),
            None => self.state.to_owned(),
        };
        format!(
            "token {} | {} left | {next} | last: {last_result}",
            self.fingerprint,
            short_duration(self.expires_at - now),
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A status line whose next renewal is `next_renewal_in` from now.
    pub(crate) fn status_line(next_renewal_in: TimeDelta) -> StatusLine {
        let now = Utc::now();
        StatusLine {
            fingerprint: "3e418e211f49".to_owned(),
            state: "scheduled",
            expires_at: now + TimeDelta::seconds(60),
            next_renewal_at: Some(now + next_renewal_in),
        }
    }

    #[test]
    fn a_due_renewal_reads_renewing_now_never_in_0s() {
        for due in [TimeDelta::milliseconds(-200), TimeDelta::milliseconds(500)] {
            let text = status_line(due).render("renewed at 10:00:00");
            assert!(
                text.contains("renewing now") && !text.contains("in 0s"),
                "{text}"
            );
        }
        let text = status_line(TimeDelta::seconds(30)).render("renewed at 10:00:00");
        assert!(
            text.contains("(in 29s)") || text.contains("(in 30s)"),
            "{text}"
        );
    }
}
