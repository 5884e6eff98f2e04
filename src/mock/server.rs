//! The HTTP side: hyper accept loop and the per-request pipeline.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use apollo_compiler::validation::Valid;
use apollo_compiler::Schema;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Bytes;
use hyper::header::{
    HeaderMap, HeaderName, HeaderValue, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ALLOW,
    CONTENT_TYPE, DATE, ORIGIN, RETRY_AFTER, VARY,
};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::clock::http_date;
use super::faults::FaultAction;
use super::graphql::{self, GraphqlRequest, Prepared};
use super::reply::Reply;
use super::settings::{FixedSettings, MAX_BODY_BYTES};
use super::state::State;

const PUBLIC_TOKEN_HEADER: &str = "x-shopify-storefront-access-token";
const PRIVATE_TOKEN_HEADER: &str = "shopify-storefront-private-token";
const BUYER_IP_HEADER: &str = "shopify-storefront-buyer-ip";
const UNAUTHORIZED_MESSAGE: &str =
    "[API] Invalid API key or access token (unrecognized login or wrong password)";
/// Methods a CORS preflight may ask for.
const CORS_METHODS: &str = "POST, GET, OPTIONS";
/// Request headers a browser may send: Storefront authentication, the headers of
/// `@shopify/storefront-api-client` and Hydrogen.
const CORS_HEADERS: &str = "Content-Type, Accept, X-Shopify-Storefront-Access-Token, \
    Shopify-Storefront-Private-Token, Shopify-Storefront-Buyer-IP, X-SDK-Variant, \
    X-SDK-Variant-Source, X-SDK-Version, Custom-Storefront-Request-Group-ID, \
    Shopify-Storefront-Id, Shopify-Storefront-Y, Shopify-Storefront-S, \
    X-Shopify-VisitorToken, X-Shopify-UniqueToken";
/// Response headers a browser app may read.
const CORS_EXPOSED: &str =
    "X-Request-Id, X-Shopify-API-Version, X-Shopify-API-Deprecated-Reason, Retry-After";

/// Everything the request handlers share.
pub(crate) struct Shared {
    pub(crate) schema: Arc<Valid<Schema>>,
    pub(crate) documents: graphql::DocumentCache,
    pub(crate) fixed: FixedSettings,
    pub(crate) state: Mutex<State>,
    next_request: AtomicU64,
}

impl Shared {
    pub(crate) fn new(schema: Arc<Valid<Schema>>, fixed: FixedSettings, state: State) -> Self {
        Shared {
            schema,
            documents: graphql::DocumentCache::default(),
            fixed,
            state: Mutex::new(state),
            next_request: AtomicU64::new(1),
        }
    }

    /// Locks the state; a poisoned lock is recovered (the state stays usable).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn graphql_path(&self) -> String {
        format!("/api/{}/graphql.json", self.fixed.api_version)
    }
}

/// Returned by the service to make hyper abort the connection without a response.
#[derive(Debug)]
pub(crate) struct DropConnection;

impl fmt::Display for DropConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DropConnection {}

/// Spawns the accept loop on the current tokio runtime.
pub(crate) fn spawn(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _peer)) => {
                        let _ = stream.set_nodelay(true);
                        serve_connection(stream, Arc::clone(&shared), shutdown.clone());
                    }
                    Err(error) => {
                        tracing::debug!(%error, "mock storefront: accept failed");
                        // Avoid a hot loop when out of file descriptors.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                },
            }
        }
        tracing::debug!("mock storefront: stopped accepting");
    })
}

fn serve_connection(
    stream: tokio::net::TcpStream,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let service = service_fn(move |request| handle(Arc::clone(&shared), request));
        let connection = http1::Builder::new()
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), service);
        tokio::select! {
            result = connection => {
                if let Err(error) = result {
                    tracing::debug!(%error, "mock storefront: connection ended with an error");
                }
            }
            // Shutdown (or the handle being dropped) closes the connection.
            _ = shutdown.changed() => {}
        }
    });
}

/// Request facts taken from the head before the body is consumed.
struct Head {
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
}

/// How the request body carries the GraphQL request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    /// `application/json`: `{"query", "operationName", "variables"}`.
    Json,
    /// `application/graphql`: the document itself.
    Graphql,
    /// Anything else (rejected).
    Other,
}

enum BodyRead {
    Ok(Bytes),
    TooLarge,
    Failed,
}

/// One request through the pipeline. Generic over the body so the fuzz targets
/// can call it without a socket.
pub(crate) async fn handle<B>(
    shared: Arc<Shared>,
    request: Request<B>,
) -> Result<Response<Full<Bytes>>, DropConnection>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let number = shared.next_request.fetch_add(1, Ordering::Relaxed);
    let request_id = format!("{number:08x}-{:016x}", fastrand::u64(..));
    let (parts, body) = request.into_parts();
    let head = Head {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
    };
    let origin = head
        .headers
        .get(ORIGIN)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => BodyRead::Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => BodyRead::TooLarge,
        Err(_) => BodyRead::Failed,
    };

    let on_graphql_path = head.path == shared.graphql_path();
    let parsed: Option<Result<Prepared, String>> = match &body {
        BodyRead::Ok(bytes) if on_graphql_path && head.method == Method::POST => {
            match body_kind(&head.headers) {
                BodyKind::Json => Some(
                    serde_json::from_slice::<GraphqlRequest>(bytes)
                        .map_err(|error| format!("Invalid JSON body: {error}")),
                ),
                BodyKind::Graphql => Some(graphql_body(bytes, head.query.as_deref())),
                BodyKind::Other => None,
            }
            .map(|request| {
                request.map(|request| graphql::prepare(&shared.schema, &shared.documents, request))
            })
        }
        _ => None,
    };

    // A CORS preflight is answered before faults: a scripted fault is meant for the
    // request the browser sends next.
    if head.method == Method::OPTIONS && on_graphql_path {
        shared.lock().total_requests += 1;
        return Ok(finish(
            &shared,
            &request_id,
            origin.as_deref(),
            Reply::preflight(),
        ));
    }

    let fault = {
        let mut state = shared.lock();
        state.total_requests += 1;
        if let Some(Ok(prepared)) = &parsed {
            for op in &prepared.operations {
                state.count(*op);
            }
        }
        state
            .faults
            .pop_front()
            .or_else(|| match &state.random_fault {
                Some((fault, probability)) if fastrand::f64() < *probability => Some(fault.clone()),
                _ => None,
            })
    };
    let mut drop_after = false;
    if let Some(fault) = fault {
        tracing::debug!(fault = fault.kind(), "mock storefront: injecting fault");
        match fault.action() {
            FaultAction::Reply(reply) => {
                return Ok(finish(&shared, &request_id, origin.as_deref(), reply))
            }
            FaultAction::Drop => return Err(DropConnection),
            FaultAction::Delay(by) => tokio::time::sleep(by).await,
            FaultAction::ProcessThenDrop => drop_after = true,
        }
    }

    let reply = respond(&shared, &head, body, parsed);
    if drop_after {
        return Err(DropConnection);
    }
    tracing::debug!(status = reply.status, "mock storefront: responded");
    Ok(finish(&shared, &request_id, origin.as_deref(), reply))
}

/// The normal pipeline: routing, size, auth, content type, GraphQL.
fn respond(
    shared: &Shared,
    head: &Head,
    body: BodyRead,
    parsed: Option<Result<Prepared, String>>,
) -> Reply {
    if head.path != shared.graphql_path() {
        return Reply::plain_error(404, "Not Found");
    }
    if head.method != Method::POST {
        return Reply::plain_error(405, "Method Not Allowed: use POST");
    }
    match body {
        BodyRead::Ok(_) => {}
        BodyRead::TooLarge => return Reply::plain_error(413, "Request body too large"),
        BodyRead::Failed => return Reply::request_error(400, "Could not read the request body"),
    }
    if !authorize(shared, &head.headers) {
        return Reply::plain_error(401, UNAUTHORIZED_MESSAGE);
    }
    if body_kind(&head.headers) == BodyKind::Other {
        return Reply::request_error(
            400,
            "Content-Type must be application/json or application/graphql",
        );
    }
    let prepared = match parsed {
        Some(Ok(prepared)) => prepared,
        Some(Err(message)) => return Reply::request_error(400, &message),
        None => return Reply::request_error(400, "Missing request body"),
    };
    tracing::debug!(operations = ?prepared.operations, "mock storefront: graphql request");
    match prepared.outcome {
        Err(errors) => Reply::json(200, &json!({ "errors": errors })),
        Ok(ready) => Reply::json(
            200,
            &graphql::execute(&shared.schema, &ready, &shared.state),
        ),
    }
}

/// Checks the Storefront access token headers; records the buyer IP for private tokens.
fn authorize(shared: &Shared, headers: &HeaderMap) -> bool {
    let matches = |name: &str, expected: &str| {
        headers
            .get(name)
            .is_some_and(|value| value.as_bytes() == expected.as_bytes())
    };
    if matches(PUBLIC_TOKEN_HEADER, &shared.fixed.public_token) {
        return true;
    }
    if matches(PRIVATE_TOKEN_HEADER, &shared.fixed.private_token) {
        if let Some(ip) = headers
            .get(BUYER_IP_HEADER)
            .and_then(|value| value.to_str().ok())
        {
            shared.lock().last_buyer_ip = Some(ip.to_owned());
        }
        return true;
    }
    false
}

fn body_kind(headers: &HeaderMap) -> BodyKind {
    let essence = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(str::trim);
    match essence {
        Some(e) if e.eq_ignore_ascii_case("application/json") => BodyKind::Json,
        Some(e) if e.eq_ignore_ascii_case("application/graphql") => BodyKind::Graphql,
        _ => BodyKind::Other,
    }
}

/// An `application/graphql` request: the body is the document; `operationName` and
/// `variables` (JSON) may be given in the URL's query string.
fn graphql_body(bytes: &[u8], query: Option<&str>) -> Result<GraphqlRequest, String> {
    let document = std::str::from_utf8(bytes)
        .map_err(|_| "Invalid body: the document is not UTF-8".to_owned())?
        .to_owned();
    let mut operation_name = None;
    let mut variables = None;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "operationName" => operation_name = Some(value.into_owned()),
            "variables" => {
                variables = Some(
                    serde_json::from_str(&value)
                        .map_err(|error| format!("Invalid variables: {error}"))?,
                );
            }
            _ => {}
        }
    }
    Ok(GraphqlRequest::from_document(
        document,
        operation_name,
        variables,
    ))
}

/// Adds the headers every response carries.
fn finish(
    shared: &Shared,
    request_id: &str,
    origin: Option<&str>,
    reply: Reply,
) -> Response<Full<Bytes>> {
    // Informational statuses would change the HTTP exchange itself; send 500 instead.
    let status = StatusCode::from_u16(reply.status)
        .ok()
        .filter(|status| !status.is_informational())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let now = shared.lock().clock.now();
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if !reply.content_type.is_empty() {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    }
    // CORS: any origin may call the mock (it answers the browser's `Origin`, else `*`).
    match origin.and_then(|origin| HeaderValue::from_str(origin).ok()) {
        Some(origin) => {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(VARY, HeaderValue::from_static("Origin"));
        }
        None => {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        }
    }
    headers.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(CORS_EXPOSED),
    );
    if status == StatusCode::NO_CONTENT {
        headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(CORS_METHODS),
        );
        headers.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(CORS_HEADERS),
        );
        headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    }
    insert(headers, DATE, &http_date(now));
    insert(headers, HeaderName::from_static("x-request-id"), request_id);
    insert(
        headers,
        HeaderName::from_static("x-shopify-api-version"),
        &shared.fixed.api_version_header,
    );
    if let Some(reason) = &shared.fixed.deprecated_reason {
        insert(
            headers,
            HeaderName::from_static("x-shopify-api-deprecated-reason"),
            reason,
        );
    }
    if let Some(retry_after) = &reply.retry_after {
        insert(headers, RETRY_AFTER, retry_after);
    }
    if status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(ALLOW, HeaderValue::from_static("POST, OPTIONS"));
    }
    response
}

/// Inserts a header, skipping values that are not valid header text.
fn insert(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    match HeaderValue::from_str(value) {
        Ok(value) => {
            headers.insert(name, value);
        }
        Err(_) => {
            tracing::debug!(header = %name, "mock storefront: skipped an invalid header value")
        }
    }
}
