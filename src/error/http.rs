//! The HTTP layer: a non-success status ([`HttpError`], [`HttpStatusKind`]).

use std::time::Duration;

/// What a non-success HTTP status means on the Storefront API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpStatusKind {
    /// 400: the storefront would not process the request.
    BadRequest,
    /// 401: the storefront access token is missing or wrong.
    Unauthorized,
    /// 402: the shop is frozen until its owner pays the outstanding balance.
    ShopFrozen,
    /// 403: the shop is forbidden (marked fraudulent) or the token lacks a scope.
    Forbidden,
    /// 3xx: a redirect, which the client does not follow (check the shop domain:
    /// a custom domain may redirect to the myshopify one).
    Redirect,
    /// 404: wrong endpoint or API version, or the resource is gone.
    NotFound,
    /// 408: the server timed out waiting for the request.
    RequestTimeout,
    /// 423: the shop is locked.
    ShopLocked,
    /// 429: too many requests.
    Throttled,
    /// 430: Shopify's security rejection (send the right Buyer IP).
    SecurityRejection,
    /// 5xx: an internal error at Shopify.
    ServerError,
    /// Any other status.
    Other,
}

impl HttpStatusKind {
    /// The meaning of `status` on the Storefront API.
    #[must_use]
    pub fn of(status: u16) -> Self {
        match status {
            300..=399 => Self::Redirect,
            400 => Self::BadRequest,
            401 => Self::Unauthorized,
            402 => Self::ShopFrozen,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            408 => Self::RequestTimeout,
            423 => Self::ShopLocked,
            429 => Self::Throttled,
            430 => Self::SecurityRejection,
            500..=599 => Self::ServerError,
            _ => Self::Other,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Redirect => "redirected: check the shop domain (redirects are not followed)",
            Self::BadRequest => "bad request",
            Self::Unauthorized => "storefront access token missing or wrong",
            Self::ShopFrozen => "shop is frozen",
            Self::Forbidden => "forbidden: shop blocked or token lacks a scope",
            Self::NotFound => "not found: check the endpoint and api version",
            Self::RequestTimeout => "request timeout",
            Self::ShopLocked => "shop is locked",
            Self::Throttled => "throttled",
            Self::SecurityRejection => "security rejection: check the buyer ip header",
            Self::ServerError => "server error",
            Self::Other => "unexpected status",
        }
    }
}

/// The storefront answered with a non-success HTTP status. The body is not kept.
#[derive(Debug, Clone, thiserror::Error)]
#[error("http {status}: {}{}", HttpStatusKind::of(*.status).describe(), .hint.unwrap_or_default())]
pub struct HttpError {
    status: u16,
    retry_after: Option<Duration>,
    request_id: Option<String>,
    hint: Option<&'static str>,
}

impl HttpError {
    pub(crate) fn new(
        status: u16,
        retry_after: Option<Duration>,
        request_id: Option<String>,
    ) -> Self {
        Self {
            status,
            retry_after,
            request_id,
            hint: None,
        }
    }

    /// Adds to the message, after a 404 from an endpoint whose path is not the
    /// Storefront API's, the form it should have.
    pub(crate) fn with_endpoint_form_hint(mut self) -> Self {
        if self.status == 404 {
            self.hint = Some(
                " (a storefront endpoint has the form \
                 https://{shop domain}/api/{version}/graphql.json, \
                 such as https://my-shop.myshopify.com/api/2026-04/graphql.json)",
            );
        }
        self
    }

    /// The HTTP status code.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// What the status means on the Storefront API.
    #[must_use]
    pub fn status_kind(&self) -> HttpStatusKind {
        HttpStatusKind::of(self.status)
    }

    /// The wait the storefront asked for in `Retry-After`, if any.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Shopify's `X-Request-Id`.
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}
