//! The routes and their handlers.

use axum::extract::{FromRequest, Request, State};
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use storefront_token::renewal::{TokenId, TokenState, TokenStatus};
use storefront_token::{CustomerAccessToken, ErrorReport, Password};

use super::error::ApiError;
use super::session::{clear_cookie, SessionSecret};
use super::state::AppState;
use super::METRICS_CONTENT_TYPE;

/// The app's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/logout", post(logout))
        .route("/sessions", get(sessions))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// A login form.
#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

/// Credentials from a JSON body (`Content-Type: application/json`) or a form.
struct LoginInput(Credentials);

impl<S: Send + Sync> FromRequest<S> for LoginInput {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.trim_start().starts_with("application/json"));
        // The rejection's text could quote what was sent (a password): say only
        // what is expected.
        let bad = || {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "send `email` and `password` as a form or as JSON",
            )
        };
        let credentials = if is_json {
            Json::<Credentials>::from_request(request, state)
                .await
                .map_err(|_| bad())?
                .0
        } else {
            Form::<Credentials>::from_request(request, state)
                .await
                .map_err(|_| bad())?
                .0
        };
        Ok(LoginInput(credentials))
    }
}

/// `POST /login`: create a customer token, hand it to the engine, set the cookie.
async fn login(State(app): State<AppState>, LoginInput(input): LoginInput) -> Response {
    match login_session(&app, input).await {
        Ok((secret, token_expiry)) => (
            [(SET_COOKIE, secret.set_cookie())],
            Json(json!({ "logged_in": true, "expires_at": token_expiry })),
        )
            .into_response(),
        Err(error) => error.into_response(),
    }
}

async fn login_session(
    app: &AppState,
    input: Credentials,
) -> Result<(SessionSecret, String), ApiError> {
    let password = Password::new(input.password);
    let token = app
        .client
        .create_token(&input.email, &password)
        .await
        .map_err(|error| ApiError::from_storefront(&error))?;
    let secret = SessionSecret::random()
        .map_err(|error| ApiError::internal("could not make a session id", &error))?;
    let id = secret.token_id();
    let expires_at = token.expires_at().to_rfc3339();
    app.renewals
        .add(id.clone(), token, None)
        .await
        .map_err(|error| ApiError::from_session(&error))?;
    tracing::info!(session = %id, %expires_at, "customer logged in");
    Ok((secret, expires_at))
}

/// `GET /me`: the session's customer, read with its current token.
async fn me(State(app): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let id = SessionSecret::from_headers(&headers)
        .ok_or_else(|| ApiError::unauthorized("not logged in; POST /login first"))?
        .token_id();
    let token = match app.renewals.valid(&id).await {
        Ok(token) => token,
        Err(error) => {
            if error.must_log_in_again() {
                forget(&app, &id).await;
            }
            return Err(ApiError::from_session(&error));
        }
    };
    let (customer, token) = match app.client.customer(token.access_token()).await {
        Ok(customer) => (customer, token),
        // With a shop that rotates tokens, another replica may have just renewed this
        // one, and our copy is the string it replaced. `renew_now` asks the store
        // first: a newer version there is adopted without a mutation; only a token
        // nobody renewed is sent, and rejected if it is really dead.
        Err(error) if error.must_log_in_again() => match app.renewals.renew_now(&id).await {
            Ok(fresh) => match app.client.customer(fresh.access_token()).await {
                Ok(customer) => (customer, fresh),
                Err(error) => {
                    if error.must_log_in_again() {
                        forget(&app, &id).await;
                    }
                    return Err(ApiError::from_storefront(&error));
                }
            },
            Err(renewal) => {
                if renewal.must_log_in_again() {
                    forget(&app, &id).await;
                }
                return Err(ApiError::from_storefront(&error));
            }
        },
        Err(error) => return Err(ApiError::from_storefront(&error)),
    };
    Ok(Json(json!({
        "display_name": customer.display_name,
        "email": customer.email,
        "expires_at": token.expires_at().to_rfc3339(),
    })))
}

/// Stops renewing a session's token and deletes it from the store.
async fn forget(app: &AppState, id: &TokenId) {
    if let Err(error) = app.renewals.remove(id).await {
        tracing::warn!(session = %id, error = %ErrorReport::new(&error), "could not forget the session");
    }
}

/// `POST /logout`: revoke the token, forget the session, clear the cookie.
/// Always succeeds, so a stale cookie is cleared too.
async fn logout(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(secret) = SessionSecret::from_headers(&headers) {
        let id = secret.token_id();
        // Read through the store: the login may have been on another replica.
        // An expired or rejected token is nothing left to revoke.
        let token = app.renewals.valid(&id).await.ok();
        // Forget first, so no renewal is scheduled for a token being revoked.
        forget(&app, &id).await;
        if let Some(token) = token {
            revoke(&app, &id, &token).await;
        }
        tracing::info!(session = %id, "customer logged out");
    }
    (
        [(SET_COOKIE, clear_cookie())],
        Json(json!({ "logged_out": true })),
    )
        .into_response()
}

async fn revoke(app: &AppState, id: &TokenId, token: &CustomerAccessToken) {
    match app.client.delete_token(token.access_token()).await {
        Ok(()) => {}
        Err(error) if error.must_log_in_again() => {} // already dead
        Err(error) => {
            tracing::warn!(session = %id, error = %ErrorReport::new(&error), "could not revoke the token");
        }
    }
}

/// `GET /metrics`: the engine's metrics, in Prometheus's text format.
async fn metrics(State(app): State<AppState>) -> Response {
    match &app.metrics {
        Some(metrics) => ([(CONTENT_TYPE, METRICS_CONTENT_TYPE)], metrics.render()).into_response(),
        None => ApiError::new(StatusCode::NOT_FOUND, "metrics are not served").into_response(),
    }
}

/// `GET /sessions`: the state and schedule of every session held here, for
/// debugging (with replicas, each lists those it holds).
async fn sessions(State(app): State<AppState>) -> Json<Value> {
    let mut all = app.renewals.snapshot().await;
    all.sort_by(|(a, _), (b, _)| a.cmp(b));
    let list: Vec<Value> = all
        .iter()
        .map(|(id, status)| session_json(id, status))
        .collect();
    Json(json!({ "count": list.len(), "sessions": list }))
}

fn session_json(id: &TokenId, status: &TokenStatus<CustomerAccessToken>) -> Value {
    let state = match status.state() {
        TokenState::Scheduled => "scheduled",
        TokenState::Renewing => "renewing",
        TokenState::Expired => "expired",
        TokenState::Rejected => "rejected",
        _ => "unknown",
    };
    json!({
        "session": id.as_str(),
        "state": state,
        "token_fingerprint": status.credential().access_token().fingerprint().to_string(),
        "issued_at": status.issued_at().to_rfc3339(),
        "expires_at": status.expires_at().to_rfc3339(),
        "next_renewal_at": status.next_renewal_at().map(|at| at.to_rfc3339()),
        "failures": status.failures(),
    })
}
