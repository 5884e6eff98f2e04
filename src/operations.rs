//! The GraphQL operations, typed by `graphql_client` from the documents in
//! `graphql/`. Everything here is private: callers see the types in
//! [`token`](crate::token) and [`error`](crate::error).
//!
//! No `Debug` is derived on these types: they carry tokens and passwords.

use std::sync::OnceLock;

use graphql_client::GraphQLQuery;
use zeroize::{Zeroize, Zeroizing};

/// The `DateTime` custom scalar: an ISO 8601 date-time as RFC 3339, with any
/// offset, converted to UTC.
pub(crate) struct DateTime(pub(crate) chrono::DateTime<chrono::Utc>);

impl<'de> serde::Deserialize<'de> for DateTime {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Rfc3339;

        impl serde::de::Visitor<'_> for Rfc3339 {
            type Value = DateTime;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an RFC 3339 date-time")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<DateTime, E> {
                chrono::DateTime::parse_from_rfc3339(text)
                    .map(|at| DateTime(at.with_timezone(&chrono::Utc)))
                    .map_err(|_| E::custom("not an RFC 3339 date-time"))
            }
        }

        deserializer.deserialize_str(Rfc3339)
    }
}

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

/// An operation whose constant part of the request body (the document and the
/// operation name, about 300 bytes of escaped JSON) is encoded once, not per
/// request.
pub(crate) trait Document: GraphQLQuery {
    /// `,"query":"…","operationName":"…"}`.
    fn encoded_document() -> &'static [u8];
}

macro_rules! document {
    ($operation:ty, $module:ident) => {
        impl Document for $operation {
            fn encoded_document() -> &'static [u8] {
                static ENCODED: OnceLock<Vec<u8>> = OnceLock::new();
                ENCODED.get_or_init(|| encode_document($module::QUERY, $module::OPERATION_NAME))
            }
        }
    };
}

document!(CustomerAccessTokenCreate, customer_access_token_create);
document!(CustomerAccessTokenRenew, customer_access_token_renew);
document!(CustomerAccessTokenDelete, customer_access_token_delete);
document!(Customer, customer);

fn encode_document(query: &str, operation_name: &str) -> Vec<u8> {
    let mut encoded = b",\"query\":".to_vec();
    // Writing strings into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut encoded, query);
    encoded.extend_from_slice(b",\"operationName\":");
    let _ = serde_json::to_writer(&mut encoded, operation_name);
    encoded.push(b'}');
    encoded
}

/// Room for the variables' JSON beyond their strings' own length: keys, quotes,
/// braces. With each string counted six times over (the worst JSON escape,
/// `\u00XX`), the buffer holding a secret is never reallocated (and the old one
/// freed unzeroed) while it is written.
const VARIABLES_OVERHEAD: usize = 128;
const WORST_ESCAPE: usize = 6;

/// The request body `{"variables":…,"query":…,"operationName":…}`; the copy of
/// the secrets the variables held is zeroed once written. `strings_len` is the
/// total length of the variables' strings.
pub(crate) fn encode<Q: Document>(
    mut variables: Q::Variables,
    strings_len: usize,
) -> Zeroizing<Vec<u8>>
where
    Q::Variables: Zeroize,
{
    let document = Q::encoded_document();
    let capacity = VARIABLES_OVERHEAD + strings_len.saturating_mul(WORST_ESCAPE) + document.len();
    let mut body = Zeroizing::new(Vec::with_capacity(capacity));
    body.extend_from_slice(b"{\"variables\":");
    // Serialising these generated structs (strings only) into a Vec cannot fail;
    // were it to, the storefront would refuse the cut body rather than us panic.
    let _ = serde_json::to_writer(&mut *body, &variables);
    variables.zeroize();
    body.extend_from_slice(document);
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_bodies_match_graphql_clients_own_encoding() {
        let variables = || customer_access_token_renew::Variables {
            customer_access_token: "tok\"en".to_owned(),
        };
        let ours: serde_json::Value =
            serde_json::from_slice(&encode::<CustomerAccessTokenRenew>(variables(), 6))
                .unwrap_or_default();
        let theirs = serde_json::to_value(CustomerAccessTokenRenew::build_query(variables()))
            .unwrap_or_default();
        assert_eq!(ours, theirs);
        assert_eq!(ours["variables"]["customerAccessToken"], "tok\"en");
        assert_eq!(ours["operationName"], "CustomerAccessTokenRenew");
    }

    fn parse(text: &str) -> Option<String> {
        serde_json::from_str::<DateTime>(&format!("\"{text}\""))
            .ok()
            .map(|at| at.0.to_rfc3339())
    }

    #[test]
    fn date_times_take_any_offset_and_refuse_non_rfc3339() {
        assert_eq!(
            parse("2019-09-07T15:50:00Z").as_deref(),
            Some("2019-09-07T15:50:00+00:00")
        );
        assert_eq!(
            parse("2019-09-07T17:50:00+02:00").as_deref(),
            Some("2019-09-07T15:50:00+00:00")
        );
        assert_eq!(
            parse("2019-09-07T15:50:00.123-00:30").as_deref(),
            Some("2019-09-07T16:20:00.123+00:00")
        );
        for bad in [
            "",
            "2019-09-07",
            "1567871400",
            "2019-09-07 15:50",
            "tomorrow",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
