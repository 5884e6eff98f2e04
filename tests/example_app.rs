//! Drives `examples/storefront_app.rs`'s router without a socket: log in (form
//! and JSON), read `/me` with the session cookie, list `/sessions`, log out; and
//! a session whose token the shop revoked ends with a 401.

#[allow(dead_code)]
#[path = "../examples/storefront_app.rs"]
mod app;

use std::time::Duration;

use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use axum::http::{Request, StatusCode};
use axum::Router;
use serde_json::Value;
use storefront_token::renewal::RenewalPolicy;
use storefront_token::RetryPolicy;
use tower::ServiceExt;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

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
    let json_login = format!(
        r#"{{"email":"{}","password":"{}"}}"#,
        app::DEMO_EMAIL,
        app::DEMO_PASSWORD
    );
    let login = post("/login", "application/json", &json_login, None);
    let (status, cookie, _) = send(&router, login).await;
    assert_eq!(status, StatusCode::OK);
    let cookie = cookie_pair(&cookie.ok_or("no cookie")?);

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
