//! A response before the common headers are added.

use serde_json::{json, Value};

/// Body and status of one response; `server.rs` adds the headers every response carries.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: Vec<u8>,
    /// Sent verbatim as `Retry-After` when set.
    pub(crate) retry_after: Option<String>,
}

pub(crate) const JSON: &str = "application/json; charset=utf-8";
pub(crate) const HTML: &str = "text/html; charset=utf-8";

impl Reply {
    /// A JSON reply.
    pub(crate) fn json(status: u16, body: &Value) -> Self {
        Reply {
            status,
            content_type: JSON,
            // Serialising a `Value` cannot fail (its keys are strings).
            body: serde_json::to_vec(body).unwrap_or_default(),
            retry_after: None,
        }
    }

    /// The answer to a CORS preflight (`OPTIONS`): `204 No Content`, no body;
    /// `server.rs` adds the CORS headers.
    pub(crate) fn preflight() -> Self {
        Reply {
            status: 204,
            content_type: "",
            body: Vec::new(),
            retry_after: None,
        }
    }

    /// Shopify's plain error shape: `{"errors": "<message>"}`.
    pub(crate) fn plain_error(status: u16, message: &str) -> Self {
        Reply::json(status, &json!({ "errors": message }))
    }

    /// A request error: `{"errors": [{"message": "<message>"}]}`.
    pub(crate) fn request_error(status: u16, message: &str) -> Self {
        Reply::json(status, &json!({ "errors": [{ "message": message }] }))
    }
}
