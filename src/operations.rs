//! The GraphQL operations, typed by `graphql_client` from the documents in
//! `graphql/`. Everything here is private: callers see the types in
//! [`token`](crate::token) and [`error`](crate::error).
//!
//! No `Debug` is derived on these types: they carry tokens and passwords.

use graphql_client::GraphQLQuery;
use zeroize::Zeroize;

/// The `DateTime` custom scalar. chrono accepts any RFC 3339 offset and converts
/// it to UTC.
type DateTime = chrono::DateTime<chrono::Utc>;

/// `customerAccessTokenCreate`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/schema.graphql",
    query_path = "graphql/customer_access_token_create.graphql"
)]
pub(crate) struct CustomerAccessTokenCreate;

/// `customerAccessTokenRenew`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/schema.graphql",
    query_path = "graphql/customer_access_token_renew.graphql"
)]
pub(crate) struct CustomerAccessTokenRenew;

/// `customerAccessTokenDelete`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/schema.graphql",
    query_path = "graphql/customer_access_token_delete.graphql"
)]
pub(crate) struct CustomerAccessTokenDelete;

/// `customer(customerAccessToken:)`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/schema.graphql",
    query_path = "graphql/customer.graphql"
)]
pub(crate) struct Customer;

// The variables carry a token or a password: zero them once they are encoded.

impl Zeroize for customer_access_token_create::Variables {
    fn zeroize(&mut self) {
        self.input.email.zeroize();
        self.input.password.zeroize();
    }
}

impl Zeroize for customer_access_token_renew::Variables {
    fn zeroize(&mut self) {
        self.customer_access_token.zeroize();
    }
}

impl Zeroize for customer_access_token_delete::Variables {
    fn zeroize(&mut self) {
        self.customer_access_token.zeroize();
    }
}

impl Zeroize for customer::Variables {
    fn zeroize(&mut self) {
        self.customer_access_token.zeroize();
    }
}
