//! Building a [`StorefrontClient`]: [`StorefrontClientBuilder`] checks the shop or
//! endpoint, the API version and the storefront token, and sets up the HTTP client.

use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE, USER_AGENT};

use crate::client::{AuthKind, Inner};
use crate::clock::{Clock, SystemClock};
use crate::endpoint::{checked_api_version, checked_endpoint, shop_endpoint, DEFAULT_API_VERSION};
use crate::error::{ConfigError, ConfigErrorKind};
use crate::transport::Transport;
use crate::{Error, PrivateToken, RetryPolicy, StorefrontClient};

/// Default time limit for one HTTP attempt, connection included.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time limit for establishing a connection.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

const PUBLIC_TOKEN_HEADER: HeaderName =
    HeaderName::from_static("x-shopify-storefront-access-token");
const PRIVATE_TOKEN_HEADER: HeaderName =
    HeaderName::from_static("shopify-storefront-private-token");
const BUYER_IP_HEADER: HeaderName = HeaderName::from_static("shopify-storefront-buyer-ip");

impl StorefrontClient {
    /// A builder; give it a shop (or an endpoint) and a storefront token.
    pub fn builder() -> StorefrontClientBuilder {
        StorefrontClientBuilder::default()
    }
}

/// Builds a [`StorefrontClient`]. Setters never fail; [`build`](Self::build)
/// reports the first problem.
#[must_use]
pub struct StorefrontClientBuilder {
    shop: Option<String>,
    endpoint: Option<String>,
    api_version: Option<String>,
    public_token: Option<String>,
    private_token: Option<PrivateToken>,
    buyer_ip: Option<IpAddr>,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryPolicy,
    http: Option<reqwest::ClientBuilder>,
    clock: Arc<dyn Clock>,
}

impl Default for StorefrontClientBuilder {
    fn default() -> Self {
        Self {
            shop: None,
            endpoint: None,
            api_version: None,
            public_token: None,
            private_token: None,
            buyer_ip: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            retry: RetryPolicy::default(),
            http: None,
            clock: Arc::new(SystemClock),
        }
    }
}

impl fmt::Debug for StorefrontClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorefrontClientBuilder")
            .field("shop", &self.shop)
            .field("endpoint", &self.endpoint)
            .field("api_version", &self.api_version)
            .field("public_token", &self.public_token.as_ref().map(|_| "[set]"))
            .field("private_token", &self.private_token)
            .field("buyer_ip", &self.buyer_ip)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl StorefrontClientBuilder {
    /// The shop: a handle (`my-shop`), a myshopify domain
    /// (`my-shop.myshopify.com`), a custom domain, or either as an `https://` URL.
    /// The endpoint becomes `https://{domain}/api/{version}/graphql.json`.
    pub fn shop(mut self, shop: impl Into<String>) -> Self {
        self.shop = Some(shop.into());
        self
    }

    /// A full GraphQL endpoint URL, used as given. When its path has the form
    /// `/api/{version}/graphql.json`, that version is the one the client reports and
    /// expects back, and an [`api_version`](Self::api_version) that names another
    /// is refused by [`build`](Self::build) ([`ConfigErrorKind::ConflictingApiVersion`]);
    /// otherwise [`api_version`](Self::api_version) (or the default) is expected
    /// back, and a 404 answer shows the form the path should have.
    /// Plain `http://` is accepted only for loopback hosts, such as the mock.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The API version, such as `2026-04` (the default,
    /// [`DEFAULT_API_VERSION`](crate::DEFAULT_API_VERSION)). With an
    /// [`endpoint`](Self::endpoint) whose path names a version, it must name the
    /// same one.
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = Some(version.into());
        self
    }

    /// A public storefront access token, sent as `X-Shopify-Storefront-Access-Token`.
    pub fn public_token(mut self, token: impl Into<String>) -> Self {
        self.public_token = Some(token.into());
        self
    }

    /// A private storefront access token for server-side use, sent as
    /// `Shopify-Storefront-Private-Token`. Takes precedence over a public token.
    pub fn private_token(mut self, token: PrivateToken) -> Self {
        self.private_token = Some(token);
        self
    }

    /// The buyer's IP address, sent as `Shopify-Storefront-Buyer-IP` with a
    /// private token so Shopify's bot protection does not throttle your server.
    pub fn buyer_ip(mut self, ip: IpAddr) -> Self {
        self.buyer_ip = Some(ip);
        self
    }

    /// The time limit for one HTTP attempt (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The time limit for connecting (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How transient failures are retried (see [`RetryPolicy`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Your own `reqwest::ClientBuilder` (proxies, TLS roots, pool settings). The
    /// client adds its headers and connect timeout and turns redirects off, so a
    /// storefront token or a password is never replayed to another host.
    pub fn http_client_builder(mut self, builder: reqwest::ClientBuilder) -> Self {
        self.http = Some(builder);
        self
    }

    /// The clock used to check that a returned `expiresAt` lies in the future and
    /// to wait between retries (default: [`SystemClock`]).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) when no or both of shop and endpoint are given, the shop,
    /// endpoint or API version is not valid (a shop name or host that is not a
    /// valid DNS name included: it is refused here, never retried as a network
    /// failure), an API version disagrees with the endpoint's, plain `http://` points away from
    /// loopback, no storefront token is given, a Buyer IP comes without a private
    /// token, or the HTTP client cannot be built.
    pub fn build(self) -> Result<StorefrontClient, Error> {
        let explicit_version = match &self.api_version {
            Some(version) => Some(checked_api_version(version)?.to_owned()),
            None => None,
        };
        let api_version = explicit_version
            .clone()
            .unwrap_or_else(|| DEFAULT_API_VERSION.to_owned());
        let endpoint = match (&self.shop, &self.endpoint) {
            (Some(shop), None) => shop_endpoint(shop, &api_version)?,
            (None, Some(endpoint)) => checked_endpoint(endpoint)?,
            (None, None) => {
                return Err(ConfigError::new(
                    ConfigErrorKind::MissingEndpoint,
                    "give a shop or an endpoint",
                )
                .into())
            }
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    ConfigErrorKind::ConflictingEndpoint,
                    "give a shop or an endpoint, not both",
                )
                .into())
            }
        };
        // An endpoint of the form …/api/{version}/graphql.json names its version;
        // that is the one to expect back in X-Shopify-API-Version.
        let named = endpoint_api_version(&endpoint);
        if let (Some(named), Some(explicit)) = (&named, &explicit_version) {
            if named != explicit {
                return Err(ConfigError::new(
                    ConfigErrorKind::ConflictingApiVersion,
                    format!(
                        "the endpoint names api version {named} but {explicit} was asked for; \
                         drop one, or make them agree"
                    ),
                )
                .into());
            }
        }
        let standard_path = has_standard_path(&endpoint);
        let api_version = named.unwrap_or(api_version);
        let (headers, auth) = self.auth_headers()?;
        let http = self
            .http
            .unwrap_or_default()
            .default_headers(headers)
            .connect_timeout(self.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| {
                ConfigError::new(
                    ConfigErrorKind::HttpClient,
                    "the http client could not be built",
                )
                .with_source(error)
            })?;
        Ok(StorefrontClient::from_inner(Inner {
            transport: Transport {
                http,
                endpoint,
                timeout: self.timeout,
                api_version,
                retry: self.retry,
                clock: self.clock,
                server_clock: crate::skew::ServerClock::default(),
                warned_version: AtomicBool::new(false),
                warned_deprecation: AtomicBool::new(false),
            },
            auth,
            standard_path,
        }))
    }

    fn auth_headers(&self) -> Result<(HeaderMap, AuthKind), ConfigError> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("storefront-token/", env!("CARGO_PKG_VERSION"))),
        );
        let sensitive = |value: &str| {
            HeaderValue::from_str(value)
                .map(|mut value| {
                    value.set_sensitive(true);
                    value
                })
                .map_err(|_| {
                    ConfigError::new(
                        ConfigErrorKind::InvalidHeaderValue,
                        "the storefront token holds characters that cannot be sent in a header",
                    )
                })
        };
        let auth = match (&self.private_token, &self.public_token) {
            (Some(private), _) => {
                headers.insert(PRIVATE_TOKEN_HEADER, sensitive(private.expose_secret())?);
                if let Some(ip) = self.buyer_ip {
                    let value = HeaderValue::from_str(&ip.to_string()).map_err(|_| {
                        ConfigError::new(ConfigErrorKind::InvalidHeaderValue, "invalid buyer ip")
                    })?;
                    headers.insert(BUYER_IP_HEADER, value);
                }
                AuthKind::Private
            }
            (None, Some(public)) => {
                if self.buyer_ip.is_some() {
                    return Err(ConfigError::new(
                        ConfigErrorKind::BuyerIpWithoutPrivateToken,
                        "a buyer ip goes with a private storefront token",
                    ));
                }
                headers.insert(PUBLIC_TOKEN_HEADER, sensitive(public)?);
                AuthKind::Public
            }
            (None, None) => {
                return Err(ConfigError::new(
                    ConfigErrorKind::MissingStorefrontToken,
                    "give a public or a private storefront access token",
                ))
            }
        };
        Ok((headers, auth))
    }
}

fn endpoint_api_version(endpoint: &reqwest::Url) -> Option<String> {
    let mut segments = endpoint.path_segments()?;
    while let Some(segment) = segments.next() {
        if segment == "api" {
            let version = segments.next()?;
            return checked_api_version(version).ok().map(str::to_owned);
        }
    }
    None
}

/// Whether the endpoint's path ends in `/api/{version}/graphql.json`.
fn has_standard_path(endpoint: &reqwest::Url) -> bool {
    let Some(segments) = endpoint.path_segments() else {
        return false;
    };
    let segments: Vec<&str> = segments.collect();
    matches!(
        segments.as_slice(),
        [.., "api", version, "graphql.json"] if checked_api_version(version).is_ok()
    )
}
