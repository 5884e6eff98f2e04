//! The crate's one error type.
//!
//! [`Error`] keeps Shopify's three failure layers apart: the HTTP status
//! ([`HttpError`]), the top-level GraphQL `errors` ([`GraphqlErrors`]) and the
//! mutation's own `userErrors` ([`TokenRejected`], [`LoginRejected`]). Whether a
//! failure is worth retrying is decided in one place, [`Error::is_transient`];
//! how far it reaches (one token, the whole shop, nothing lasting) in one other,
//! [`Error::failure_scope`]. [`ErrorReport`] prints an error with its sources on
//! one line.
//!
//! No error holds a token, a password or a raw response body: messages that come
//! back from Shopify are scrubbed of the secrets that were sent, and decoding
//! failures only name the JSON path that did not fit.

mod graphql;
mod http;
mod malformed;
mod mutation;
mod report;
mod setup;

use std::fmt;
use std::time::Duration;

pub use graphql::{GraphqlError, GraphqlErrorCode, GraphqlErrors};
pub use http::{HttpError, HttpStatusKind};
pub use malformed::{MalformedKind, MalformedResponse};
pub use mutation::{CustomerErrorCode, CustomerUserError, LoginRejected, TokenRejected, UserError};
pub use report::ErrorReport;
pub use setup::{ConfigError, ConfigErrorKind, TransportError, TransportErrorKind};

use crate::Operation;

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a Storefront call failed.
///
/// Inspect it with [`kind`](Self::kind), or with the questions callers usually ask:
/// [`is_transient`](Self::is_transient), [`must_log_in_again`](Self::must_log_in_again),
/// [`failure_scope`](Self::failure_scope), [`status`](Self::status),
/// [`retry_after`](Self::retry_after), [`request_id`](Self::request_id).
///
/// `Display` is one lowercase phrase; the details are in [`source`](std::error::Error::source).
/// [`ErrorReport`] prints both on one line.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    operation: Option<Operation>,
}

/// How far a failure reaches: one token, the whole shop, or nothing lasting.
///
/// Decided in one place, [`Error::failure_scope`], which has the full table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureScope {
    /// This token is dead: only a new login helps
    /// ([`must_log_in_again`](Error::must_log_in_again) is true).
    Token,
    /// The shop refuses every token for now, whatever the token: a wrong or
    /// revoked storefront token (401), a frozen (402) or locked (423) shop,
    /// forbidden (403), a wrong endpoint or API version (404), a security
    /// rejection (430), a redirect, GraphQL `ACCESS_DENIED` (including the missing
    /// `unauthenticated_write_customers` scope) or `SHOP_INACTIVE`, configuration
    /// errors, and a target that cannot work
    /// ([`TransportErrorKind::InvalidTarget`]). Retrying each token separately would burn attempts;
    /// pause the shop instead.
    Shop,
    /// Worth retrying later for this token: everything else, unknown errors
    /// included (network, timeouts, 408, 429, 5xx, `THROTTLED`,
    /// `INTERNAL_SERVER_ERROR`, malformed responses).
    /// [`retry_after`](Error::retry_after) is the least wait when the server gave
    /// one.
    Transient,
}

/// The layer a failure came from, with its details.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The client was configured wrongly; nothing was sent.
    Config(ConfigError),
    /// The request did not complete: connection, timeout or body failure.
    Transport(TransportError),
    /// The storefront answered with a non-success HTTP status.
    Http(HttpError),
    /// The storefront answered 200 with top-level GraphQL `errors`.
    Graphql(GraphqlErrors),
    /// `customerAccessTokenRenew` or `customerAccessTokenDelete` answered with
    /// `userErrors`, or the `customer` query found no customer: the token is not
    /// valid (expired, revoked or unknown) and the customer must log in again.
    TokenRejected(TokenRejected),
    /// `customerAccessTokenCreate` answered with `customerUserErrors`, such as wrong
    /// credentials.
    LoginRejected(LoginRejected),
    /// The response could not be understood: not JSON, the wrong shape, too large,
    /// or an expiry that is not in the future.
    MalformedResponse(MalformedResponse),
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, operation: Option<Operation>) -> Self {
        Self {
            inner: Box::new(Inner { kind, operation }),
        }
    }

    /// After a 404 from an endpoint whose path is not `/api/{version}/graphql.json`:
    /// the message shows the form it should have.
    pub(crate) fn with_endpoint_form_hint(mut self) -> Self {
        if let ErrorKind::Http(error) = &mut self.inner.kind {
            *error = error.clone().with_endpoint_form_hint();
        }
        self
    }

    /// The layer the failure came from, with its details.
    #[must_use]
    pub fn kind(&self) -> &ErrorKind {
        &self.inner.kind
    }

    /// The operation that failed; `None` for configuration errors.
    #[must_use]
    pub fn operation(&self) -> Option<Operation> {
        self.inner.operation
    }

    /// Whether trying the same request again later may succeed.
    ///
    /// This is the one place the crate decides it; the client's retries and the
    /// renewal logic both ask here. Transient: connection failures and timeouts,
    /// HTTP 408, 429 and 5xx, and the GraphQL codes `THROTTLED` and
    /// `INTERNAL_SERVER_ERROR`. Everything else is permanent, including unknown
    /// GraphQL codes and malformed responses, so a mutation is never repeated on a
    /// guess, and every failure that waiting cannot heal: configuration errors
    /// (a malformed shop name is refused when the client is built) and
    /// [`TransportErrorKind::InvalidTarget`] (a host that is not a valid DNS name,
    /// a URL the HTTP client refuses, a TLS certificate or set-up it rejects).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self.kind() {
            ErrorKind::Transport(error) => match error.kind() {
                TransportErrorKind::Connect
                | TransportErrorKind::Interrupted
                | TransportErrorKind::Timeout
                | TransportErrorKind::Body => true,
                TransportErrorKind::Request | TransportErrorKind::InvalidTarget => false,
            },
            ErrorKind::Http(error) => matches!(error.status(), 408 | 429 | 500..=599),
            ErrorKind::Graphql(errors) => {
                !errors.errors().is_empty()
                    && errors.errors().iter().all(|error| {
                        matches!(
                            error.code(),
                            Some(
                                GraphqlErrorCode::Throttled | GraphqlErrorCode::InternalServerError
                            )
                        )
                    })
            }
            ErrorKind::Config(_)
            | ErrorKind::TokenRejected(_)
            | ErrorKind::LoginRejected(_)
            | ErrorKind::MalformedResponse(_) => false,
        }
    }

    /// Whether the customer access token is no longer valid, so only a new login
    /// (`customerAccessTokenCreate`) can help.
    #[must_use]
    pub fn must_log_in_again(&self) -> bool {
        matches!(self.kind(), ErrorKind::TokenRejected(_))
    }

    /// How far the failure reaches: this token, the whole shop, or nothing lasting.
    ///
    /// This is the one place the crate decides it; the renewal engine asks here
    /// whether to log in again, pause the shop or retry the token later.
    ///
    /// | Failure | Scope |
    /// |---|---|
    /// | [`TokenRejected`] (renew or delete `userErrors`, no customer for the token) | [`Token`](FailureScope::Token) |
    /// | HTTP 401, 402, 403, 404, 423, 430 and 3xx redirects | [`Shop`](FailureScope::Shop) |
    /// | GraphQL `errors` with any `ACCESS_DENIED` or `SHOP_INACTIVE` | [`Shop`](FailureScope::Shop) |
    /// | configuration errors ([`ConfigError`]) | [`Shop`](FailureScope::Shop) |
    /// | [`TransportErrorKind::InvalidTarget`] (invalid DNS name, refused URL or TLS) | [`Shop`](FailureScope::Shop) |
    /// | other transport failures (connect, interrupted, timeout, body, request) | [`Transient`](FailureScope::Transient) |
    /// | HTTP 408, 429, 5xx, 400 and any other status | [`Transient`](FailureScope::Transient) |
    /// | GraphQL `THROTTLED`, `INTERNAL_SERVER_ERROR`, `MAX_COMPLEXITY_EXCEEDED`, unknown or missing codes | [`Transient`](FailureScope::Transient) |
    /// | [`LoginRejected`] (`customerUserErrors` of a login) | [`Transient`](FailureScope::Transient) |
    /// | [`MalformedResponse`] | [`Transient`](FailureScope::Transient) |
    ///
    /// So [`must_log_in_again`](Self::must_log_in_again) always means `Token`, and
    /// [`is_transient`](Self::is_transient) always means `Transient`; a GraphQL
    /// answer that mixes a shop-level code with others is `Shop`. Anything not
    /// known to reach further is `Transient`, so an unknown failure never pauses a
    /// shop or discards a token. [`retry_after`](Self::retry_after) is the least
    /// wait when the storefront gave one.
    #[must_use]
    pub fn failure_scope(&self) -> FailureScope {
        match self.kind() {
            ErrorKind::TokenRejected(_) => FailureScope::Token,
            ErrorKind::Config(_) => FailureScope::Shop,
            ErrorKind::Transport(error) if error.kind() == TransportErrorKind::InvalidTarget => {
                FailureScope::Shop
            }
            ErrorKind::Http(error) => match error.status_kind() {
                HttpStatusKind::Unauthorized
                | HttpStatusKind::ShopFrozen
                | HttpStatusKind::Forbidden
                | HttpStatusKind::NotFound
                | HttpStatusKind::ShopLocked
                | HttpStatusKind::SecurityRejection
                | HttpStatusKind::Redirect => FailureScope::Shop,
                HttpStatusKind::BadRequest
                | HttpStatusKind::RequestTimeout
                | HttpStatusKind::Throttled
                | HttpStatusKind::ServerError
                | HttpStatusKind::Other => FailureScope::Transient,
            },
            ErrorKind::Graphql(errors) => {
                let shop_wide = errors.errors().iter().any(|error| match error.code() {
                    Some(GraphqlErrorCode::AccessDenied | GraphqlErrorCode::ShopInactive) => true,
                    Some(
                        GraphqlErrorCode::Throttled
                        | GraphqlErrorCode::InternalServerError
                        | GraphqlErrorCode::MaxComplexityExceeded
                        | GraphqlErrorCode::Other(_),
                    )
                    | None => false,
                });
                if shop_wide {
                    FailureScope::Shop
                } else {
                    FailureScope::Transient
                }
            }
            ErrorKind::Transport(_)
            | ErrorKind::LoginRejected(_)
            | ErrorKind::MalformedResponse(_) => FailureScope::Transient,
        }
    }

    /// The HTTP status, when the storefront answered with a non-success one.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self.kind() {
            ErrorKind::Http(error) => Some(error.status()),
            _ => None,
        }
    }

    /// How long the storefront asked us to wait (`Retry-After`), if it did.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self.kind() {
            ErrorKind::Http(error) => error.retry_after(),
            _ => None,
        }
    }

    /// Shopify's `X-Request-Id` of the failed response, for support requests.
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        match self.kind() {
            ErrorKind::Http(error) => error.request_id(),
            ErrorKind::Graphql(error) => error.request_id(),
            ErrorKind::TokenRejected(error) => error.request_id(),
            ErrorKind::LoginRejected(error) => error.request_id(),
            ErrorKind::MalformedResponse(error) => error.request_id(),
            ErrorKind::Config(_) | ErrorKind::Transport(_) => None,
        }
    }

    /// Whether the request timed out.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(self.kind(), ErrorKind::Transport(error) if error.kind() == TransportErrorKind::Timeout)
    }

    /// Whether the connection could not be made.
    #[must_use]
    pub fn is_connect(&self) -> bool {
        matches!(self.kind(), ErrorKind::Transport(error) if error.kind() == TransportErrorKind::Connect)
    }

    /// Whether the client was configured wrongly.
    #[must_use]
    pub fn is_config(&self) -> bool {
        matches!(self.kind(), ErrorKind::Config(_))
    }

    fn phrase(&self) -> &'static str {
        match self.kind() {
            ErrorKind::Config(_) => "invalid client configuration",
            ErrorKind::Transport(_) => "request to the storefront failed",
            ErrorKind::Http(_) => "storefront answered with an error status",
            ErrorKind::Graphql(_) => "storefront answered with graphql errors",
            ErrorKind::TokenRejected(_) => {
                "customer access token was rejected; the customer must log in again"
            }
            ErrorKind::LoginRejected(_) => "customer login was rejected",
            ErrorKind::MalformedResponse(_) => "storefront response was malformed",
        }
    }
}

impl From<ConfigError> for Error {
    fn from(error: ConfigError) -> Self {
        Error::new(ErrorKind::Config(error), None)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.operation() {
            Some(operation) => write!(f, "{operation}: {}", self.phrase()),
            None => f.write_str(self.phrase()),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("operation", &self.inner.operation)
            .field("kind", &self.inner.kind)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(match self.kind() {
            ErrorKind::Config(error) => error,
            ErrorKind::Transport(error) => error,
            ErrorKind::Http(error) => error,
            ErrorKind::Graphql(error) => error,
            ErrorKind::TokenRejected(error) => error,
            ErrorKind::LoginRejected(error) => error,
            ErrorKind::MalformedResponse(error) => error,
        })
    }
}

#[cfg(test)]
mod tests;
