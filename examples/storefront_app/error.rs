//! Error answers: what the customer is told, without internals.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use storefront_token::renewal::{RenewalError, RenewalErrorKind};
use storefront_token::{ErrorKind, ErrorReport};

/// An error answer: a status and a message, as `{"error": message}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub(super) fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// A Storefront error, told to the customer without internals.
    pub(super) fn from_storefront(error: &storefront_token::Error) -> Self {
        if matches!(error.kind(), ErrorKind::LoginRejected(_)) {
            return Self::unauthorized("the email or password is not correct");
        }
        if error.must_log_in_again() {
            return Self::unauthorized("your session has ended; log in again");
        }
        tracing::warn!(error = %ErrorReport::new(error), "storefront request failed");
        if error.is_transient() {
            Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the shop is not answering; try again shortly",
            )
        } else {
            Self::new(
                StatusCode::BAD_GATEWAY,
                "the shop could not handle the request",
            )
        }
    }

    /// A renewal-engine error about a session.
    pub(super) fn from_session(error: &RenewalError) -> Self {
        match error.kind() {
            RenewalErrorKind::NotFound => Self::unauthorized("no such session; log in"),
            RenewalErrorKind::Expired => {
                Self::unauthorized("your session has expired; log in again")
            }
            RenewalErrorKind::Rejected => {
                Self::unauthorized("your session has ended; log in again")
            }
            _ => {
                tracing::error!(error = %ErrorReport::new(error), "renewal engine error");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "sessions are unavailable; try again",
                )
            }
        }
    }

    /// An internal failure: logged, and told to the customer as `what`.
    pub(super) fn internal(what: &str, error: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %error, "{what}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, what)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}
