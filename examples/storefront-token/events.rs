//! Renewal events as text lines and JSON objects (never a token), and the
//! events that mean the token is dead.

use std::error::Error as StdError;

use chrono::{DateTime, Utc};
use serde_json::json;
use storefront_token::renewal::RenewalEvent;
use storefront_token::{CustomerAccessToken, ErrorReport};

use super::{Failure, EXIT_LOG_IN_AGAIN};

/// The token's fingerprint after an event that gave it a new credential.
pub(crate) fn renewed_fingerprint(
    event: &RenewalEvent,
    current: Option<&CustomerAccessToken>,
) -> Option<String> {
    let renewed = matches!(
        event,
        RenewalEvent::Renewed { .. } | RenewalEvent::LoggedInAgain { .. }
    );
    current
        .filter(|_| renewed)
        .map(|token| token.access_token().fingerprint().to_string())
}

/// An event as one line of text: its `Display` (with the whole error chain), and
/// after a renewal the new token's fingerprint (never the token itself).
pub(crate) fn event_text(event: &RenewalEvent, current: Option<&CustomerAccessToken>) -> String {
    match renewed_fingerprint(event, current) {
        Some(fingerprint) => format!("{event} (token {fingerprint})"),
        None => event.to_string(),
    }
}

/// An event as a JSON object: its kind (`event`), `id` and fields, `message` (the
/// same line as [`event_text`]), `error` (the error chain) and, from a Storefront
/// error, its HTTP `status` and `request_id`. Never a token.
pub(crate) fn event_json(
    event: &RenewalEvent,
    current: Option<&CustomerAccessToken>,
) -> serde_json::Value {
    let at = |time: &DateTime<Utc>| json!(time.to_rfc3339());
    let next = |time: &Option<DateTime<Utc>>| json!(time.map(|time| time.to_rfc3339()));
    let mut value = match event {
        RenewalEvent::Renewed { expires_at, .. } => {
            json!({ "event": "renewed", "expires_at": at(expires_at) })
        }
        RenewalEvent::LoggedInAgain { expires_at, .. } => {
            json!({ "event": "logged in again", "expires_at": at(expires_at) })
        }
        RenewalEvent::AdoptedFromStore { expires_at, .. } => {
            json!({ "event": "adopted from store", "expires_at": at(expires_at) })
        }
        RenewalEvent::RenewalFailed {
            attempt,
            next_attempt_at,
            transient,
            ..
        } => json!({
            "event": "renewal failed",
            "attempt": attempt,
            "next_attempt_at": next(next_attempt_at),
            "transient": transient,
        }),
        RenewalEvent::Expired { .. } => json!({ "event": "expired" }),
        RenewalEvent::Rejected { .. } => json!({ "event": "rejected" }),
        RenewalEvent::ReloginFailed {
            attempt,
            next_attempt_at,
            ..
        } => json!({
            "event": "re-login failed",
            "attempt": attempt,
            "next_attempt_at": next(next_attempt_at),
        }),
        RenewalEvent::NotLoggedInAgain { .. } => json!({ "event": "not logged in again" }),
        RenewalEvent::Removed { .. } => json!({ "event": "removed" }),
        RenewalEvent::StoreFailed { will_retry, .. } => {
            json!({ "event": "store failed", "will_retry": will_retry })
        }
        RenewalEvent::Persisted { .. } => json!({ "event": "persisted" }),
        RenewalEvent::ShopPaused { until, .. } => {
            json!({ "event": "shop paused", "until": at(until) })
        }
        RenewalEvent::ShopResumed => json!({ "event": "shop resumed" }),
        RenewalEvent::ClockJump { jump } => {
            json!({ "event": "clock jump", "jump_ms": jump.num_milliseconds() })
        }
        RenewalEvent::ClockSkew { offset } => {
            json!({ "event": "clock skew", "offset_ms": offset.num_milliseconds() })
        }
        _ => json!({ "event": "other" }),
    };
    value["message"] = json!(event_text(event, current));
    if let Some(id) = event.id() {
        value["id"] = json!(id.as_str());
    }
    if let Some(error) = event.error() {
        value["error"] = json!(ErrorReport::new(error).to_string());
        let storefront = error.source_as::<storefront_token::Error>();
        if let Some(status) = storefront.and_then(storefront_token::Error::status) {
            value["status"] = json!(status);
        }
        if let Some(request_id) = storefront.and_then(storefront_token::Error::request_id) {
            value["request_id"] = json!(request_id);
        }
    }
    if let Some(fingerprint) = renewed_fingerprint(event, current) {
        value["fingerprint"] = json!(fingerprint);
    }
    value
}

/// The failure (exit 3) an event means for a token that has no re-login: it
/// expired or was rejected.
pub(crate) fn dead_token(event: &RenewalEvent) -> Option<Failure> {
    let error: Box<dyn StdError> = match event {
        RenewalEvent::Rejected { error, .. } => Box::new(error.clone()),
        RenewalEvent::Expired { .. } => {
            "the token expired before it could be renewed; log in again".into()
        }
        _ => return None,
    };
    Some(Failure {
        code: EXIT_LOG_IN_AGAIN,
        error,
    })
}
