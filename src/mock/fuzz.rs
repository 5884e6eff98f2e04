//! The mock's request handler for the fuzz targets (`--cfg fuzzing` only).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response};

use super::clock::Clock;
use super::graphql;
use super::server::{self, Shared};
use super::settings::{
    FixedSettings, LiveSettings, DEFAULT_API_VERSION, DEFAULT_PRIVATE_TOKEN, DEFAULT_PUBLIC_TOKEN,
};
use super::state::State;

/// Handles `request` with a fresh mock: default settings, its clock frozen at
/// `now`, one customer (`ada@example.com`, password `correct horse`). `None` when
/// the handler drops the connection.
pub(crate) async fn handle(
    request: Request<Full<Bytes>>,
    now: DateTime<Utc>,
) -> Option<Response<Full<Bytes>>> {
    let schema = graphql::schema().ok()?;
    let mut state = State::new(LiveSettings::default(), Clock::new(now, true));
    state.add_customer("ada@example.com", "correct horse", "Ada");
    let fixed = FixedSettings {
        api_version: DEFAULT_API_VERSION.to_owned(),
        public_token: DEFAULT_PUBLIC_TOKEN.to_owned(),
        private_token: DEFAULT_PRIVATE_TOKEN.to_owned(),
        api_version_header: DEFAULT_API_VERSION.to_owned(),
        deprecated_reason: None,
    };
    let shared = Arc::new(Shared::new(schema, fixed, state));
    server::handle(shared, request).await.ok()
}
