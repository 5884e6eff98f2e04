//! Drives `examples/storefront_app/`'s router without a socket: log in (form
//! and JSON), read `/me` with the session cookie, list `/sessions`, log out; a
//! session whose token the shop revoked ends with a 401; `/metrics` serves the
//! engine's metrics; two replicas on one Redis serve each other's sessions.

#[allow(dead_code)]
#[path = "../examples/storefront_app/main.rs"]
mod app;
mod redis_support;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use axum::http::{Request, StatusCode};
use axum::Router;
use serde_json::Value;
use storefront_token::at_rest::{EncryptionKey, Keyring};
use storefront_token::renewal::{metrics as engine_metrics, RenewalPolicy, TokenStore};
use storefront_token::{CustomerAccessToken, RetryPolicy};
use tower::ServiceExt;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type TestResult = Result<(), BoxError>;

async fn send(router: &Router, request: Request<Body>) -> (StatusCode, Option<String>, Value) {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let cookie = response
        .headers()
        .get(SET_COOKIE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, cookie, json)
}

fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    request.body(Body::empty()).expect("request")
}

fn post(path: &str, content_type: &str, body: &str, cookie: Option<&str>) -> Request<Body> {
    let mut request = Request::post(path).header(CONTENT_TYPE, content_type);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    request.body(Body::from(body.to_owned())).expect("request")
}

/// `name=value` from a `Set-Cookie` header.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn login_me_sessions_logout() -> TestResult {
    let shop = app::Shop::Mock(app::Shop::start_mock(Duration::from_secs(3600)).await?);
    let state = app::AppState::start(
        shop.client(RetryPolicy::never())?,
        shop.client(RetryPolicy::never())?,
        RenewalPolicy::default(),
    )
    .await?;
    let router = app::router(state.clone());
    let form = format!(
        "email={}&password={}",
        app::DEMO_EMAIL,
        app::DEMO_PASSWORD.replace(' ', "+")
    );

    // Not logged in yet.
    let (status, _, body) = send(&router, get("/me", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["error"].is_string());

    // Wrong password, as JSON.
    let wrong = format!(r#"{{"email":"{}","password":"nope"}}"#, app::DEMO_EMAIL);
    let (status, cookie, _) = send(&router, post("/login", "application/json", &wrong, None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(cookie.is_none());

    // Log in with a form: the cookie is a session secret, not the customer token.
    let login = post("/login", "application/x-www-form-urlencoded", &form, None);
    let (status, cookie, body) = send(&router, login).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let set_cookie = cookie.ok_or("no cookie")?;
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
    let cookie = cookie_pair(&set_cookie);
    assert!(cookie.starts_with(app::SESSION_COOKIE));

    let (status, _, body) = send(&router, get("/me", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["display_name"], "Ada Lovelace");
    assert_eq!(body["email"], app::DEMO_EMAIL);

    // A second session, as JSON; both are listed, without their secrets.
    let json_login = format!(
        r#"{{"email":"{}","password":"{}"}}"#,
        app::DEMO_EMAIL,
        app::DEMO_PASSWORD
    );
    let (status, _, _) = send(
        &router,
        post("/login", "application/json", &json_login, None),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = send(&router, get("/sessions", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["count"], 2);
    let secret = cookie.split('=').nth(1).unwrap_or_default();
    assert!(
        !body.to_string().contains(secret),
        "no session secret listed"
    );
    assert_eq!(body["sessions"][0]["state"], "scheduled");

    // Log out: the cookie is cleared, the session forgotten.
    let (status, cookie_after, _) =
        send(&router, post("/logout", "text/plain", "", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(cookie_after.is_some_and(|value| value.contains("Max-Age=0")));
    let (status, _, _) = send(&router, get("/me", Some(&cookie))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(state.renewals().len().await, 1);

    state.renewals().shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_revoked_session_ends() -> TestResult {
    let shop = app::Shop::Mock(app::Shop::start_mock(Duration::from_secs(3600)).await?);
    let client = shop.client(RetryPolicy::never())?;
    let state = app::AppState::start(
        client.clone(),
        shop.client(RetryPolicy::never())?,
        RenewalPolicy::default(),
    )
    .await?;
    let router = app::router(state.clone());
    let cookie = log_in(&router).await?;

    // The shop revokes the session's token behind the app's back.
    let sessions = state.renewals().snapshot().await;
    let [(_, session)] = sessions.as_slice() else {
        return Err(format!("one session expected, got {}", sessions.len()).into());
    };
    client
        .delete_token(session.credential().access_token())
        .await?;

    let (status, _, body) = send(&router, get("/me", Some(&cookie))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["error"]
        .as_str()
        .is_some_and(|error| error.contains("log in again")));
    let (_, _, body) = send(&router, get("/sessions", None)).await;
    assert_eq!(body["count"], 0, "the session was forgotten: {body}");

    state.renewals().shutdown().await;
    Ok(())
}

/// The body of a response as text, with its content type.
async fn text(router: &Router, request: Request<Body>) -> (StatusCode, String, String) {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        content_type,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn login_json() -> String {
    format!(
        r#"{{"email":"{}","password":"{}"}}"#,
        app::DEMO_EMAIL,
        app::DEMO_PASSWORD
    )
}

/// Logs the demo customer in on `router` (JSON), which must answer 200 with a
/// cookie: the session cookie's `name=value`.
async fn log_in(router: &Router) -> Result<String, BoxError> {
    let (status, cookie, _) = send(
        router,
        post("/login", "application/json", &login_json(), None),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    Ok(cookie_pair(&cookie.ok_or("no cookie")?))
}

/// An app replica on `shop` with its sessions in `store`: its router and state.
async fn replica_on<S: TokenStore<CustomerAccessToken>>(
    shop: &app::Shop,
    store: Arc<S>,
) -> Result<(Router, app::AppState), BoxError> {
    let state = app::AppState::start_on(
        shop.client(RetryPolicy::never())?,
        shop.client(RetryPolicy::never())?,
        RenewalPolicy::default(),
        store,
    )
    .await?;
    Ok((app::router(state.clone()), state))
}

#[tokio::test]
async fn metrics_are_served_in_prometheus_text() -> TestResult {
    let shop = app::Shop::Mock(app::Shop::start_mock(Duration::from_secs(3600)).await?);
    // The app's recorder, for this thread only (a global one is set once per
    // process); the engine registers its metrics with it when it starts.
    let recorder = app::prometheus()?.build_recorder();
    let state = {
        let _local = metrics::set_default_local_recorder(&recorder);
        app::AppState::start(
            shop.client(RetryPolicy::never())?,
            shop.client(RetryPolicy::never())?,
            // The token gauge is refreshed when the engine wakes: every second.
            RenewalPolicy::default().with_heartbeat(Duration::from_secs(1)),
        )
        .await?
    }
    .with_metrics(recorder.handle());
    let router = app::router(state.clone());
    let cookie = log_in(&router).await?;
    let sessions = state.renewals().snapshot().await;
    let [(id, session)] = sessions.as_slice() else {
        return Err(format!("one session expected, got {}", sessions.len()).into());
    };
    state.renewals().renew_now(id).await?;
    tokio::time::sleep(Duration::from_millis(2_100)).await; // the token gauge's refresh

    let (status, content_type, body) = text(&router, get("/metrics", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    for name in engine_metrics::ALL {
        assert!(
            body.contains(&format!("# TYPE {name} ")),
            "{name} missing:\n{body}"
        );
    }
    let line = |start: &str| {
        body.lines()
            .find(|line| line.starts_with(start))
            .map(str::to_owned)
            .unwrap_or_default()
    };
    assert_eq!(
        line("storefront_token_renewals_total{outcome=\"renewed\"}"),
        "storefront_token_renewals_total{outcome=\"renewed\"} 1"
    );
    assert_eq!(
        line("storefront_token_tokens{state=\"scheduled\"}"),
        "storefront_token_tokens{state=\"scheduled\"} 1"
    );
    assert_eq!(
        line("storefront_token_renewal_time_left_seconds_count"),
        "storefront_token_renewal_time_left_seconds_count 1"
    );
    assert!(body.contains("storefront_token_store_latency_seconds_bucket{op=\"put\",le=\"0.001\"}"));
    // Nothing about any one session: no id, no cookie, no token.
    let secret = cookie.split('=').nth(1).unwrap_or_default();
    let token = session.credential().access_token().expose_secret();
    for private in [id.as_str(), secret, token] {
        assert!(!body.contains(private));
    }
    state.renewals().shutdown().await;
    Ok(())
}

#[tokio::test]
async fn without_a_recorder_metrics_are_not_found() -> TestResult {
    let shop = app::Shop::Mock(app::Shop::start_mock(Duration::from_secs(3600)).await?);
    let state = app::AppState::start(
        shop.client(RetryPolicy::never())?,
        shop.client(RetryPolicy::never())?,
        RenewalPolicy::default(),
    )
    .await?;
    let (status, _, body) = send(&app::router(state.clone()), get("/metrics", None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].is_string());
    state.renewals().shutdown().await;
    Ok(())
}

/// Two replicas of the app on one Redis (a redis-server of this test's own)
/// and one shop: a session logged in on one is served by the other, and a
/// logout on the other ends it on both.
#[tokio::test]
async fn replicas_on_one_redis_serve_each_others_sessions() -> TestResult {
    let test = "replicas_on_one_redis_serve_each_others_sessions";
    let Some(redis) = redis_support::OwnRedis::start(test, &[]).await else {
        return Ok(());
    };
    let shop = app::Shop::Mock(app::Shop::start_mock(Duration::from_secs(3600)).await?);
    let keys = Keyring::new(EncryptionKey::generate("app-1")?);
    let prefix = redis_support::unique_prefix("example-app");
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let store = app::redis_store(&redis.url(), keys.clone(), &prefix).await?;
        replicas.push(replica_on(&shop, Arc::new(store)).await?);
    }
    let (first, second) = (&replicas[0].0, &replicas[1].0);

    let cookie = log_in(first).await?;
    let (_, _, listed) = send(second, get("/sessions", None)).await;
    assert_eq!(listed["count"], 0, "not held by the second replica yet");

    let (status, _, body) = send(second, get("/me", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], app::DEMO_EMAIL);
    let (_, _, listed) = send(second, get("/sessions", None)).await;
    assert_eq!(listed["count"], 1, "read through from Redis");

    // Logged out on the second replica: revoked at the shop and deleted from
    // Redis, so the first, which still holds it in memory, ends it too.
    let (status, _, _) = send(second, post("/logout", "text/plain", "", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = send(first, get("/me", Some(&cookie))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = send(second, get("/me", Some(&cookie))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for (_, state) in &replicas {
        assert_eq!(state.renewals().len().await, 0);
        state.renewals().shutdown().await;
    }
    Ok(())
}

/// With a shop that rotates tokens, a replica may still hold the string another
/// replica's renewal replaced. Its `/me` must not take the shop's "log in again"
/// as the end of the session: it asks the store, adopts the renewed token without
/// sending a second renewal, and answers; the session lives on everywhere.
#[tokio::test]
async fn a_replica_holding_a_rotated_away_token_adopts_the_renewal_instead_of_logging_out(
) -> TestResult {
    let mock = app::Shop::start_mock(Duration::from_secs(3600)).await?;
    mock.set_renew_rotates_token(true);
    let shop = app::Shop::Mock(mock);
    let store = Arc::new(storefront_token::renewal::MemoryStore::new());
    let mut replicas = Vec::new();
    for _ in 0..2 {
        replicas.push(replica_on(&shop, Arc::clone(&store)).await?);
    }
    let (first, second) = (&replicas[0].0, &replicas[1].0);
    let cookie = log_in(first).await?;
    // The second replica reads the session through and holds the first string.
    let (status, _, _) = send(second, get("/me", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    let id = replicas[0].1.renewals().snapshot().await;
    let id = id.first().map(|(id, _)| id.clone()).ok_or("no session")?;

    // The first replica renews; the shop rotates the string; the old one is dead.
    replicas[0].1.renewals().renew_now(&id).await?;
    let app::Shop::Mock(mock) = &shop else {
        return Err("a mock shop".into());
    };
    assert_eq!(mock.requests(storefront_token::Operation::Renew), 1);

    let (status, _, body) = send(second, get("/me", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK, "the session lives on: {body}");
    assert_eq!(
        mock.requests(storefront_token::Operation::Renew),
        1,
        "the renewed token was adopted from the store, not renewed again"
    );
    let (status, _, _) = send(first, get("/me", Some(&cookie))).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "and the first replica still serves it"
    );
    for (_, state) in &replicas {
        state.renewals().shutdown().await;
    }
    Ok(())
}
