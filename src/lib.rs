//! # storefront-token
//!
//! Keeps Shopify Storefront API **customer access tokens** alive.
//!
//! Shopify's Storefront API logs a customer in with `customerAccessTokenCreate`
//! (email and password) and extends the token with `customerAccessTokenRenew`,
//! which must run *before* the token's `expiresAt`: once expired, only a new login
//! helps. This crate gives you:
//!
//! - [`StorefrontClient`]: the four customer-token operations, typed, with typed
//!   errors that keep HTTP status, GraphQL `errors` and `userErrors` apart
//!   ([`Error`], [`ErrorKind`]), and retries of transient failures
//!   ([`RetryPolicy`]); and [`StorefrontClient::execute`] for any other operation
//!   you derive with `graphql_client` (carts, say), through the same layers;
//! - secret newtypes ([`AccessToken`], [`Password`], [`PrivateToken`]) that never
//!   print their value;
//! - [`renewal`]: tokens kept alive ahead of expiry — one with
//!   [`renewal::TokenKeeper`], any number with [`renewal::RenewalEngine`] — through
//!   faults, clock skew, suspend and restarts;
//! - [`at_rest`]: tokens sealed at rest (XChaCha20-Poly1305, rotating keys), which
//!   every built-in store that writes outside the process uses;
//! - [`mock::MockStorefront`] (feature `mock`): a stateful Storefront on loopback
//!   for your own tests.
//!
//! > Shopify deprecated **legacy customer accounts** on 2026-02-26: they are no
//! > longer available to new stores, and a sunset date is still to be announced.
//! > The successor is the Customer Account API (OAuth with refresh tokens).
//!
//! ## Quick start
//!
//! Log in, renew, read the customer and log out, here against the mock (the
//! README's quick start is the same code):
//!
//! ```
//! # #[cfg(feature = "mock")]
//! use storefront_token::mock::MockStorefront;
//! use storefront_token::{Password, StorefrontClient};
//!
//! # #[cfg(feature = "mock")]
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // The mock Storefront (feature `mock`) with one customer; for a real shop, drop
//!     // these lines and use `.shop("my-shop")` and your public storefront token below.
//!     let shop = MockStorefront::builder()
//!         .demo_customer("ada@example.com", "correct horse", "Ada")
//!         .build()
//!         .await?;
//!
//!     let client = StorefrontClient::builder()
//!         .endpoint(shop.endpoint()) // or .shop("my-shop"): a handle, a myshopify or custom domain
//!         .public_token(shop.public_token())
//!         .build()?;
//!
//!     let token = client
//!         .create_token("ada@example.com", &Password::new("correct horse"))
//!         .await?;
//!     println!("logged in until {}", token.expires_at());
//!
//!     // Renew before expiresAt; keep the returned token (Shopify may or may not rotate it).
//!     let token = client.renew_token(token.access_token()).await?;
//!
//!     let customer = client.customer(token.access_token()).await?;
//!     assert_eq!(customer.display_name, "Ada");
//!
//!     client.delete_token(token.access_token()).await?;
//!     let error = client.renew_token(token.access_token()).await.unwrap_err();
//!     assert!(error.must_log_in_again()); // a revoked token: log in again
//!     Ok(())
//! }
//! # #[cfg(not(feature = "mock"))]
//! # fn main() {}
//! ```
//!
//! ## Errors
//!
//! Every call returns [`Error`]. Ask it [`Error::is_transient`] (retry later),
//! [`Error::must_log_in_again`] (the token is dead), [`Error::failure_scope`] (one
//! token, the whole shop, or nothing lasting), or match [`Error::kind`] for the
//! details of each layer. [`ErrorReport`] prints an error with its sources on one
//! line, for logs.
//!
//! ## Cargo features
//!
//! - `rustls` (default): TLS through rustls.
//! - `native-tls`: TLS through the platform's library instead.
//! - `mock`: [`mock::MockStorefront`], a stateful Storefront on loopback for tests.
//! - `redis`: `renewal::RedisStore`, replicas sharing tokens through Redis, sealed
//!   at rest ([`at_rest`]).
//! - `file-store`: `renewal::FileStore`, an encrypted, locked token file for CLIs
//!   and single hosts.
//! - `metrics`: the renewal engine's metrics through the `metrics` facade
//!   (`renewal::metrics` lists them).
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]
// docs.rs builds with `--cfg docsrs` (Cargo.toml): items behind a feature get an
// "available on crate feature … only" badge.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod at_rest;
mod client;
mod client_builder;
mod clock;
mod endpoint;
pub mod error;
mod operation;
mod operations;
pub mod renewal;
mod retry;
mod secret;
mod skew;
mod token;
mod transport;

pub use client::StorefrontClient;
pub use client_builder::StorefrontClientBuilder;
pub use clock::{Clock, Sleep, SystemClock};
pub use endpoint::DEFAULT_API_VERSION;
pub use error::{Error, ErrorKind, ErrorReport, FailureScope, Result};
pub use operation::Operation;
pub use retry::RetryPolicy;
pub use secret::{AccessToken, Password, PrivateToken, TokenFingerprint};
pub use token::{Customer, CustomerAccessToken};

/// The `chrono` this crate is built with. Its types are part of the public API
/// (expiries are [`chrono::DateTime<Utc>`](chrono::DateTime), clock offsets
/// [`chrono::TimeDelta`]), so use them from here to be sure the versions match.
pub use chrono;

#[cfg(feature = "mock")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock")))]
pub mod mock;

/// Entry points for the fuzz targets in `fuzz/`; built only by cargo-fuzz.
#[cfg(all(fuzzing, feature = "mock"))]
#[doc(hidden)]
#[path = "fuzz.rs"]
pub mod __fuzz;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
