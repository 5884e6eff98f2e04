//! The details behind each [`ErrorKind`](super::ErrorKind): small structs with
//! private fields and accessors, so they can grow without breaking callers.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What is wrong with the client's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// Neither a shop nor an endpoint was given.
    MissingEndpoint,
    /// Both a shop and an endpoint were given.
    ConflictingEndpoint,
    /// The shop name or domain is not valid.
    InvalidShop,
    /// The endpoint is not a valid URL.
    InvalidEndpoint,
    /// The endpoint uses plain `http://` on a host that is not loopback.
    InsecureEndpoint,
    /// The API version is not of the form `YYYY-MM` or `unstable`.
    InvalidApiVersion,
    /// No storefront access token (public or private) was given.
    MissingStorefrontToken,
    /// A value cannot be sent as an HTTP header.
    InvalidHeaderValue,
    /// A Buyer IP was given without a private token.
    BuyerIpWithoutPrivateToken,
    /// An API version was set that differs from the one the endpoint's path
    /// names (`/api/{version}/graphql.json`).
    ConflictingApiVersion,
    /// The variables of an operation sent with
    /// [`StorefrontClient::execute`](crate::StorefrontClient::execute) could not be
    /// encoded as JSON; nothing was sent.
    InvalidVariables,
    /// The HTTP client could not be built (for example, TLS could not initialise).
    HttpClient,
}

/// The client was configured wrongly; see [`kind`](Self::kind).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    kind: ConfigErrorKind,
    message: String,
    #[source]
    source: Option<BoxError>,
}

impl ConfigError {
    pub(crate) fn new(kind: ConfigErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// What is wrong.
    #[must_use]
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }
}

/// How a request failed to complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The connection could not be made; nothing was sent.
    Connect,
    /// The connection broke before a response arrived; the request may or may not
    /// have reached the storefront.
    Interrupted,
    /// The request or response took longer than the configured timeout.
    Timeout,
    /// The response body could not be read completely.
    Body,
    /// The request could not be sent for another reason.
    Request,
    /// The storefront's address or TLS set-up cannot work, however long one
    /// waits: a host that is not a valid DNS name, a URL the HTTP client refuses,
    /// or a TLS certificate or configuration the client rejects. Nothing was sent.
    InvalidTarget,
}

/// A request that did not complete; see [`kind`](Self::kind).
#[derive(Debug, thiserror::Error)]
#[error("{}", match .kind {
    TransportErrorKind::Connect => "could not connect to the storefront",
    TransportErrorKind::Interrupted => "the connection broke before a response arrived",
    TransportErrorKind::Timeout => "the request timed out",
    TransportErrorKind::Body => "the response body could not be read",
    TransportErrorKind::Request => "the request could not be sent",
    TransportErrorKind::InvalidTarget => "the storefront cannot be reached as configured (check the shop or endpoint, and TLS)",
})]
pub struct TransportError {
    kind: TransportErrorKind,
    #[source]
    source: Option<BoxError>,
}

impl TransportError {
    /// A transport failure of `kind`, unless its `source` shows that the target
    /// itself cannot work (an invalid DNS name, a URL or TLS set-up the client
    /// refuses): then [`InvalidTarget`](TransportErrorKind::InvalidTarget), which no
    /// retry can heal.
    pub(crate) fn new(kind: TransportErrorKind, source: Option<BoxError>) -> Self {
        let kind = match (&kind, &source) {
            (TransportErrorKind::Timeout | TransportErrorKind::Body, _) | (_, None) => kind,
            (_, Some(source)) if invalid_target(source.as_ref()) => {
                TransportErrorKind::InvalidTarget
            }
            _ => kind,
        };
        Self { kind, source }
    }

    /// How the request failed.
    #[must_use]
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }
}

/// Whether an error chain says the target cannot work whatever the wait: the
/// HTTP client refused to build the request (a bad URL), the host is not a valid
/// DNS name, or TLS refused the peer's certificate or its own configuration.
/// reqwest, hyper and the TLS libraries expose these only as messages deep in the
/// chain, so the messages are matched (lowercase).
fn invalid_target(error: &(dyn std::error::Error + 'static)) -> bool {
    const PERMANENT: &[&str] = &[
        "invalid dns name",
        "invalid dnsname",
        "invalid peer certificate",
        "certificate verify failed",
        "no cipher suites",
        "no process-level cryptoprovider",
        "relative url without a base",
        "invalid uri",
        "invalid domain character",
        "empty host",
        "invalid international domain name",
    ];
    let mut next = Some(error);
    while let Some(error) = next {
        if error
            .downcast_ref::<reqwest::Error>()
            .is_some_and(reqwest::Error::is_builder)
        {
            return true;
        }
        let message = error.to_string().to_ascii_lowercase();
        if PERMANENT.iter().any(|needle| message.contains(needle)) {
            return true;
        }
        next = error.source();
    }
    false
}

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

/// One of a mutation's `userErrors` (a `UserError`, which has no code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserError {
    field: Vec<String>,
    message: String,
}

impl UserError {
    pub(crate) fn new(field: Vec<String>, message: String) -> Self {
        Self { field, message }
    }

    /// The path to the input field the error is about (may be empty).
    #[must_use]
    pub fn field(&self) -> &[String] {
        &self.field
    }

    /// The message, scrubbed of any secret that was sent.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

fn describe_field_errors<'a>(errors: impl Iterator<Item = (&'a [String], &'a str)>) -> String {
    let parts: Vec<String> = errors
        .map(|(field, message)| {
            if field.is_empty() {
                message.to_owned()
            } else {
                format!("{}: {message}", field.join("."))
            }
        })
        .collect();
    parts.join("; ")
}

/// The token was refused by renew, delete or the `customer` query: it is expired,
/// revoked or unknown, and only a new login helps.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", if .user_errors.is_empty() {
    "no customer for this token".to_owned()
} else {
    describe_field_errors(.user_errors.iter().map(|e| (e.field(), e.message())))
})]
pub struct TokenRejected {
    user_errors: Vec<UserError>,
    request_id: Option<String>,
}

impl TokenRejected {
    pub(crate) fn new(user_errors: Vec<UserError>, request_id: Option<String>) -> Self {
        Self {
            user_errors,
            request_id,
        }
    }

    /// The `userErrors` Shopify sent (empty when the `customer` query found no
    /// customer).
    #[must_use]
    pub fn user_errors(&self) -> &[UserError] {
        &self.user_errors
    }

    /// Shopify's `X-Request-Id`.
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

/// `CustomerErrorCode` of the Storefront API 2026-04, with a fallback for values
/// added later.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CustomerErrorCode {
    /// Customer already enabled.
    AlreadyEnabled,
    /// Input email contains an invalid domain name.
    BadDomain,
    /// The input value is blank.
    Blank,
    /// Input contains HTML tags.
    ContainsHtmlTags,
    /// Input contains URL.
    ContainsUrl,
    /// Customer is disabled.
    CustomerDisabled,
    /// The input value is invalid.
    Invalid,
    /// Multipass token is not valid.
    InvalidMultipassRequest,
    /// Address does not exist.
    NotFound,
    /// Input password starts or ends with whitespace.
    PasswordStartsOrEndsWithWhitespace,
    /// The input value is already taken.
    Taken,
    /// Invalid activation token.
    TokenInvalid,
    /// The input value is too long.
    TooLong,
    /// The input value is too short.
    TooShort,
    /// Unidentified customer: wrong email or password.
    UnidentifiedCustomer,
    /// A value this version of the crate does not know, as sent.
    Unknown(String),
}

impl CustomerErrorCode {
    /// Every value defined by the 2026-04 schema, with Shopify's spelling.
    pub const KNOWN: &'static [(CustomerErrorCode, &'static str)] = &[
        (Self::AlreadyEnabled, "ALREADY_ENABLED"),
        (Self::BadDomain, "BAD_DOMAIN"),
        (Self::Blank, "BLANK"),
        (Self::ContainsHtmlTags, "CONTAINS_HTML_TAGS"),
        (Self::ContainsUrl, "CONTAINS_URL"),
        (Self::CustomerDisabled, "CUSTOMER_DISABLED"),
        (Self::Invalid, "INVALID"),
        (Self::InvalidMultipassRequest, "INVALID_MULTIPASS_REQUEST"),
        (Self::NotFound, "NOT_FOUND"),
        (
            Self::PasswordStartsOrEndsWithWhitespace,
            "PASSWORD_STARTS_OR_ENDS_WITH_WHITESPACE",
        ),
        (Self::Taken, "TAKEN"),
        (Self::TokenInvalid, "TOKEN_INVALID"),
        (Self::TooLong, "TOO_LONG"),
        (Self::TooShort, "TOO_SHORT"),
        (Self::UnidentifiedCustomer, "UNIDENTIFIED_CUSTOMER"),
    ];

    /// The code for Shopify's spelling `code`; unknown spellings are kept.
    #[must_use]
    pub fn parse(code: &str) -> Self {
        Self::KNOWN
            .iter()
            .find(|(_, name)| *name == code)
            .map_or_else(
                || Self::Unknown(code.to_owned()),
                |(known, _)| known.clone(),
            )
    }

    /// Shopify's spelling of the code.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Unknown(code) => code,
            known => Self::KNOWN
                .iter()
                .find(|(candidate, _)| candidate == known)
                .map_or("", |(_, name)| name),
        }
    }
}

impl fmt::Display for CustomerErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One of `customerAccessTokenCreate`'s `customerUserErrors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerUserError {
    code: Option<CustomerErrorCode>,
    field: Vec<String>,
    message: String,
}

impl CustomerUserError {
    pub(crate) fn new(
        code: Option<CustomerErrorCode>,
        field: Vec<String>,
        message: String,
    ) -> Self {
        Self {
            code,
            field,
            message,
        }
    }

    /// The error code, when Shopify sent one.
    #[must_use]
    pub fn code(&self) -> Option<&CustomerErrorCode> {
        self.code.as_ref()
    }

    /// The path to the input field the error is about (may be empty).
    #[must_use]
    pub fn field(&self) -> &[String] {
        &self.field
    }

    /// The message, scrubbed of any secret that was sent.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// `customerAccessTokenCreate` refused the login.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", describe_field_errors(.errors.iter().map(|e| (e.field(), e.message()))))]
pub struct LoginRejected {
    errors: Vec<CustomerUserError>,
    request_id: Option<String>,
}

impl LoginRejected {
    pub(crate) fn new(errors: Vec<CustomerUserError>, request_id: Option<String>) -> Self {
        Self { errors, request_id }
    }

    /// The `customerUserErrors` Shopify sent (never empty).
    #[must_use]
    pub fn errors(&self) -> &[CustomerUserError] {
        &self.errors
    }

    /// Whether any error carries `code`.
    #[must_use]
    pub fn has_code(&self, code: &CustomerErrorCode) -> bool {
        self.errors.iter().any(|error| error.code() == Some(code))
    }

    /// Shopify's `X-Request-Id`.
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

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
