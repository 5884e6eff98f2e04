//! Settings of the mock: fixed ones (chosen in the builder) and live ones (changeable while running).

use std::time::Duration;

/// Default token lifetime: 42 days, the only lifetime ever measured on Shopify.
pub(crate) const DEFAULT_LIFETIME: Duration = Duration::from_secs(42 * 24 * 60 * 60);
/// Default API version in the endpoint path.
pub(crate) const DEFAULT_API_VERSION: &str = "2026-04";
/// Default value accepted in `X-Shopify-Storefront-Access-Token`.
pub(crate) const DEFAULT_PUBLIC_TOKEN: &str = "mock-public-storefront-token";
/// Default value accepted in `Shopify-Storefront-Private-Token`.
pub(crate) const DEFAULT_PRIVATE_TOKEN: &str = "mock-private-storefront-token";
/// Default `userErrors` message for an unknown, expired or revoked customer access token.
pub(crate) const DEFAULT_INVALID_TOKEN_MESSAGE: &str = "Customer access token is invalid.";
/// Default `shop { name }`.
pub(crate) const DEFAULT_SHOP_NAME: &str = "Mock Storefront";
/// Largest request body the mock reads; larger bodies get `413`.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

/// Settings fixed for the lifetime of a server.
#[derive(Debug, Clone)]
pub(crate) struct FixedSettings {
    pub(crate) api_version: String,
    pub(crate) public_token: String,
    pub(crate) private_token: String,
    /// Value of the `X-Shopify-API-Version` response header.
    pub(crate) api_version_header: String,
    /// Value of the optional `X-Shopify-API-Deprecated-Reason` response header.
    pub(crate) deprecated_reason: Option<String>,
}

/// Settings that tests may change while the server runs.
#[derive(Debug, Clone)]
pub(crate) struct LiveSettings {
    pub(crate) token_lifetime: Duration,
    pub(crate) renew_rotates_token: bool,
    pub(crate) invalid_token_message: String,
    pub(crate) customer_scope_denied: bool,
    pub(crate) shop_name: String,
}

impl Default for LiveSettings {
    fn default() -> Self {
        LiveSettings {
            token_lifetime: DEFAULT_LIFETIME,
            renew_rotates_token: false,
            invalid_token_message: DEFAULT_INVALID_TOKEN_MESSAGE.to_owned(),
            customer_scope_denied: false,
            shop_name: DEFAULT_SHOP_NAME.to_owned(),
        }
    }
}
