//! [`StorefrontClient`]: the typed customer-token operations, and its builder.

use std::fmt;
use std::sync::Arc;

use zeroize::{Zeroize, Zeroizing};

use crate::error::{
    ConfigError, ConfigErrorKind, CustomerErrorCode, CustomerUserError, LoginRejected,
    MalformedKind, MalformedResponse, TokenRejected, UserError,
};
use crate::operations::customer_access_token_renew as renew;
use crate::operations::{
    self, customer, customer_access_token_create as create, customer_access_token_delete as delete,
    encode,
};
use crate::transport::{scrub, Decoded, Request, ResponseMeta, Transport};
use crate::{AccessToken, Customer, CustomerAccessToken, Error, ErrorKind, Operation, Password};

/// A client for the Storefront API's customer-token operations.
///
/// Cheap to clone (an `Arc` inside) and `Send + Sync`: build one and share it.
///
/// ```no_run
/// use storefront_token::{Password, StorefrontClient};
///
/// # async fn run() -> Result<(), storefront_token::Error> {
/// let client = StorefrontClient::builder()
///     .shop("my-shop")
///     .public_token("public-storefront-token")
///     .build()?;
/// let token = client
///     .create_token("customer@example.com", &Password::new("correct horse"))
///     .await?;
/// let renewed = client.renew_token(token.access_token()).await?;
/// println!("valid until {}", renewed.expires_at());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct StorefrontClient {
    inner: Arc<Inner>,
}

/// What a built client holds; made by
/// [`StorefrontClientBuilder::build`](crate::StorefrontClientBuilder::build).
pub(crate) struct Inner {
    pub(crate) transport: Transport,
    pub(crate) auth: AuthKind,
    /// Whether the endpoint's path is `/api/{version}/graphql.json`; when not, a
    /// 404 shows the form it should have.
    pub(crate) standard_path: bool,
}

/// Which storefront token the client sends.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AuthKind {
    Public,
    Private,
}

impl fmt::Debug for StorefrontClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let transport = &self.inner.transport;
        f.debug_struct("StorefrontClient")
            .field("endpoint", &transport.endpoint.as_str())
            .field("api_version", &transport.api_version)
            .field("auth", &self.inner.auth)
            .field("timeout", &transport.timeout)
            .field("retry", &transport.retry)
            .finish_non_exhaustive()
    }
}

impl StorefrontClient {
    pub(crate) fn from_inner(inner: Inner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The GraphQL endpoint requests go to.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        self.inner.transport.endpoint.as_str()
    }

    /// The storefront's clock minus ours, estimated from the `Date` header of
    /// recent responses (the median of the last 15 distinct values); `None` before
    /// the first response. Expiries are in the storefront's time: the renewal
    /// engine uses this to compare them with our clock.
    #[must_use]
    pub fn server_clock_offset(&self) -> Option<chrono::TimeDelta> {
        self.inner.transport.server_clock.offset()
    }

    /// Forgets every `Date` sample, so [`server_clock_offset`](Self::server_clock_offset)
    /// is `None` until fresh responses rebuild the estimate.
    ///
    /// The renewal engine calls this after it detects a jump of our wall clock:
    /// the old samples were measured against the clock before the jump, and would
    /// skew the offset until enough new ones outvoted them.
    pub fn reset_server_clock_offset(&self) {
        self.inner.transport.server_clock.reset();
    }

    /// The API version requested.
    #[must_use]
    pub fn api_version(&self) -> &str {
        &self.inner.transport.api_version
    }

    /// Logs a customer in with `customerAccessTokenCreate` (legacy customer
    /// accounts only).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::LoginRejected`] when Shopify refuses the credentials (for
    /// example [`CustomerErrorCode::UnidentifiedCustomer`]), and the transport, HTTP,
    /// GraphQL and malformed-response errors every call can return.
    pub async fn create_token(
        &self,
        email: &str,
        password: &Password,
    ) -> Result<CustomerAccessToken, Error> {
        let strings_len = email.len() + password.expose_secret().len();
        let body = encode::<operations::CustomerAccessTokenCreate>(
            create::Variables {
                input: create::CustomerAccessTokenCreateInput {
                    email: email.to_owned(),
                    password: password.expose_secret().to_owned(),
                },
            },
            strings_len,
        );
        let secrets = [password.expose_secret()];
        let Decoded { data, meta, .. } = self
            .send::<create::ResponseData>(Operation::Create, body, &secrets, None)
            .await?;
        let payload = data
            .customer_access_token_create
            .ok_or_else(|| malformed(Operation::Create, MalformedKind::MissingPayload, &meta))?;
        if !payload.customer_user_errors.is_empty() {
            let errors = payload
                .customer_user_errors
                .into_iter()
                .map(|error| {
                    CustomerUserError::new(
                        error
                            .code
                            .as_ref()
                            .and_then(|code| customer_error_code(code, &secrets)),
                        scrub_field(error.field, &secrets),
                        scrub(error.message, &secrets),
                    )
                })
                .collect();
            return Err(Error::new(
                ErrorKind::LoginRejected(LoginRejected::new(errors, meta.request_id())),
                Some(Operation::Create),
            ));
        }
        let token = payload
            .customer_access_token
            .ok_or_else(|| malformed(Operation::Create, MalformedKind::MissingToken, &meta))?;
        self.checked_token(
            Operation::Create,
            token.access_token,
            token.expires_at.0,
            &meta,
        )
    }

    /// Extends a token with `customerAccessTokenRenew`. It must run before the
    /// token's `expiresAt`; an expired token can only be replaced by a new login.
    ///
    /// Use the returned token from now on: whether Shopify returns the same string
    /// or a new one is not documented. Transient failures are retried. If an attempt
    /// renewed the token but its response was lost (a timeout, a broken connection)
    /// and Shopify rotates tokens, the retry comes back as
    /// [`ErrorKind::TokenRejected`] — rightly: the old token is dead and the new one
    /// never arrived.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::TokenRejected`] (see [`Error::must_log_in_again`]) when Shopify
    /// answers with `userErrors`; [`ErrorKind::MalformedResponse`] when the new
    /// `expiresAt` is not in the future; and the errors every call can return.
    pub async fn renew_token(&self, token: &AccessToken) -> Result<CustomerAccessToken, Error> {
        let Decoded { data, meta, .. } = self
            .execute_with_token::<operations::CustomerAccessTokenRenew>(
                Operation::Renew,
                token,
                |customer_access_token| renew::Variables {
                    customer_access_token,
                },
            )
            .await?;
        let secrets = [token.expose_secret()];
        let payload = data
            .customer_access_token_renew
            .ok_or_else(|| malformed(Operation::Renew, MalformedKind::MissingPayload, &meta))?;
        if !payload.user_errors.is_empty() {
            return Err(token_rejected(
                Operation::Renew,
                payload
                    .user_errors
                    .into_iter()
                    .map(|e| (e.field, e.message)),
                &secrets,
                meta,
            ));
        }
        let renewed = payload
            .customer_access_token
            .ok_or_else(|| malformed(Operation::Renew, MalformedKind::MissingToken, &meta))?;
        self.checked_token(
            Operation::Renew,
            renewed.access_token,
            renewed.expires_at.0,
            &meta,
        )
    }

    /// Revokes a token with `customerAccessTokenDelete` (log out).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::TokenRejected`] when Shopify answers with `userErrors` (for
    /// example, the token was already deleted or has expired), and the errors every
    /// call can return. After a transient failure that may have reached Shopify, a
    /// retry that finds the token gone counts as success.
    pub async fn delete_token(&self, token: &AccessToken) -> Result<(), Error> {
        let Decoded {
            data,
            meta,
            retried,
        } = self
            .execute_with_token::<operations::CustomerAccessTokenDelete>(
                Operation::Delete,
                token,
                |customer_access_token| delete::Variables {
                    customer_access_token,
                },
            )
            .await?;
        let secrets = [token.expose_secret()];
        let mut payload = data
            .customer_access_token_delete
            .ok_or_else(|| malformed(Operation::Delete, MalformedKind::MissingPayload, &meta))?;
        if let Some(echoed) = payload.deleted_access_token.as_mut() {
            echoed.zeroize();
        }
        if payload.user_errors.is_empty() {
            Ok(())
        } else if retried {
            // An earlier attempt failed after it may have reached the storefront:
            // that attempt deleted the token, and this one finds it gone.
            tracing::debug!("token already gone after a retried delete; treating it as deleted");
            Ok(())
        } else {
            Err(token_rejected(
                Operation::Delete,
                payload
                    .user_errors
                    .into_iter()
                    .map(|e| (e.field, e.message)),
                &secrets,
                meta,
            ))
        }
    }

    /// Reads the customer a token belongs to, which also checks that the token is
    /// valid.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::TokenRejected`] (with no user errors) when Shopify finds no
    /// customer for the token, and the errors every call can return.
    pub async fn customer(&self, token: &AccessToken) -> Result<Customer, Error> {
        let Decoded { data, meta, .. } = self
            .execute_with_token::<operations::Customer>(
                Operation::Customer,
                token,
                |customer_access_token| customer::Variables {
                    customer_access_token,
                },
            )
            .await?;
        let secrets = [token.expose_secret()];
        match data.customer {
            Some(found) => Ok(Customer {
                id: found.id,
                email: found.email,
                display_name: found.display_name,
            }),
            None => Err(token_rejected(
                Operation::Customer,
                std::iter::empty(),
                &secrets,
                meta,
            )),
        }
    }

    /// Sends an operation whose only variable is the customer token.
    async fn execute_with_token<Q>(
        &self,
        operation: Operation,
        token: &AccessToken,
        variables: impl FnOnce(String) -> Q::Variables,
    ) -> Result<Decoded<Q::ResponseData>, Error>
    where
        Q: operations::Document,
        Q::Variables: Zeroize,
    {
        let secret = token.expose_secret();
        let body = encode::<Q>(variables(secret.to_owned()), secret.len());
        self.send(operation, body, &[token.expose_secret()], Some(token))
            .await
    }

    /// Sends any GraphQL operation you derive with `graphql_client`, such as a
    /// cart mutation, and returns its typed `data`.
    ///
    /// It goes the same way as the crate's own operations: the same HTTP client,
    /// storefront token and headers, [`RetryPolicy`](crate::RetryPolicy), error layers (HTTP status as
    /// [`ErrorKind::Http`], top-level `errors` as [`ErrorKind::Graphql`], an
    /// unexpected body as [`ErrorKind::MalformedResponse`]), `tracing` span
    /// (`storefront_request`, with `operation` set to the operation's name and
    /// `token` to the customer token's fingerprint) and
    /// [`Error::operation`] ([`Operation::Custom`] with the operation's name).
    ///
    /// `customer_token` is the customer access token your variables carry, if
    /// any (as `cartBuyerIdentityUpdate`'s `buyerIdentity.customerAccessToken`
    /// does): it is scrubbed from every message that comes back, and only its
    /// fingerprint is logged. Your `Variables` type is yours, so the copy of the
    /// token it holds is not zeroed by this crate.
    ///
    /// Mutation payloads' own `userErrors` are part of your `ResponseData`: check
    /// them there. Transient failures are retried as for every operation: a
    /// mutation that is not idempotent may then run twice, as with any retry; set
    /// a [`RetryPolicy::never`](crate::RetryPolicy::never) client for those if that matters.
    ///
    /// `graphql_client`'s [`GraphQLQuery`](graphql_client::GraphQLQuery) trait
    /// is the one foreign type in this crate's API, on purpose: it is the trait
    /// its derive implements for your `.graphql` documents. Derive it against the
    /// Storefront schema (Shopify publishes it; the mock's is
    /// `graphql/schema.graphql` in this crate) and use the same version of
    /// `graphql_client` as this crate (0.16).
    ///
    /// Here the crate's own `customer` query, derived from its documents, sent
    /// against the mock (feature `mock`):
    ///
    /// ```
    /// use graphql_client::GraphQLQuery;
    /// use storefront_token::mock::MockStorefront;
    /// use storefront_token::{Password, StorefrontClient};
    ///
    /// #[derive(GraphQLQuery)]
    /// #[graphql(
    ///     schema_path = "graphql/schema.graphql",
    ///     query_path = "graphql/customer.graphql",
    ///     response_derives = "Debug"
    /// )]
    /// struct Customer;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let shop = MockStorefront::builder()
    ///     .demo_customer("ada@example.com", "correct horse", "Ada Lovelace")
    ///     .build()
    ///     .await?;
    /// let client = StorefrontClient::builder()
    ///     .endpoint(shop.endpoint())
    ///     .public_token(shop.public_token())
    ///     .build()?;
    /// let token = client
    ///     .create_token("ada@example.com", &Password::new("correct horse"))
    ///     .await?;
    ///
    /// let variables = customer::Variables {
    ///     customer_access_token: token.access_token().expose_secret().to_owned(),
    /// };
    /// let data = client
    ///     .execute::<Customer>(variables, Some(token.access_token()))
    ///     .await?;
    /// assert_eq!(
    ///     data.customer.map(|c| c.display_name).as_deref(),
    ///     Some("Ada Lovelace")
    /// );
    /// # shop.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// `examples/cart.rs` logs a customer in against the mock and attaches them to
    /// a new cart with `cartCreate` and `cartBuyerIdentityUpdate`.
    ///
    /// # Errors
    ///
    /// The transport, HTTP, GraphQL and malformed-response errors every call can
    /// return.
    pub async fn execute<Q: graphql_client::GraphQLQuery>(
        &self,
        variables: Q::Variables,
        customer_token: Option<&AccessToken>,
    ) -> Result<Q::ResponseData, Error> {
        let query = Q::build_query(variables);
        let operation = Operation::Custom(query.operation_name);
        let token_len = customer_token.map_or(0, |token| token.expose_secret().len());
        // Room for the document escaped, and for the token at its worst escape, so
        // the buffer is not reallocated (leaving a copy unzeroed) while written.
        let capacity = 256 + query.query.len() * 2 + token_len * 6;
        let mut body = Zeroizing::new(Vec::with_capacity(capacity));
        serde_json::to_writer(&mut *body, &query).map_err(|error| {
            Error::from(
                ConfigError::new(
                    ConfigErrorKind::InvalidVariables,
                    "the operation's variables could not be encoded as json",
                )
                .with_source(error),
            )
        })?;
        drop(query);
        let secrets: Vec<&str> = customer_token
            .map(AccessToken::expose_secret)
            .into_iter()
            .collect();
        let Decoded { data, .. } = self
            .send::<Q::ResponseData>(operation, body, &secrets, customer_token)
            .await?;
        Ok(data)
    }

    async fn send<D: serde::de::DeserializeOwned>(
        &self,
        operation: Operation,
        body: Zeroizing<Vec<u8>>,
        secrets: &[&str],
        token: Option<&AccessToken>,
    ) -> Result<Decoded<D>, Error> {
        let request = Request {
            operation,
            body,
            secrets,
            token,
        };
        let result = self.inner.transport.execute(request).await;
        if self.inner.standard_path {
            result
        } else {
            result.map_err(Error::with_endpoint_form_hint)
        }
    }

    fn checked_token(
        &self,
        operation: Operation,
        access_token: String,
        expires_at: chrono::DateTime<chrono::Utc>,
        meta: &ResponseMeta,
    ) -> Result<CustomerAccessToken, Error> {
        let token = AccessToken::new(access_token);
        if expires_at <= self.inner.transport.clock.now() {
            return Err(malformed(
                operation,
                MalformedKind::ExpiryNotInFuture { expires_at },
                meta,
            ));
        }
        Ok(CustomerAccessToken::new(token, expires_at))
    }
}

fn malformed(operation: Operation, kind: MalformedKind, meta: &ResponseMeta) -> Error {
    Error::new(
        ErrorKind::MalformedResponse(MalformedResponse::new(kind, meta.request_id())),
        Some(operation),
    )
}

fn token_rejected(
    operation: Operation,
    user_errors: impl Iterator<Item = (Option<Vec<String>>, String)>,
    secrets: &[&str],
    meta: ResponseMeta,
) -> Error {
    let user_errors = user_errors
        .map(|(field, message)| {
            UserError::new(scrub_field(field, secrets), scrub(message, secrets))
        })
        .collect();
    Error::new(
        ErrorKind::TokenRejected(TokenRejected::new(user_errors, meta.request_id())),
        Some(operation),
    )
}

/// A user error's field path, scrubbed like its message: both are printed.
fn scrub_field(field: Option<Vec<String>>, secrets: &[&str]) -> Vec<String> {
    field
        .unwrap_or_default()
        .into_iter()
        .map(|segment| scrub(segment, secrets))
        .collect()
}

fn customer_error_code(
    code: &create::CustomerErrorCode,
    secrets: &[&str],
) -> Option<CustomerErrorCode> {
    match serde_json::to_value(code) {
        Ok(serde_json::Value::String(code)) => {
            Some(CustomerErrorCode::parse(&scrub(code, secrets)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_error_fields_are_scrubbed_like_messages() {
        let error = token_rejected(
            Operation::Renew,
            std::iter::once((
                Some(vec![
                    "customerAccessToken".to_owned(),
                    "x-SENTINEL".to_owned(),
                ]),
                "SENTINEL is invalid".to_owned(),
            )),
            &["SENTINEL"],
            ResponseMeta::default(),
        );
        assert!(!error.to_string().contains("SENTINEL"), "{error}");
        assert!(!format!("{error:?}").contains("SENTINEL"), "{error:?}");
    }
}
