//! [`RedisStore`]: the [`TokenStore`](crate::renewal::TokenStore) protocol in
//! Redis, one Lua script per call, values sealed at rest.
//!
//! - `keys`: the key layout.
//! - `connection`: the connection manager, the scripts (`lua/*.lua`), a
//!   deadline on every call, the round-trip counter.
//! - `handle`: the store (what every clone shares) and its documentation.
//! - `builder`: where Redis is, prefix, lease clock, timeouts.
//! - `protocol`: `TokenStore` for every `StorableCredential`.
//! - `scan`: `load_all`, `versions` and the re-seal pass, in `SCAN` batches.

mod builder;
mod connection;
mod handle;
mod keys;
mod protocol;
mod scan;

pub use builder::{RedisStoreBuilder, RedisTarget};
pub use handle::RedisStore;
pub use scan::ResealReport;
