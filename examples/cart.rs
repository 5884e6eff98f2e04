//! `cart`: your own Storefront operations, sent with [`StorefrontClient::execute`].
//!
//! ```text
//! cargo run --example cart
//! ```
//!
//! Against an embedded mock Storefront: a visitor's cart is created
//! (`cartCreate`), the customer logs in (`customerAccessTokenCreate`), and the
//! cart is attached to them with their customer access token
//! (`cartBuyerIdentityUpdate`), as Shopify asks storefronts to do after login.
//! After logging out, attaching again answers with the mutation's own
//! `userErrors`, which are part of the typed response data.
//!
//! The operations are ours, in `examples/graphql/`, typed by `graphql_client`'s
//! derive against the Storefront schema (the mock's, `graphql/schema.graphql`).
//! They go through the crate's transport: the same storefront token, retries,
//! error layers and tracing, and the customer token is scrubbed from every
//! message that comes back.

use std::error::Error as StdError;
use std::fmt;

use graphql_client::GraphQLQuery;
use storefront_token::mock::MockStorefront;
use storefront_token::{AccessToken, ErrorReport, Password, StorefrontClient};

/// The demo customer of the embedded mock.
const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery staple";
const NAME: &str = "Ada Lovelace";

/// The Storefront's `URL` scalar, as `graphql_client` expects each custom scalar
/// the documents use to be named in scope (`ID` is a `String` already).
#[allow(clippy::upper_case_acronyms)]
type URL = String;

/// `examples/graphql/cart_create.graphql`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/schema.graphql",
    query_path = "examples/graphql/cart_create.graphql"
)]
pub struct CartCreate;

/// `examples/graphql/cart_buyer_identity_update.graphql`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/schema.graphql",
    query_path = "examples/graphql/cart_buyer_identity_update.graphql"
)]
pub struct CartBuyerIdentityUpdate;

type BoxError = Box<dyn StdError + Send + Sync>;

/// A cart mutation answered with `userErrors`: `code field: message` of each.
#[derive(Debug)]
pub struct CartRejected {
    /// The mutation's root field.
    pub mutation: &'static str,
    /// One line per user error.
    pub errors: Vec<String>,
}

impl fmt::Display for CartRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} refused: {}", self.mutation, self.errors.join("; "))
    }
}

impl StdError for CartRejected {}

/// An enum value as the Storefront spells it (`INVALID`).
fn wire_name<T: serde::Serialize>(value: &T) -> Option<String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => Some(name),
        _ => None,
    }
}

fn user_error_line(code: Option<String>, field: Option<Vec<String>>, message: &str) -> String {
    let code = code.unwrap_or_else(|| "no code".to_owned());
    match field {
        Some(field) if !field.is_empty() => format!("{code} {}: {message}", field.join(".")),
        _ => format!("{code}: {message}"),
    }
}

/// A new, anonymous cart: its id and checkout URL.
pub async fn create_cart(
    client: &StorefrontClient,
    note: &str,
) -> Result<(String, String), BoxError> {
    let data = client
        .execute::<CartCreate>(
            cart_create::Variables {
                note: Some(note.to_owned()),
            },
            None,
        )
        .await?;
    let payload = data
        .cart_create
        .ok_or("cartCreate answered without a payload")?;
    if !payload.user_errors.is_empty() {
        return Err(Box::new(CartRejected {
            mutation: "cartCreate",
            errors: payload
                .user_errors
                .into_iter()
                .map(|e| user_error_line(e.code.as_ref().and_then(wire_name), e.field, &e.message))
                .collect(),
        }));
    }
    let cart = payload.cart.ok_or("cartCreate answered without a cart")?;
    Ok((cart.id, cart.checkout_url))
}

/// The customer a cart now belongs to: their id and display name.
pub struct Attached {
    /// The customer's id (`gid://shopify/Customer/…`).
    pub customer_id: String,
    /// The customer's display name.
    pub display_name: String,
}

/// Attaches the customer whose token this is to the cart.
///
/// # Errors
///
/// [`CartRejected`] when the mutation answers with `userErrors` (an expired or
/// revoked token, an unknown cart), or the crate's [`storefront_token::Error`].
pub async fn attach_customer(
    client: &StorefrontClient,
    cart_id: &str,
    token: &AccessToken,
) -> Result<Attached, BoxError> {
    let variables = cart_buyer_identity_update::Variables {
        cart_id: cart_id.to_owned(),
        customer_access_token: token.expose_secret().to_owned(),
    };
    // The token is passed again so that it is scrubbed from any message and only
    // its fingerprint is logged.
    let data = client
        .execute::<CartBuyerIdentityUpdate>(variables, Some(token))
        .await?;
    let payload = data
        .cart_buyer_identity_update
        .ok_or("cartBuyerIdentityUpdate answered without a payload")?;
    if !payload.user_errors.is_empty() {
        return Err(Box::new(CartRejected {
            mutation: "cartBuyerIdentityUpdate",
            errors: payload
                .user_errors
                .into_iter()
                .map(|e| user_error_line(e.code.as_ref().and_then(wire_name), e.field, &e.message))
                .collect(),
        }));
    }
    let customer = payload
        .cart
        .and_then(|cart| cart.buyer_identity.customer)
        .ok_or("the cart came back without its customer")?;
    Ok(Attached {
        customer_id: customer.id,
        display_name: customer.display_name,
    })
}

/// The whole walk-through against `shop`, which must know the demo customer.
/// Returns the cart's id.
pub async fn walk_through(shop: &MockStorefront) -> Result<String, BoxError> {
    let client = StorefrontClient::builder()
        .endpoint(shop.endpoint()) // or .shop("my-shop") for a real one
        .public_token(shop.public_token())
        .build()?;

    let (cart_id, checkout_url) = create_cart(&client, "gift wrap, please").await?;
    println!("cartCreate: cart {cart_id} (checkout at {checkout_url})");

    let token = client.create_token(EMAIL, &Password::new(PASSWORD)).await?;
    println!(
        "logged in: token {} valid until {}",
        token.access_token().fingerprint(),
        token.expires_at().to_rfc3339()
    );

    let attached = attach_customer(&client, &cart_id, token.access_token()).await?;
    println!(
        "cartBuyerIdentityUpdate: cart {cart_id} belongs to {} ({})",
        attached.display_name, attached.customer_id
    );

    client.delete_token(token.access_token()).await?;
    println!("logged out");
    match attach_customer(&client, &cart_id, token.access_token()).await {
        Err(error) if error.is::<CartRejected>() => {
            println!("attaching with the revoked token is refused, as it should be: {error}");
        }
        Err(error) => return Err(error),
        Ok(_) => return Err("the cart took a revoked customer token".into()),
    }
    Ok(cart_id)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let result = async {
        let shop = MockStorefront::builder()
            .demo_customer(EMAIL, PASSWORD, NAME)
            .build()
            .await?;
        println!("mock storefront listening at {}", shop.endpoint());
        let outcome = walk_through(&shop).await;
        shop.shutdown().await;
        outcome.map(drop)
    }
    .await;
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", ErrorReport::new(error.as_ref()));
            std::process::ExitCode::FAILURE
        }
    }
}
