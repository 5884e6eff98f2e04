//! What the app is built from: the shop it talks to (a real one or the
//! embedded mock), the replicas' session store in Redis, and the Prometheus
//! exporter.

use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use storefront_token::at_rest::{Keyring, Sealer, KEYS_ENV};
use storefront_token::mock::MockStorefront;
use storefront_token::renewal::metrics as engine_metrics;
use storefront_token::renewal::RedisStore;
use storefront_token::{RetryPolicy, StorefrontClient};

use super::{
    non_empty_env, BoxError, DEFAULT_MOCK_LIFETIME, DEFAULT_REDIS_PREFIX, DEMO_EMAIL, DEMO_NAME,
    DEMO_PASSWORD, REDIS_PREFIX_ENV, REDIS_URL_ENV,
};

/// The Prometheus exporter, with buckets for the engine's histograms (without
/// them it would report quantiles, which cannot be summed across replicas).
pub fn prometheus() -> Result<PrometheusBuilder, BoxError> {
    let metric = |name: &str| Matcher::Full(name.to_owned());
    let minute = 60.0;
    let hour = 60.0 * minute;
    let day = 24.0 * hour;
    Ok(PrometheusBuilder::new()
        .set_buckets_for_metric(
            metric(engine_metrics::TIME_LEFT),
            &[
                minute,
                5.0 * minute,
                15.0 * minute,
                hour,
                6.0 * hour,
                day,
                3.0 * day,
                7.0 * day,
                14.0 * day,
                21.0 * day,
            ],
        )?
        .set_buckets_for_metric(
            metric(engine_metrics::START_LATENESS),
            &[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 300.0],
        )?
        .set_buckets_for_metric(
            metric(engine_metrics::STORE_LATENCY),
            &[
                0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ],
        )?)
}

/// The replicas' shared session store, when `STOREFRONT_REDIS_URL` is set.
pub(super) async fn redis_store_from_env() -> Result<Option<RedisStore>, BoxError> {
    let Some(url) = non_empty_env(REDIS_URL_ENV) else {
        return Ok(None);
    };
    let keys = Keyring::from_env()
        .map_err(|error| format!("{REDIS_URL_ENV} needs the keys in {KEYS_ENV}: {error}"))?;
    let prefix = non_empty_env(REDIS_PREFIX_ENV).unwrap_or_else(|| DEFAULT_REDIS_PREFIX.into());
    Ok(Some(redis_store(&url, keys, &prefix).await?))
}

/// A session store in the Redis at `url` (its password, if any, is never
/// logged), sealing tokens with `keys`, under `prefix`.
pub async fn redis_store(url: &str, keys: Keyring, prefix: &str) -> Result<RedisStore, BoxError> {
    Ok(RedisStore::builder(url, Sealer::new(keys))
        .prefix(prefix)
        .build()
        .await?)
}

/// The Storefront the app talks to: a real shop, or the embedded mock.
pub enum Shop {
    /// A real shop (or any endpoint) with its public storefront token.
    Remote {
        /// `STOREFRONT_SHOP` (a shop name or domain) …
        shop: Option<String>,
        /// … or `STOREFRONT_ENDPOINT` (a full GraphQL URL).
        endpoint: Option<String>,
        /// `STOREFRONT_PUBLIC_TOKEN`.
        public_token: String,
    },
    /// The mock, started in-process with the demo customer.
    Mock(MockStorefront),
}

impl Shop {
    pub(super) async fn from_env() -> Result<Self, BoxError> {
        let shop = non_empty_env("STOREFRONT_SHOP");
        let endpoint = non_empty_env("STOREFRONT_ENDPOINT");
        if shop.is_some() || endpoint.is_some() {
            let public_token = non_empty_env("STOREFRONT_PUBLIC_TOKEN")
                .ok_or("STOREFRONT_SHOP/STOREFRONT_ENDPOINT need STOREFRONT_PUBLIC_TOKEN")?;
            return Ok(Shop::Remote {
                shop,
                endpoint,
                public_token,
            });
        }
        let lifetime = match non_empty_env("MOCK_TOKEN_LIFETIME_SECS") {
            Some(seconds) => Duration::from_secs(
                seconds
                    .trim()
                    .parse()
                    .map_err(|_| "MOCK_TOKEN_LIFETIME_SECS must be a number of seconds")?,
            ),
            None => DEFAULT_MOCK_LIFETIME,
        };
        Ok(Shop::Mock(Self::start_mock(lifetime).await?))
    }

    /// The embedded mock with the demo customer.
    pub async fn start_mock(lifetime: Duration) -> Result<MockStorefront, BoxError> {
        Ok(MockStorefront::builder()
            .demo_customer(DEMO_EMAIL, DEMO_PASSWORD, DEMO_NAME)
            .token_lifetime(lifetime)
            .build()
            .await?)
    }

    /// A client for this shop.
    pub fn client(&self, retry: RetryPolicy) -> Result<StorefrontClient, BoxError> {
        let builder = StorefrontClient::builder().retry_policy(retry);
        let builder = match self {
            Shop::Mock(mock) => builder
                .endpoint(mock.endpoint())
                .public_token(mock.public_token()),
            Shop::Remote {
                shop: Some(shop),
                public_token,
                ..
            } => builder.shop(shop).public_token(public_token),
            Shop::Remote {
                endpoint,
                public_token,
                ..
            } => builder
                .endpoint(endpoint.as_deref().unwrap_or_default())
                .public_token(public_token),
        };
        Ok(builder.build()?)
    }
}
