//! storefront-token: keeps Shopify Storefront API customer access tokens alive.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod operation;

pub use operation::Operation;

#[cfg(feature = "mock")]
pub mod mock;
