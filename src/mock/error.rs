//! The error type of the mock Storefront.

use std::net::SocketAddr;

/// Why the mock Storefront could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MockError {
    /// The listening socket could not be bound (port in use, no permission, ...).
    #[error("could not bind the mock Storefront to {addr}")]
    Bind {
        /// The address the mock tried to bind.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The embedded GraphQL schema did not validate (a bug in this crate).
    #[error("the embedded Storefront schema is invalid: {0}")]
    Schema(String),
    /// A builder setting was rejected.
    #[error("invalid mock setting: {0}")]
    InvalidSetting(String),
}
