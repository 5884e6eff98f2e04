//! The mutation layer: `userErrors` and `customerUserErrors` ([`TokenRejected`],
//! [`LoginRejected`], [`CustomerErrorCode`]).

use std::fmt;

/// One of a mutation's `userErrors` (a `UserError`, which has no code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserError {
    field: Vec<String>,
    message: String,
}

impl UserError {
    pub(crate) fn new(field: Vec<String>, message: String) -> Self {
        Self { field, message }
    }

    /// The path to the input field the error is about (may be empty).
    #[must_use]
    pub fn field(&self) -> &[String] {
        &self.field
    }

    /// The message, scrubbed of any secret that was sent.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

fn describe_field_errors<'a>(errors: impl Iterator<Item = (&'a [String], &'a str)>) -> String {
    let parts: Vec<String> = errors
        .map(|(field, message)| {
            if field.is_empty() {
                message.to_owned()
            } else {
                format!("{}: {message}", field.join("."))
            }
        })
        .collect();
    parts.join("; ")
}

/// The token was refused by renew, delete or the `customer` query: it is expired,
/// revoked or unknown, and only a new login helps.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", if .user_errors.is_empty() {
    "no customer for this token".to_owned()
} else {
    describe_field_errors(.user_errors.iter().map(|e| (e.field(), e.message())))
})]
pub struct TokenRejected {
    user_errors: Vec<UserError>,
    request_id: Option<String>,
}

impl TokenRejected {
    pub(crate) fn new(user_errors: Vec<UserError>, request_id: Option<String>) -> Self {
        Self {
            user_errors,
            request_id,
        }
    }

    /// The `userErrors` Shopify sent (empty when the `customer` query found no
    /// customer).
    #[must_use]
    pub fn user_errors(&self) -> &[UserError] {
        &self.user_errors
    }

    /// Shopify's `X-Request-Id`.
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

/// `CustomerErrorCode` of the Storefront API 2026-04, with a fallback for values
/// added later.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CustomerErrorCode {
    /// Customer already enabled.
    AlreadyEnabled,
    /// Input email contains an invalid domain name.
    BadDomain,
    /// The input value is blank.
    Blank,
    /// Input contains HTML tags.
    ContainsHtmlTags,
    /// Input contains URL.
    ContainsUrl,
    /// Customer is disabled.
    CustomerDisabled,
    /// The input value is invalid.
    Invalid,
    /// Multipass token is not valid.
    InvalidMultipassRequest,
    /// Address does not exist.
    NotFound,
    /// Input password starts or ends with whitespace.
    PasswordStartsOrEndsWithWhitespace,
    /// The input value is already taken.
    Taken,
    /// Invalid activation token.
    TokenInvalid,
    /// The input value is too long.
    TooLong,
    /// The input value is too short.
    TooShort,
    /// Unidentified customer: wrong email or password.
    UnidentifiedCustomer,
    /// A value this version of the crate does not know, as sent.
    Unknown(String),
}

impl CustomerErrorCode {
    /// Every value defined by the 2026-04 schema, with Shopify's spelling.
    pub const KNOWN: &'static [(CustomerErrorCode, &'static str)] = &[
        (Self::AlreadyEnabled, "ALREADY_ENABLED"),
        (Self::BadDomain, "BAD_DOMAIN"),
        (Self::Blank, "BLANK"),
        (Self::ContainsHtmlTags, "CONTAINS_HTML_TAGS"),
        (Self::ContainsUrl, "CONTAINS_URL"),
        (Self::CustomerDisabled, "CUSTOMER_DISABLED"),
        (Self::Invalid, "INVALID"),
        (Self::InvalidMultipassRequest, "INVALID_MULTIPASS_REQUEST"),
        (Self::NotFound, "NOT_FOUND"),
        (
            Self::PasswordStartsOrEndsWithWhitespace,
            "PASSWORD_STARTS_OR_ENDS_WITH_WHITESPACE",
        ),
        (Self::Taken, "TAKEN"),
        (Self::TokenInvalid, "TOKEN_INVALID"),
        (Self::TooLong, "TOO_LONG"),
        (Self::TooShort, "TOO_SHORT"),
        (Self::UnidentifiedCustomer, "UNIDENTIFIED_CUSTOMER"),
    ];

    /// The code for Shopify's spelling `code`; unknown spellings are kept.
    #[must_use]
    pub fn parse(code: &str) -> Self {
        Self::KNOWN
            .iter()
            .find(|(_, name)| *name == code)
            .map_or_else(
                || Self::Unknown(code.to_owned()),
                |(known, _)| known.clone(),
            )
    }

    /// Shopify's spelling of the code.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Unknown(code) => code,
            known => Self::KNOWN
                .iter()
                .find(|(candidate, _)| candidate == known)
                .map_or("", |(_, name)| name),
        }
    }
}

impl fmt::Display for CustomerErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One of `customerAccessTokenCreate`'s `customerUserErrors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerUserError {
    code: Option<CustomerErrorCode>,
    field: Vec<String>,
    message: String,
}

impl CustomerUserError {
    pub(crate) fn new(
        code: Option<CustomerErrorCode>,
        field: Vec<String>,
        message: String,
    ) -> Self {
        Self {
            code,
            field,
            message,
        }
    }

    /// The error code, when Shopify sent one.
    #[must_use]
    pub fn code(&self) -> Option<&CustomerErrorCode> {
        self.code.as_ref()
    }

    /// The path to the input field the error is about (may be empty).
    #[must_use]
    pub fn field(&self) -> &[String] {
        &self.field
    }

    /// The message, scrubbed of any secret that was sent.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// `customerAccessTokenCreate` refused the login.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", describe_field_errors(.errors.iter().map(|e| (e.field(), e.message()))))]
pub struct LoginRejected {
    errors: Vec<CustomerUserError>,
    request_id: Option<String>,
}

impl LoginRejected {
    pub(crate) fn new(errors: Vec<CustomerUserError>, request_id: Option<String>) -> Self {
        Self { errors, request_id }
    }

    /// The `customerUserErrors` Shopify sent (never empty).
    #[must_use]
    pub fn errors(&self) -> &[CustomerUserError] {
        &self.errors
    }

    /// Whether any error carries `code`.
    #[must_use]
    pub fn has_code(&self, code: &CustomerErrorCode) -> bool {
        self.errors.iter().any(|error| error.code() == Some(code))
    }

    /// Shopify's `X-Request-Id`.
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}
