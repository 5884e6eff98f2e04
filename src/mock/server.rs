//! The HTTP side: hyper accept loop and the per-request pipeline.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use apollo_compiler::validation::Valid;
use apollo_compiler::Schema;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderName, HeaderValue, ALLOW, CONTENT_TYPE, DATE, RETRY_AFTER};
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
struct DropConnection;

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
    headers: HeaderMap,
}

enum BodyRead {
    Ok(Bytes),
    TooLarge,
    Failed,
}

async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, DropConnection> {
    let number = shared.next_request.fetch_add(1, Ordering::Relaxed);
    let request_id = format!("{number:08x}-{:016x}", fastrand::u64(..));
    let (parts, body) = request.into_parts();
    let head = Head {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        headers: parts.headers,
    };
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => BodyRead::Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => BodyRead::TooLarge,
        Err(_) => BodyRead::Failed,
    };

    let on_graphql_path = head.path == shared.graphql_path();
    let parsed: Option<Result<Prepared, String>> = match &body {
        BodyRead::Ok(bytes) if on_graphql_path && head.method == Method::POST => Some(
            serde_json::from_slice::<GraphqlRequest>(bytes)
                .map(|request| graphql::prepare(&shared.schema, &shared.documents, request))
                .map_err(|error| format!("Invalid JSON body: {error}")),
        ),
        _ => None,
    };

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
            FaultAction::Reply(reply) => return Ok(finish(&shared, &request_id, reply)),
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
    Ok(finish(&shared, &request_id, reply))
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
    if !is_json(&head.headers) {
        return Reply::request_error(400, "Content-Type must be application/json");
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

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// Adds the headers every response carries.
fn finish(shared: &Shared, request_id: &str, reply: Reply) -> Response<Full<Bytes>> {
    // Informational statuses would change the HTTP exchange itself; send 500 instead.
    let status = StatusCode::from_u16(reply.status)
        .ok()
        .filter(|status| !status.is_informational())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let now = shared.lock().clock.now();
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
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
        headers.insert(ALLOW, HeaderValue::from_static("POST"));
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
