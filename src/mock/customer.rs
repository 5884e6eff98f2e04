//! [`MockCustomer`]: a customer account to register with the mock.

use std::fmt;

/// A legacy customer account for the mock Storefront: login credentials and the
/// profile served as `Customer` (`firstName`, `lastName`, `phone`, `email`,
/// `displayName`; `id`, `createdAt` and `updatedAt` come from the mock).
///
/// Register it with [`MockStorefrontBuilder::customer`](super::MockStorefrontBuilder::customer)
/// or [`MockStorefront::add_mock_customer`](super::MockStorefront::add_mock_customer).
///
/// ```
/// use storefront_token::mock::MockCustomer;
///
/// let ada = MockCustomer::new("ada@example.com", "hunter2")
///     .first_name("Ada")
///     .last_name("Lovelace")
///     .phone("+16135550100");
/// assert_eq!(ada.resolved_display_name(), "Ada Lovelace");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct MockCustomer {
    pub(crate) email: String,
    pub(crate) password: String,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) display_name: Option<String>,
}

impl fmt::Debug for MockCustomer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The password stays out of logs, even in a mock.
        f.debug_struct("MockCustomer")
            .field("email", &self.email)
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("phone", &self.phone)
            .field("display_name", &self.display_name)
            .finish_non_exhaustive()
    }
}

impl MockCustomer {
    /// A customer who logs in with `email` (matched case-insensitively) and `password`,
    /// with no name or phone.
    pub fn new(email: impl Into<String>, password: impl Into<String>) -> Self {
        MockCustomer {
            email: email.into().trim().to_owned(),
            password: password.into(),
            first_name: None,
            last_name: None,
            phone: None,
            display_name: None,
        }
    }

    /// `Customer.firstName`.
    #[must_use]
    pub fn first_name(mut self, name: impl Into<String>) -> Self {
        self.first_name = Some(name.into());
        self
    }

    /// `Customer.lastName`.
    #[must_use]
    pub fn last_name(mut self, name: impl Into<String>) -> Self {
        self.last_name = Some(name.into());
        self
    }

    /// `Customer.phone` (Shopify stores E.164, e.g. `+16135550100`; the mock does not check).
    #[must_use]
    pub fn phone(mut self, phone: impl Into<String>) -> Self {
        self.phone = Some(phone.into());
        self
    }

    /// Overrides `Customer.displayName`, which is otherwise the first and last name,
    /// or else the email, or else the phone, as Shopify describes it.
    #[must_use]
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    /// The customer's email.
    pub fn email(&self) -> &str {
        &self.email
    }

    /// `Customer.displayName` as the mock serves it.
    pub fn resolved_display_name(&self) -> String {
        if let Some(name) = &self.display_name {
            return name.clone();
        }
        let full = [&self.first_name, &self.last_name]
            .into_iter()
            .flatten()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if !full.is_empty() {
            full
        } else if !self.email.is_empty() {
            self.email.clone()
        } else {
            self.phone.clone().unwrap_or_default()
        }
    }

    /// The profile [`MockStorefront::add_customer`](super::MockStorefront::add_customer)
    /// registers: `display_name` as given, split at its first space into first and
    /// last name unless it looks like an email.
    pub(crate) fn from_display_name(email: &str, password: &str, display_name: &str) -> Self {
        let mut customer = MockCustomer::new(email, password).display_name(display_name);
        let name = display_name.trim();
        if !name.is_empty() && !name.contains('@') {
            match name.split_once(char::is_whitespace) {
                Some((first, last)) => {
                    customer.first_name = Some(first.to_owned());
                    customer.last_name = Some(last.trim().to_owned());
                }
                None => customer.first_name = Some(name.to_owned()),
            }
        }
        customer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_name_falls_back_like_shopify() {
        let c = MockCustomer::new("a@example.com", "pw");
        assert_eq!(c.resolved_display_name(), "a@example.com");
        let c = MockCustomer::new("", "pw").phone("+15550100");
        assert_eq!(c.resolved_display_name(), "+15550100");
        let c = MockCustomer::new("a@example.com", "pw").last_name("Byron");
        assert_eq!(c.resolved_display_name(), "Byron");
        let c = MockCustomer::from_display_name("a@example.com", "pw", "Ada King Lovelace");
        assert_eq!(c.first_name.as_deref(), Some("Ada"));
        assert_eq!(c.last_name.as_deref(), Some("King Lovelace"));
        assert_eq!(c.resolved_display_name(), "Ada King Lovelace");
        let c = MockCustomer::from_display_name("a@example.com", "pw", "a@example.com");
        assert_eq!(c.first_name, None);
        assert!(!format!("{c:?}").contains("pw"));
    }
}
