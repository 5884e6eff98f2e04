//! Errors before a request is answered: the client's configuration ([`ConfigError`])
//! and the transport ([`TransportError`]).

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
