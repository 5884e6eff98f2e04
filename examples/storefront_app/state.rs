//! What the handlers share, and the task that logs the renewal engine's events.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use storefront_token::renewal::{
    EventError, EventReceiver, MemoryStore, RenewalEngine, RenewalEvent, RenewalHandle,
    RenewalPolicy, StorefrontRenewer, TokenStore,
};
use storefront_token::{CustomerAccessToken, StorefrontClient};

use super::BoxError;

/// What the handlers share: a client for customer requests, the engine that
/// keeps every session's token alive, and the metrics to serve.
#[derive(Clone)]
pub struct AppState {
    pub(super) client: StorefrontClient,
    pub(super) renewals: RenewalHandle<CustomerAccessToken>,
    pub(super) metrics: Option<PrometheusHandle>,
}

impl AppState {
    /// Starts the renewal engine (renewing through `renewer_client`) with the
    /// sessions in memory, and a task that logs its events.
    pub async fn start(
        client: StorefrontClient,
        renewer_client: StorefrontClient,
        policy: RenewalPolicy,
    ) -> Result<Self, BoxError> {
        Self::start_on(client, renewer_client, policy, Arc::new(MemoryStore::new())).await
    }

    /// [`start`](Self::start) with the sessions in `store` (a [`RedisStore`]
    /// shared by replicas). The engine registers its metrics with the recorder
    /// installed now.
    pub async fn start_on<S: TokenStore<CustomerAccessToken>>(
        client: StorefrontClient,
        renewer_client: StorefrontClient,
        policy: RenewalPolicy,
        store: Arc<S>,
    ) -> Result<Self, BoxError> {
        let engine = RenewalEngine::builder(StorefrontRenewer::new(renewer_client))
            .store(store)
            .policy(policy)
            .build();
        // Subscribed before the start, so nothing the start-up emits is missed.
        tokio::spawn(log_events(engine.events()));
        let renewals = engine.start().await?;
        Ok(AppState {
            client,
            renewals,
            metrics: None,
        })
    }

    /// Serves `GET /metrics` from this Prometheus recorder.
    #[must_use]
    pub fn with_metrics(mut self, metrics: PrometheusHandle) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The engine keeping the sessions alive.
    pub fn renewals(&self) -> &RenewalHandle<CustomerAccessToken> {
        &self.renewals
    }
}

/// Logs every renewal event, one line each (its `Display`, with the whole error
/// chain), until the engine stops. Session ids in events are hashes, never
/// cookies.
async fn log_events(mut events: EventReceiver) {
    loop {
        match events.recv().await {
            Ok(event) => log_event(&event),
            Err(EventError::Lagged(missed)) => tracing::warn!(missed, "missed renewal events"),
            Err(EventError::Closed) => return,
            Err(error) => {
                tracing::warn!(%error, "renewal events ended");
                return;
            }
        }
    }
}

fn log_event(event: &RenewalEvent) {
    match event {
        RenewalEvent::RenewalFailed { .. }
        | RenewalEvent::Expired { .. }
        | RenewalEvent::Rejected { .. }
        | RenewalEvent::ReloginFailed { .. }
        | RenewalEvent::NotLoggedInAgain { .. }
        | RenewalEvent::StoreFailed { .. }
        | RenewalEvent::RenewingWithoutLease { .. }
        | RenewalEvent::ShopPaused { .. }
        | RenewalEvent::ClockJump { .. }
        | RenewalEvent::ClockSkew { .. } => tracing::warn!("session {event}"),
        _ => tracing::info!("session {event}"),
    }
}
