//! Fault injection: scripted failures for the next requests.

use std::time::Duration;

use serde_json::json;

use super::reply::{Reply, HTML, JSON};

/// A failure the mock serves instead of (or before) its normal answer.
///
/// Queue faults with [`MockStorefront::inject`](super::MockStorefront::inject).
/// Each queued fault is consumed by exactly one incoming HTTP request, whatever
/// its path or credentials, before authentication and GraphQL validation run.
/// A fault never changes the mock's state (no token is created, renewed or deleted),
/// except [`Fault::Delay`], after which the request is handled normally.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this HTTP status and the plain JSON body `{"errors":"..."}`.
    ///
    /// `retry_after`, when set, is sent verbatim as the `Retry-After` header
    /// (it is dropped if it is not a valid header value). A status outside
    /// `200..=999` is sent as `500`.
    Status {
        /// HTTP status code, e.g. `429`, `430`, `503`.
        status: u16,
        /// Raw `Retry-After` header value, e.g. `"2"` or an HTTP date.
        retry_after: Option<String>,
    },
    /// HTTP 200 with `{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED"}}]}`.
    Throttled,
    /// HTTP 200, `"data": null` and one top-level error carrying `extensions.code`.
    GraphqlError {
        /// Value of `extensions.code`, e.g. `"INTERNAL_SERVER_ERROR"` or `"SHOP_INACTIVE"`.
        code: String,
        /// Value of `message`.
        message: String,
    },
    /// A `text/html` error page with this status (what a proxy or CDN might send).
    /// A status outside `200..=999` is sent as `500`.
    HtmlBody {
        /// HTTP status code.
        status: u16,
    },
    /// HTTP 200 with a JSON content type and the first half of a valid JSON body.
    /// `Content-Length` matches the truncated body.
    TruncatedJson,
    /// HTTP 200 with a valid JSON error body padded to at least `bytes` bytes.
    OversizedBody {
        /// Minimum size of the body in bytes.
        bytes: usize,
    },
    /// Wait this long (on the tokio timer), then handle the request normally. If
    /// the client gives up (times out) first, the request is never handled: no
    /// state changes.
    Delay(Duration),
    /// Close the connection without sending any response; the request is not
    /// handled.
    DropConnection,
    /// Handle the request (its state changes apply: a token is renewed, rotated
    /// or deleted), then close the connection without sending the response — a
    /// response lost on the way back.
    DropAfterProcessing,
}

/// What the server does with a dequeued fault.
#[derive(Debug)]
pub(crate) enum FaultAction {
    Reply(Reply),
    Delay(Duration),
    Drop,
    ProcessThenDrop,
}

impl Fault {
    /// Short name for debug logs.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Fault::Status { .. } => "status",
            Fault::Throttled => "throttled",
            Fault::GraphqlError { .. } => "graphql_error",
            Fault::HtmlBody { .. } => "html_body",
            Fault::TruncatedJson => "truncated_json",
            Fault::OversizedBody { .. } => "oversized_body",
            Fault::Delay(_) => "delay",
            Fault::DropConnection => "drop_connection",
            Fault::DropAfterProcessing => "drop_after_processing",
        }
    }

    pub(crate) fn action(&self) -> FaultAction {
        match self {
            Fault::Status {
                status,
                retry_after,
            } => {
                let mut reply = Reply::plain_error(
                    *status,
                    &format!("Mock Storefront injected HTTP {status}"),
                );
                reply.retry_after.clone_from(retry_after);
                FaultAction::Reply(reply)
            }
            Fault::Throttled => FaultAction::Reply(Reply::json(
                200,
                &json!({"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}),
            )),
            Fault::GraphqlError { code, message } => FaultAction::Reply(Reply::json(
                200,
                &json!({"data": null, "errors": [{"message": message, "extensions": {"code": code}}]}),
            )),
            Fault::HtmlBody { status } => FaultAction::Reply(Reply {
                status: *status,
                content_type: HTML,
                body: format!(
                    "<!DOCTYPE html>\n<html><head><title>Error {status}</title></head>\
                     <body><h1>Something went wrong</h1><p>Mock Storefront injected HTTP {status}.</p></body></html>\n"
                )
                .into_bytes(),
                retry_after: None,
            }),
            Fault::TruncatedJson => {
                let full = Reply::json(200, &json!({"data": {"customerAccessTokenRenew": {
                    "customerAccessToken": {"accessToken": "0".repeat(32), "expiresAt": "2026-01-01T00:00:00Z"},
                    "userErrors": []
                }}}));
                let mut body = full.body;
                body.truncate(body.len() / 2);
                FaultAction::Reply(Reply {
                    status: 200,
                    content_type: JSON,
                    body,
                    retry_after: None,
                })
            }
            Fault::OversizedBody { bytes } => FaultAction::Reply(Reply::json(
                200,
                &json!({"data": null, "errors": [{
                    "message": "Mock Storefront injected an oversized body",
                    "extensions": {"code": "INTERNAL_SERVER_ERROR", "padding": "x".repeat(*bytes)}
                }]}),
            )),
            Fault::Delay(by) => FaultAction::Delay(*by),
            Fault::DropConnection => FaultAction::Drop,
            Fault::DropAfterProcessing => FaultAction::ProcessThenDrop,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_json_does_not_parse() {
        let FaultAction::Reply(reply) = Fault::TruncatedJson.action() else {
            panic!("truncated JSON is a reply");
        };
        assert!(serde_json::from_slice::<serde_json::Value>(&reply.body).is_err());
    }

    #[test]
    fn oversized_body_is_big_and_valid() {
        let FaultAction::Reply(reply) = (Fault::OversizedBody { bytes: 10_000 }).action() else {
            panic!("oversized body is a reply");
        };
        assert!(reply.body.len() >= 10_000);
        assert!(serde_json::from_slice::<serde_json::Value>(&reply.body).is_ok());
    }
}
