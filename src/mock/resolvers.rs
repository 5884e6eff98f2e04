//! The mock's resolvers: the root fields (`QueryRoot`, `Mutation`) against the
//! shop's state, and the objects they answer with.

use std::cell::RefCell;
use std::sync::{Mutex, PoisonError};

use apollo_compiler::resolvers::{FieldError, ObjectValue, ResolveInfo, ResolvedValue};
use apollo_compiler::response::{JsonMap, JsonValue};
use serde_json::{json, Value};

use super::clock::format_datetime;
use super::state::{BuyerInput, Cart, CartError, CreateOutcome, Customer, State};

/// The root object (`QueryRoot` or `Mutation`).
pub(super) struct Root<'s> {
    pub(super) type_name: &'s str,
    pub(super) is_mutation: bool,
    pub(super) state: &'s Mutex<State>,
    /// Messages of the access-denied field errors this execution produced.
    pub(super) denied: RefCell<Vec<String>>,
    /// `@inContext(country:)`: the buyer's country for carts made without one.
    pub(super) context_country: Option<String>,
}

impl Root<'_> {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ObjectValue for Root<'_> {
    fn type_name(&self) -> &str {
        self.type_name
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        let field = info.field_name();
        let args = info.arguments();
        let mut state = self.lock();
        // The scope covers the customer mutations (`unauthenticated_write_customers`).
        if self.is_mutation
            && field.starts_with("customerAccessToken")
            && state.settings.customer_scope_denied
        {
            let message = format!("{} access denied", pascal_case(field));
            self.denied.borrow_mut().push(message.clone());
            return Err(FieldError { message });
        }
        let token = || string_arg(args, "customerAccessToken");
        let value = match (self.is_mutation, field) {
            (true, "customerAccessTokenCreate") => {
                let input = args.get("input").and_then(JsonValue::as_object);
                let email = input.map_or("", |i| string_arg(i, "email"));
                let password = input.map_or("", |i| string_arg(i, "password"));
                create_payload(state.create(email, password))
            }
            (true, "customerAccessTokenRenew") => {
                let message = state.settings.invalid_token_message.clone();
                match state.renew(token()) {
                    Some(issued) => Obj::new("CustomerAccessTokenRenewPayload")
                        .with("customerAccessToken", token_object(&issued))
                        .with("userErrors", Val::List(Vec::new())),
                    None => Obj::new("CustomerAccessTokenRenewPayload")
                        .with("customerAccessToken", Val::null())
                        .with("userErrors", invalid_token_errors(&message)),
                }
            }
            (true, "customerAccessTokenDelete") => {
                let message = state.settings.invalid_token_message.clone();
                match state.delete(token()) {
                    Some(deleted) => Obj::new("CustomerAccessTokenDeletePayload")
                        .with("deletedAccessToken", Val::leaf(deleted.access_token))
                        .with("deletedCustomerAccessTokenId", Val::leaf(deleted.token_id))
                        .with("userErrors", Val::List(Vec::new())),
                    None => Obj::new("CustomerAccessTokenDeletePayload")
                        .with("deletedAccessToken", Val::null())
                        .with("deletedCustomerAccessTokenId", Val::null())
                        .with("userErrors", invalid_token_errors(&message)),
                }
            }
            (true, "cartCreate") => {
                let input = args.get("input").and_then(JsonValue::as_object);
                let note = input
                    .and_then(|i| i.get("note"))
                    .and_then(JsonValue::as_str)
                    .map(str::to_owned);
                let mut buyer = input
                    .and_then(|i| i.get("buyerIdentity"))
                    .and_then(JsonValue::as_object)
                    .map(buyer_input)
                    .unwrap_or_default();
                if buyer.country_code.is_none() {
                    buyer.country_code = self.context_country.clone().map(Some);
                }
                let outcome = state.cart_create(note, Some(&buyer));
                cart_payload("CartCreatePayload", &state, outcome)
            }
            (true, "cartBuyerIdentityUpdate") => {
                let buyer = args
                    .get("buyerIdentity")
                    .and_then(JsonValue::as_object)
                    .map(buyer_input)
                    .unwrap_or_default();
                let outcome = state.cart_buyer_identity_update(string_arg(args, "cartId"), &buyer);
                cart_payload("CartBuyerIdentityUpdatePayload", &state, outcome)
            }
            (false, "customer") => match state.customer(token()) {
                Some(customer) => customer_object(customer),
                None => return Ok(ResolvedValue::null()),
            },
            (false, "cart") => match state.cart(string_arg(args, "id")) {
                Some(cart) => cart_object(&state, cart),
                None => return Ok(ResolvedValue::null()),
            },
            (false, "shop") => Obj::new("Shop")
                .with("id", Val::leaf("gid://shopify/Shop/1"))
                .with("name", Val::leaf(state.settings.shop_name.clone()))
                .with("description", Val::null()),
            _ => return Err(self.unknown_field_error(info)),
        };
        drop(state);
        Ok(ResolvedValue::object(value))
    }
}

fn customer_object(customer: &Customer) -> Obj {
    let optional = |value: &Option<String>| value.clone().map_or_else(Val::null, Val::leaf);
    Obj::new("Customer")
        .with("id", Val::leaf(customer.id.clone()))
        .with("email", Val::leaf(customer.email.clone()))
        .with("displayName", Val::leaf(customer.display_name.clone()))
        .with("firstName", optional(&customer.first_name))
        .with("lastName", optional(&customer.last_name))
        .with("phone", optional(&customer.phone))
        .with("createdAt", Val::leaf(format_datetime(customer.created_at)))
        .with("updatedAt", Val::leaf(format_datetime(customer.updated_at)))
}

/// The fields of a `CartBuyerIdentityInput` the mock keeps; a field given as
/// `null` clears the cart's value, a missing one leaves it.
fn buyer_input(map: &JsonMap) -> BuyerInput {
    let field = |name: &str| map.get(name).map(|value| value.as_str().map(str::to_owned));
    BuyerInput {
        customer_access_token: field("customerAccessToken"),
        email: field("email"),
        phone: field("phone"),
        country_code: field("countryCode"),
        company_location_id: field("companyLocationId"),
    }
}

fn cart_object(state: &State, cart: &Cart) -> Obj {
    let customer = cart.customer.and_then(|index| state.customer_at(index));
    let optional = |value: Option<String>| value.map_or_else(Val::null, Val::leaf);
    // Without an email or phone of its own, the buyer identity shows the customer's.
    let email = cart
        .email
        .clone()
        .or_else(|| customer.map(|c| c.email.clone()));
    let phone = cart
        .phone
        .clone()
        .or_else(|| customer.and_then(|c| c.phone.clone()));
    let buyer = Obj::new("CartBuyerIdentity")
        .with(
            "customer",
            customer.map_or_else(Val::null, |c| customer_object(c).into()),
        )
        .with("email", optional(email))
        .with("phone", optional(phone))
        .with("countryCode", optional(cart.country_code.clone()));
    Obj::new("Cart")
        .with("id", Val::leaf(cart.id.clone()))
        .with("checkoutUrl", Val::leaf(cart.checkout_url.clone()))
        .with("createdAt", Val::leaf(format_datetime(cart.created_at)))
        .with("updatedAt", Val::leaf(format_datetime(cart.updated_at)))
        .with("note", optional(cart.note.clone()))
        .with("totalQuantity", Val::leaf(0))
        .with("buyerIdentity", buyer)
}

fn cart_payload(type_name: &'static str, state: &State, outcome: Result<Cart, CartError>) -> Obj {
    let (cart, errors) = match outcome {
        Ok(cart) => (Val::Obj(cart_object(state, &cart)), Vec::new()),
        Err(error) => (
            Val::null(),
            vec![Val::Obj(
                Obj::new("CartUserError")
                    .with("code", Val::leaf(error.code))
                    .with("field", Val::leaf(json!(error.field)))
                    .with("message", Val::leaf(error.message)),
            )],
        ),
    };
    Obj::new(type_name)
        .with("cart", cart)
        .with("userErrors", Val::List(errors))
        .with("warnings", Val::List(Vec::new()))
}

fn string_arg<'m>(map: &'m JsonMap, name: &str) -> &'m str {
    map.get(name).and_then(JsonValue::as_str).unwrap_or("")
}

/// `customerAccessTokenRenew` → `CustomerAccessTokenRenew`.
fn pascal_case(field: &str) -> String {
    let mut chars = field.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn token_object(issued: &super::state::IssuedToken) -> Val {
    Val::Obj(
        Obj::new("CustomerAccessToken")
            .with("accessToken", Val::leaf(issued.access_token.clone()))
            .with("expiresAt", Val::leaf(format_datetime(issued.expires_at))),
    )
}

fn invalid_token_errors(message: &str) -> Val {
    Val::List(vec![Val::Obj(
        Obj::new("UserError")
            .with("field", Val::leaf(json!(["customerAccessToken"])))
            .with("message", Val::leaf(message)),
    )])
}

fn create_payload(outcome: CreateOutcome) -> Obj {
    let (token, error) = match outcome {
        CreateOutcome::Issued(issued) => (token_object(&issued), None),
        CreateOutcome::BlankEmail => (
            Val::null(),
            Some(("BLANK", json!(["input", "email"]), "Email can't be blank")),
        ),
        CreateOutcome::BlankPassword => (
            Val::null(),
            Some((
                "BLANK",
                json!(["input", "password"]),
                "Password can't be blank",
            )),
        ),
        CreateOutcome::Unidentified => (
            Val::null(),
            Some((
                "UNIDENTIFIED_CUSTOMER",
                Value::Null,
                "Unidentified customer",
            )),
        ),
    };
    let (customer_errors, user_errors) = match error {
        None => (Vec::new(), Vec::new()),
        Some((code, field, message)) => (
            vec![Val::Obj(
                Obj::new("CustomerUserError")
                    .with("code", Val::leaf(code))
                    .with("field", Val::leaf(field.clone()))
                    .with("message", Val::leaf(message)),
            )],
            vec![Val::Obj(
                Obj::new("UserError")
                    .with("field", Val::leaf(field))
                    .with("message", Val::leaf(message)),
            )],
        ),
    };
    Obj::new("CustomerAccessTokenCreatePayload")
        .with("customerAccessToken", token)
        .with("customerUserErrors", Val::List(customer_errors))
        .with("userErrors", Val::List(user_errors))
}

/// A resolved value tree below a root field.
#[derive(Debug, Clone)]
enum Val {
    Leaf(Value),
    Obj(Obj),
    List(Vec<Val>),
}

impl Val {
    fn null() -> Self {
        Val::Leaf(Value::Null)
    }

    fn leaf(value: impl Into<Value>) -> Self {
        Val::Leaf(value.into())
    }

    fn resolved<'a>(&self) -> ResolvedValue<'a> {
        match self {
            // GraphQL lists must be resolved item by item, even lists of scalars.
            Val::Leaf(Value::Array(items)) => ResolvedValue::list(
                items
                    .iter()
                    .map(|item| ResolvedValue::leaf(JsonValue::from(item.clone())))
                    .collect::<Vec<_>>(),
            ),
            Val::Leaf(value) => ResolvedValue::leaf(JsonValue::from(value.clone())),
            Val::Obj(obj) => ResolvedValue::object(obj.clone()),
            Val::List(items) => {
                ResolvedValue::list(items.iter().map(Val::resolved).collect::<Vec<_>>())
            }
        }
    }
}

/// A concrete object of a schema type, with every field precomputed.
#[derive(Debug, Clone)]
struct Obj {
    type_name: &'static str,
    fields: Vec<(&'static str, Val)>,
}

impl Obj {
    fn new(type_name: &'static str) -> Self {
        Obj {
            type_name,
            fields: Vec::new(),
        }
    }

    fn with(mut self, name: &'static str, value: impl Into<Val>) -> Self {
        self.fields.push((name, value.into()));
        self
    }
}

impl From<Obj> for Val {
    fn from(obj: Obj) -> Self {
        Val::Obj(obj)
    }
}

impl ObjectValue for Obj {
    fn type_name(&self) -> &str {
        self.type_name
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        self.fields
            .iter()
            .find(|(name, _)| *name == info.field_name())
            .map(|(_, value)| value.resolved())
            .ok_or_else(|| self.unknown_field_error(info))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pascal() {
        assert_eq!(
            pascal_case("customerAccessTokenRenew"),
            "CustomerAccessTokenRenew"
        );
        assert_eq!(pascal_case(""), "");
    }
}
