//! The GraphQL layer: top-level `errors` ([`GraphqlErrors`], [`GraphqlErrorCode`]).

use std::fmt;

/// A top-level GraphQL error's `extensions.code`. Shopify says more codes may
/// appear, so unknown ones are kept in [`Other`](Self::Other).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GraphqlErrorCode {
    /// `THROTTLED`: slow down and retry.
    Throttled,
    /// `ACCESS_DENIED`: wrong credentials or a missing scope
    /// (`unauthenticated_write_customers` for the token mutations).
    AccessDenied,
    /// `SHOP_INACTIVE`: the shop is not active.
    ShopInactive,
    /// `INTERNAL_SERVER_ERROR`: an error at Shopify, worth retrying.
    InternalServerError,
    /// `MAX_COMPLEXITY_EXCEEDED`: the query is too complex.
    MaxComplexityExceeded,
    /// Any other code, as sent.
    Other(String),
}

impl GraphqlErrorCode {
    /// The code for the `extensions.code` string `code`.
    #[must_use]
    pub fn parse(code: &str) -> Self {
        match code {
            "THROTTLED" => Self::Throttled,
            "ACCESS_DENIED" => Self::AccessDenied,
            "SHOP_INACTIVE" => Self::ShopInactive,
            "INTERNAL_SERVER_ERROR" => Self::InternalServerError,
            "MAX_COMPLEXITY_EXCEEDED" => Self::MaxComplexityExceeded,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The code as Shopify spells it.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Throttled => "THROTTLED",
            Self::AccessDenied => "ACCESS_DENIED",
            Self::ShopInactive => "SHOP_INACTIVE",
            Self::InternalServerError => "INTERNAL_SERVER_ERROR",
            Self::MaxComplexityExceeded => "MAX_COMPLEXITY_EXCEEDED",
            Self::Other(code) => code,
        }
    }
}

impl fmt::Display for GraphqlErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One top-level GraphQL error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphqlError {
    message: String,
    code: Option<GraphqlErrorCode>,
    path: Vec<String>,
}

impl GraphqlError {
    pub(crate) fn new(message: String, code: Option<GraphqlErrorCode>, path: Vec<String>) -> Self {
        Self {
            message,
            code,
            path,
        }
    }

    /// The message, scrubbed of any secret that was sent.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// `extensions.code`, when present.
    #[must_use]
    pub fn code(&self) -> Option<&GraphqlErrorCode> {
        self.code.as_ref()
    }

    /// The response path the error refers to (list indices written as numbers).
    #[must_use]
    pub fn path(&self) -> &[String] {
        &self.path
    }
}

/// Top-level GraphQL `errors` of a 200 response.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", describe_graphql_errors(.errors))]
pub struct GraphqlErrors {
    errors: Vec<GraphqlError>,
    request_id: Option<String>,
}

fn describe_graphql_errors(errors: &[GraphqlError]) -> String {
    let mut text = String::new();
    for (index, error) in errors.iter().enumerate() {
        if index > 0 {
            text.push_str("; ");
        }
        if let Some(code) = error.code() {
            text.push_str(code.as_str());
            text.push_str(": ");
        }
        text.push_str(error.message());
    }
    text
}

impl GraphqlErrors {
    pub(crate) fn new(errors: Vec<GraphqlError>, request_id: Option<String>) -> Self {
        Self { errors, request_id }
    }

    /// The errors, in the order Shopify sent them (never empty).
    #[must_use]
    pub fn errors(&self) -> &[GraphqlError] {
        &self.errors
    }

    /// Whether any error carries `code`.
    #[must_use]
    pub fn has_code(&self, code: &GraphqlErrorCode) -> bool {
        self.errors.iter().any(|error| error.code() == Some(code))
    }

    /// Shopify's `X-Request-Id`.
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}
