//! Entry points for the fuzz targets in `fuzz/`. Compiled only with `--cfg fuzzing`
//! (which cargo-fuzz sets) and the `mock` feature: not part of the API.
//!
//! - [`call`]: one client operation answered by a response made up by the fuzzer
//!   (status, headers, body; whole or in chunks, possibly broken off), through the
//!   client's real path: retries, the body cap, `Retry-After` and `Date`, decoding,
//!   the error layers and secret scrubbing. Only the socket is left out.
//! - [`shop_endpoint`], [`checked_endpoint`], [`checked_api_version`]: the
//!   builder's normalisation of shops, endpoints and API versions.
//! - [`mock_request`]: one HTTP request through the mock Storefront's handler
//!   (routing, auth, GraphQL parse, validation, execution), without a socket.

use std::cell::RefCell;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use hyper::body::Frame;
use hyper::header::{HeaderName, HeaderValue};

use crate::{AccessToken, Clock, Error, Password, Sleep, StorefrontClient};

/// The password [`call`] sends with `customerAccessTokenCreate`.
pub const PASSWORD: &str = "fuzz-password-5ecret";
/// The customer token [`call`] sends with the other operations.
pub const TOKEN: &str = "fuzz-token-5ecret";
/// The email [`call`] sends with `customerAccessTokenCreate`.
pub const EMAIL: &str = "ada@example.com";

/// "Now" for the client: expiries must lie after it.
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_777_593_600, 0).unwrap_or_default() // 2026-05-01T00:00:00Z
}

/// A response the fuzzer makes up; every attempt of a call receives a copy.
#[derive(Debug, Clone, Default)]
pub struct CannedResponse {
    /// The HTTP status; one that is not valid (outside 100..=999) becomes 200.
    pub status: u16,
    /// Header names and values; those that are not valid are skipped.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// The body, sent `repeat` times over.
    pub body: Vec<u8>,
    /// How many times the body is sent (at least once).
    pub repeat: usize,
    /// Whether the body comes in chunks without a declared length (each copy of
    /// `body` is a chunk), rather than whole with its length known.
    pub chunked: bool,
    /// Whether the (chunked) body breaks off with an error after its chunks.
    pub broken: bool,
}

/// A clock fixed at [`now`] whose sleeps end at once, so retries cost nothing.
#[derive(Debug)]
struct FuzzClock;

impl Clock for FuzzClock {
    fn now(&self) -> DateTime<Utc> {
        now()
    }

    fn sleep(&self, _duration: Duration) -> Sleep {
        Box::pin(std::future::ready(()))
    }
}

thread_local! {
    static CANNED: RefCell<Option<CannedResponse>> = const { RefCell::new(None) };
    static RUNTIME: Option<tokio::runtime::Runtime> = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .ok();
    static CLIENT: Option<StorefrontClient> = StorefrontClient::builder()
        .endpoint("http://127.0.0.1:9/api/2026-04/graphql.json")
        .public_token("fuzz-public-token")
        .clock(FuzzClock)
        .build()
        .ok();
}

/// The response the transport uses instead of sending, while [`call`] runs.
pub(crate) fn canned_response() -> Option<reqwest::Response> {
    CANNED.with(|canned| canned.borrow().as_ref().map(to_response))
}

fn to_response(canned: &CannedResponse) -> reqwest::Response {
    let status = hyper::StatusCode::from_u16(canned.status).unwrap_or(hyper::StatusCode::OK);
    let repeat = canned.repeat.max(1);
    let body = if canned.chunked {
        let mut frames: Vec<Result<Frame<Bytes>, std::io::Error>> = (0..repeat)
            .map(|_| Ok(Frame::data(Bytes::copy_from_slice(&canned.body))))
            .collect();
        if canned.broken {
            frames.push(Err(std::io::Error::other("connection reset")));
        }
        reqwest::Body::wrap(http_body_util::StreamBody::new(futures_util::stream::iter(
            frames,
        )))
    } else {
        reqwest::Body::from(canned.body.repeat(repeat))
    };
    let mut response = hyper::Response::new(body);
    *response.status_mut() = status;
    for (name, value) in &canned.headers {
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            response.headers_mut().append(name, value);
        }
    }
    reqwest::Response::from(response)
}

/// The operations [`call`] can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// `customerAccessTokenCreate` with [`EMAIL`] and [`PASSWORD`].
    Create,
    /// `customerAccessTokenRenew` of [`TOKEN`].
    Renew,
    /// `customerAccessTokenDelete` of [`TOKEN`].
    Delete,
    /// `customer` of [`TOKEN`].
    Customer,
}

/// Runs `operation` with the default retry policy, every attempt answered by
/// `response`. `Ok` carries what the call returned, printed.
pub fn call(operation: Call, response: CannedResponse) -> Result<String, Error> {
    CANNED.with(|canned| *canned.borrow_mut() = Some(response));
    let outcome = RUNTIME.with(|runtime| {
        CLIENT.with(|client| {
            let (Some(runtime), Some(client)) = (runtime, client) else {
                return Ok(String::from("no runtime or client"));
            };
            runtime.block_on(async {
                let token = AccessToken::new(TOKEN);
                match operation {
                    Call::Create => client
                        .create_token(EMAIL, &Password::new(PASSWORD))
                        .await
                        .map(|token| format!("{token:?}")),
                    Call::Renew => client
                        .renew_token(&token)
                        .await
                        .map(|token| format!("{token:?}")),
                    Call::Delete => client.delete_token(&token).await.map(|()| String::new()),
                    Call::Customer => client
                        .customer(&token)
                        .await
                        .map(|customer| format!("{customer:?}")),
                }
            })
        })
    });
    CANNED.with(|canned| *canned.borrow_mut() = None);
    outcome
}

/// The endpoint a shop name, domain or URL becomes.
pub fn shop_endpoint(shop: &str, api_version: &str) -> Result<String, Error> {
    crate::endpoint::shop_endpoint(shop, api_version)
        .map(String::from)
        .map_err(Error::from)
}

/// A full endpoint URL, checked.
pub fn checked_endpoint(endpoint: &str) -> Result<String, Error> {
    crate::endpoint::checked_endpoint(endpoint)
        .map(String::from)
        .map_err(Error::from)
}

/// Whether an API version is accepted.
pub fn checked_api_version(version: &str) -> bool {
    crate::endpoint::checked_api_version(version).is_ok()
}

/// The mock's answer to one request: status, headers, body.
#[derive(Debug)]
pub struct MockResponse {
    /// The HTTP status.
    pub status: u16,
    /// The headers.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
}

/// Sends one request to a fresh mock (default settings, its clock frozen at
/// [`now`], one customer: [`EMAIL`] with password `correct horse`). `None` when
/// the method or path is not valid HTTP (hyper would refuse the request before
/// the handler) or the mock drops the connection.
pub fn mock_request(
    method: &[u8],
    path: &[u8],
    headers: &[(Vec<u8>, Vec<u8>)],
    body: &[u8],
) -> Option<MockResponse> {
    let mut request = hyper::Request::new(http_body_util::Full::new(Bytes::copy_from_slice(body)));
    *request.method_mut() = hyper::Method::from_bytes(method).ok()?;
    *request.uri_mut() = hyper::Uri::try_from(path).ok()?;
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            request.headers_mut().append(name, value);
        }
    }
    let response = RUNTIME.with(|runtime| {
        runtime
            .as_ref()
            .and_then(|runtime| runtime.block_on(crate::mock::fuzz::handle(request, now())))
    })?;
    let (parts, body) = response.into_parts();
    let body = RUNTIME.with(|runtime| {
        runtime.as_ref().and_then(|runtime| {
            runtime
                .block_on(http_body_util::BodyExt::collect(body))
                .ok()
                .map(|collected| collected.to_bytes().to_vec())
        })
    })?;
    Some(MockResponse {
        status: parts.status.as_u16(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
            .collect(),
        body,
    })
}
