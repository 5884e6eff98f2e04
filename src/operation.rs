//! The Storefront operations this crate sends.

use std::fmt;

/// A Storefront API operation: one of the four this crate knows, or one of your
/// own sent with [`StorefrontClient::execute`](crate::StorefrontClient::execute).
///
/// Used in errors, `tracing` spans and the mock's request counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Operation {
    /// `customerAccessTokenCreate`: log in with email and password.
    Create,
    /// `customerAccessTokenRenew`: extend a token before it expires.
    Renew,
    /// `customerAccessTokenDelete`: revoke a token (log out).
    Delete,
    /// `customer(customerAccessToken:)`: read the customer a token belongs to.
    Customer,
    /// An operation of your own, sent with
    /// [`StorefrontClient::execute`](crate::StorefrontClient::execute): its GraphQL
    /// operation name (such as `CartCreate`). Never in [`ALL`](Self::ALL).
    Custom(&'static str),
}

impl Operation {
    /// Every operation, in a fixed order.
    pub const ALL: &'static [Operation] = &[
        Operation::Create,
        Operation::Renew,
        Operation::Delete,
        Operation::Customer,
    ];

    /// The GraphQL root field this operation selects, as Shopify names it; for a
    /// [`Custom`](Self::Custom) operation, its operation name.
    #[must_use]
    pub const fn root_field(self) -> &'static str {
        match self {
            Operation::Custom(name) => name,
            Operation::Create => "customerAccessTokenCreate",
            Operation::Renew => "customerAccessTokenRenew",
            Operation::Delete => "customerAccessTokenDelete",
            Operation::Customer => "customer",
        }
    }

    /// The operation whose root field is `name`, if it is one of ours.
    #[must_use]
    pub fn from_root_field(name: &str) -> Option<Operation> {
        Operation::ALL
            .iter()
            .copied()
            .find(|op| op.root_field() == name)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.root_field())
    }
}
