//! Customers, customer access tokens, carts, counters and the clock: everything the mock remembers.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, SubsecRound, Utc};

use super::clock::{add_std, Clock};
use super::customer::MockCustomer;
use super::faults::Fault;
use super::settings::LiveSettings;
use crate::Operation;

/// A registered customer (legacy customer account).
#[derive(Debug, Clone)]
pub(crate) struct Customer {
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) password: String,
    pub(crate) display_name: String,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

/// A cart made by `cartCreate`.
#[derive(Debug, Clone)]
pub(crate) struct Cart {
    /// `gid://shopify/Cart/{token}?key={key}`.
    pub(crate) id: String,
    pub(crate) checkout_url: String,
    pub(crate) note: Option<String>,
    /// Index into `State::customers` of the customer attached with a token.
    pub(crate) customer: Option<usize>,
    pub(crate) email: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) country_code: Option<String>,
    pub(crate) company_location_id: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

/// The buyer identity fields of a `CartBuyerIdentityInput` that the mock keeps.
/// `None`: not given (left as it is); `Some(None)`: given as `null` (cleared).
#[derive(Debug, Clone, Default)]
pub(crate) struct BuyerInput {
    pub(crate) customer_access_token: Option<Option<String>>,
    pub(crate) email: Option<Option<String>>,
    pub(crate) phone: Option<Option<String>>,
    pub(crate) country_code: Option<Option<String>>,
    pub(crate) company_location_id: Option<Option<String>>,
}

/// Why a cart mutation failed: Shopify's `CartUserError` fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CartError {
    pub(crate) field: Vec<String>,
    pub(crate) message: &'static str,
    pub(crate) code: &'static str,
}

/// `CartUserError.message` for a customer access token that is unknown, expired or
/// revoked, as Shopify answers it (reported in Shopify/hydrogen#2495).
pub(crate) const INVALID_CUSTOMER_MESSAGE: &str = "Customer is invalid";
/// `CartUserError.message` for an unknown cart id.
pub(crate) const NO_SUCH_CART_MESSAGE: &str = "The specified cart does not exist.";

/// A customer access token the mock has issued.
#[derive(Debug, Clone)]
struct TokenRecord {
    /// Index into `State::customers`.
    customer: usize,
    expires_at: DateTime<Utc>,
    /// Stable id returned as `deletedCustomerAccessTokenId`.
    id: u64,
}

/// A token handed out by create or renew.
#[derive(Debug, Clone)]
pub(crate) struct IssuedToken {
    pub(crate) access_token: String,
    pub(crate) expires_at: DateTime<Utc>,
}

/// What `customerAccessTokenCreate` concluded.
#[derive(Debug, Clone)]
pub(crate) enum CreateOutcome {
    Issued(IssuedToken),
    BlankEmail,
    BlankPassword,
    Unidentified,
}

/// A revoked token, as `customerAccessTokenDelete` reports it.
#[derive(Debug, Clone)]
pub(crate) struct Deleted {
    pub(crate) access_token: String,
    pub(crate) token_id: String,
}

/// All mutable state of one mock server. Lives behind a `std::sync::Mutex`.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) settings: LiveSettings,
    pub(crate) clock: Clock,
    customers: Vec<Customer>,
    tokens: HashMap<String, TokenRecord>,
    next_token_id: u64,
    carts: HashMap<String, Cart>,
    /// Scheme and authority of checkout URLs, e.g. `http://127.0.0.1:4000`.
    pub(crate) origin: String,
    pub(crate) faults: VecDeque<Fault>,
    /// A fault served at random to requests with none queued, and its probability.
    pub(crate) random_fault: Option<(Fault, f64)>,
    counters: HashMap<Operation, u64>,
    pub(crate) total_requests: u64,
    pub(crate) last_buyer_ip: Option<String>,
}

impl State {
    pub(crate) fn new(settings: LiveSettings, clock: Clock) -> Self {
        State {
            settings,
            clock,
            customers: Vec::new(),
            tokens: HashMap::new(),
            next_token_id: 1,
            carts: HashMap::new(),
            origin: "http://127.0.0.1".to_owned(),
            faults: VecDeque::new(),
            random_fault: None,
            counters: HashMap::new(),
            total_requests: 0,
            last_buyer_ip: None,
        }
    }

    /// Registers a customer, replacing any with the same email; returns its GID.
    pub(crate) fn add_customer(
        &mut self,
        email: &str,
        password: &str,
        display_name: &str,
    ) -> String {
        self.add_profile(&MockCustomer::from_display_name(
            email,
            password,
            display_name,
        ))
    }

    /// Registers a customer, replacing any with the same email (which keeps its id
    /// and `createdAt`); returns its GID.
    pub(crate) fn add_profile(&mut self, profile: &MockCustomer) -> String {
        let existing = self.find_customer(&profile.email);
        let number = existing.map_or(self.customers.len() + 1, |index| index + 1);
        let now = self.clock.now().trunc_subsecs(0);
        let created_at = existing
            .and_then(|index| self.customers.get(index))
            .map_or(now, |c| c.created_at);
        let customer = Customer {
            id: format!("gid://shopify/Customer/{number}"),
            email: profile.email.trim().to_owned(),
            password: profile.password.clone(),
            display_name: profile.resolved_display_name(),
            first_name: profile.first_name.clone(),
            last_name: profile.last_name.clone(),
            phone: profile.phone.clone(),
            created_at,
            updated_at: now,
        };
        let id = customer.id.clone();
        match existing {
            Some(index) => {
                if let Some(slot) = self.customers.get_mut(index) {
                    *slot = customer;
                }
            }
            None => self.customers.push(customer),
        }
        id
    }

    fn find_customer(&self, email: &str) -> Option<usize> {
        let email = email.trim();
        self.customers
            .iter()
            .position(|c| c.email.eq_ignore_ascii_case(email))
    }

    fn new_expiry(&self) -> DateTime<Utc> {
        add_std(self.clock.now(), self.settings.token_lifetime).trunc_subsecs(0)
    }

    fn mint(&mut self, customer: usize) -> IssuedToken {
        let access_token = random_token();
        let expires_at = self.new_expiry();
        let id = self.next_token_id;
        self.next_token_id += 1;
        self.tokens.insert(
            access_token.clone(),
            TokenRecord {
                customer,
                expires_at,
                id,
            },
        );
        IssuedToken {
            access_token,
            expires_at,
        }
    }

    /// Mints a token for `email` without checking the password.
    pub(crate) fn issue_token(&mut self, email: &str) -> Option<IssuedToken> {
        let customer = self.find_customer(email)?;
        Some(self.mint(customer))
    }

    /// `customerAccessTokenCreate`.
    pub(crate) fn create(&mut self, email: &str, password: &str) -> CreateOutcome {
        if email.trim().is_empty() {
            return CreateOutcome::BlankEmail;
        }
        if password.is_empty() {
            return CreateOutcome::BlankPassword;
        }
        let Some(index) = self.find_customer(email) else {
            return CreateOutcome::Unidentified;
        };
        let matches = self
            .customers
            .get(index)
            .is_some_and(|c| constant_time_eq(c.password.as_bytes(), password.as_bytes()));
        if !matches {
            return CreateOutcome::Unidentified;
        }
        CreateOutcome::Issued(self.mint(index))
    }

    /// The record of `token` if it is live (known, not revoked, not expired).
    fn live(&self, token: &str) -> Option<&TokenRecord> {
        let now = self.clock.now();
        self.tokens.get(token).filter(|r| r.expires_at > now)
    }

    /// `customerAccessTokenRenew`: `None` if the token is not live.
    pub(crate) fn renew(&mut self, token: &str) -> Option<IssuedToken> {
        self.live(token)?;
        let expires_at = self.new_expiry();
        if self.settings.renew_rotates_token {
            let mut record = self.tokens.remove(token)?;
            record.expires_at = expires_at;
            let access_token = random_token();
            self.tokens.insert(access_token.clone(), record);
            Some(IssuedToken {
                access_token,
                expires_at,
            })
        } else {
            let record = self.tokens.get_mut(token)?;
            record.expires_at = expires_at;
            Some(IssuedToken {
                access_token: token.to_owned(),
                expires_at,
            })
        }
    }

    /// `customerAccessTokenDelete`: `None` if the token is not live.
    pub(crate) fn delete(&mut self, token: &str) -> Option<Deleted> {
        self.live(token)?;
        let record = self.tokens.remove(token)?;
        Some(Deleted {
            access_token: token.to_owned(),
            token_id: format!("gid://shopify/CustomerAccessToken/{}", record.id),
        })
    }

    /// `customer(customerAccessToken:)`: the owner of a live token.
    pub(crate) fn customer(&self, token: &str) -> Option<&Customer> {
        let record = self.live(token)?;
        self.customers.get(record.customer)
    }

    /// A customer by index (as carts refer to them).
    pub(crate) fn customer_at(&self, index: usize) -> Option<&Customer> {
        self.customers.get(index)
    }

    /// `cartCreate`: a new cart, with the buyer identity applied.
    pub(crate) fn cart_create(
        &mut self,
        note: Option<String>,
        buyer: Option<&BuyerInput>,
    ) -> Result<Cart, CartError> {
        let now = self.clock.now().trunc_subsecs(0);
        let token = format!("{:026x}", fastrand::u128(..) >> 24);
        let key = random_token();
        let mut cart = Cart {
            id: format!("gid://shopify/Cart/{token}?key={key}"),
            checkout_url: format!("{}/cart/c/{token}?key={key}", self.origin),
            note,
            customer: None,
            email: None,
            phone: None,
            country_code: None,
            company_location_id: None,
            created_at: now,
            updated_at: now,
        };
        if let Some(buyer) = buyer {
            self.apply_buyer(&mut cart, buyer, &["input", "buyerIdentity"])?;
        }
        self.carts.insert(cart.id.clone(), cart.clone());
        Ok(cart)
    }

    /// `cartBuyerIdentityUpdate`: fields given replace the cart's; the others stay.
    pub(crate) fn cart_buyer_identity_update(
        &mut self,
        cart_id: &str,
        buyer: &BuyerInput,
    ) -> Result<Cart, CartError> {
        let Some(mut cart) = self.carts.get(cart_id).cloned() else {
            return Err(CartError {
                field: vec!["cartId".to_owned()],
                message: NO_SUCH_CART_MESSAGE,
                code: "INVALID",
            });
        };
        self.apply_buyer(&mut cart, buyer, &["buyerIdentity"])?;
        cart.updated_at = self.clock.now().trunc_subsecs(0);
        self.carts.insert(cart.id.clone(), cart.clone());
        Ok(cart)
    }

    /// `cart(id:)`.
    pub(crate) fn cart(&self, id: &str) -> Option<&Cart> {
        self.carts.get(id)
    }

    /// Checks the token first, so a failed mutation changes nothing.
    fn apply_buyer(
        &self,
        cart: &mut Cart,
        buyer: &BuyerInput,
        path: &[&str],
    ) -> Result<(), CartError> {
        if let Some(token) = &buyer.customer_access_token {
            cart.customer = match token {
                None => None,
                Some(token) => match self.live(token) {
                    Some(record) => Some(record.customer),
                    None => {
                        let mut field: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
                        field.push("customerAccessToken".to_owned());
                        return Err(CartError {
                            field,
                            message: INVALID_CUSTOMER_MESSAGE,
                            code: "INVALID",
                        });
                    }
                },
            };
        }
        let set = |slot: &mut Option<String>, value: &Option<Option<String>>| {
            if let Some(value) = value {
                slot.clone_from(value);
            }
        };
        set(&mut cart.email, &buyer.email);
        set(&mut cart.phone, &buyer.phone);
        set(&mut cart.country_code, &buyer.country_code);
        set(&mut cart.company_location_id, &buyer.company_location_id);
        Ok(())
    }

    /// Expiry of a live token.
    pub(crate) fn expires_at(&self, token: &str) -> Option<DateTime<Utc>> {
        self.live(token).map(|r| r.expires_at)
    }

    /// Revokes a token whatever its state; `true` if it was known.
    pub(crate) fn revoke(&mut self, token: &str) -> bool {
        self.tokens.remove(token).is_some()
    }

    pub(crate) fn count(&mut self, op: Operation) {
        *self.counters.entry(op).or_insert(0) += 1;
    }

    pub(crate) fn requests(&self, op: Operation) -> u64 {
        self.counters.get(&op).copied().unwrap_or(0)
    }
}

/// 32 random lowercase hex characters.
fn random_token() -> String {
    format!("{:032x}", fastrand::u128(..))
}

/// Compares without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn state() -> State {
        let mut s = State::new(LiveSettings::default(), Clock::new(Utc::now(), true));
        s.add_customer("a@example.com", "pw", "A");
        s
    }

    #[test]
    fn create_checks_password_and_blanks() {
        let mut s = state();
        assert!(matches!(
            s.create("a@example.com", "pw"),
            CreateOutcome::Issued(_)
        ));
        assert!(matches!(
            s.create("A@Example.com ", "pw"),
            CreateOutcome::Issued(_)
        ));
        assert!(matches!(
            s.create("a@example.com", "nope"),
            CreateOutcome::Unidentified
        ));
        assert!(matches!(
            s.create("b@example.com", "pw"),
            CreateOutcome::Unidentified
        ));
        assert!(matches!(s.create(" ", "pw"), CreateOutcome::BlankEmail));
        assert!(matches!(
            s.create("a@example.com", ""),
            CreateOutcome::BlankPassword
        ));
    }

    #[test]
    fn tokens_expire_and_rotate() {
        let mut s = state();
        let Some(t) = s.issue_token("a@example.com") else {
            panic!("customer exists");
        };
        assert!(s.customer(&t.access_token).is_some());
        s.settings.renew_rotates_token = true;
        let Some(r) = s.renew(&t.access_token) else {
            panic!("token is live");
        };
        assert_ne!(r.access_token, t.access_token);
        assert!(s.customer(&t.access_token).is_none());
        s.clock.advance(Duration::from_secs(43 * 24 * 3600));
        assert!(s.renew(&r.access_token).is_none());
        assert!(s.expires_at(&r.access_token).is_none());
    }
}
