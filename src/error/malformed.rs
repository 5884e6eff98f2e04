//! A response that is not what the schema promises ([`MalformedResponse`]).

use chrono::{DateTime, Utc};

/// How a response was malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MalformedKind {
    /// The body is not JSON (for example an HTML page) or is cut short.
    NotJson,
    /// The JSON does not have the expected shape; the path names where.
    UnexpectedShape {
        /// The JSON path that did not fit, such as `data.customerAccessTokenRenew.customerAccessToken.expiresAt`.
        path: String,
    },
    /// `data` is null or missing and there are no `errors`.
    MissingData,
    /// The operation's payload is null with no error to say why.
    MissingPayload,
    /// Neither a token nor `userErrors` came back.
    MissingToken,
    /// The body is larger than the limit.
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// `expiresAt` is not after the current time (or, for a renewal, not in the
    /// future at all).
    ExpiryNotInFuture {
        /// The expiry Shopify sent.
        expires_at: DateTime<Utc>,
    },
}

/// The response could not be understood. Nothing of the body is kept but the
/// JSON path where decoding stopped.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", describe_malformed(.kind))]
pub struct MalformedResponse {
    kind: MalformedKind,
    request_id: Option<String>,
}

fn describe_malformed(kind: &MalformedKind) -> String {
    match kind {
        MalformedKind::NotJson => "the body is not complete json".to_owned(),
        MalformedKind::UnexpectedShape { path } => format!("unexpected json at `{path}`"),
        MalformedKind::MissingData => "no data and no errors".to_owned(),
        MalformedKind::MissingPayload => "the operation's payload is null".to_owned(),
        MalformedKind::MissingToken => "neither a token nor user errors".to_owned(),
        MalformedKind::BodyTooLarge { limit } => format!("the body exceeds {limit} bytes"),
        MalformedKind::ExpiryNotInFuture { expires_at } => {
            format!("expiresAt {expires_at} is not in the future")
        }
    }
}

impl MalformedResponse {
    pub(crate) fn new(kind: MalformedKind, request_id: Option<String>) -> Self {
        Self { kind, request_id }
    }

    /// How the response was malformed.
    #[must_use]
    pub fn kind(&self) -> &MalformedKind {
        &self.kind
    }

    /// Shopify's `X-Request-Id`.
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}
