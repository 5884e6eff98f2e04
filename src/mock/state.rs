//! Customers, customer access tokens, counters and the clock: everything the mock remembers.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, SubsecRound, Utc};

use super::clock::{add_std, Clock};
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
}

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
        let existing = self.find_customer(email);
        let number = existing.map_or(self.customers.len() + 1, |index| index + 1);
        let customer = Customer {
            id: format!("gid://shopify/Customer/{number}"),
            email: email.trim().to_owned(),
            password: password.to_owned(),
            display_name: display_name.to_owned(),
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
