//! Secret newtypes: the customer access token, the customer's password and the
//! storefront private token.
//!
//! Each one keeps its value in a [`secrecy::SecretString`] (zeroed on drop), prints
//! a redaction from `Debug`, has no `Display`, and gives its value out through one
//! explicit accessor.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// What `Debug` prints in place of a secret value.
const REDACTED: &str = "[redacted]";

macro_rules! secret_newtype {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(SecretString);

        impl $name {
            #[doc = concat!("Wraps ", $what, ".")]
            #[must_use]
            pub fn new(value: impl Into<String>) -> Self {
                Self(SecretString::from(value.into()))
            }

            #[doc = concat!("The raw value of ", $what, ".")]
            ///
            /// # Security
            ///
            /// This is the only way to read the secret. Do not log it, put it in a URL,
            /// print it, or keep copies of it in memory longer than needed; it is zeroed
            /// on drop only while it stays inside this type.
            #[must_use]
            pub fn expose_secret(&self) -> &str {
                self.0.expose_secret()
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self::new(value)
            }
        }
    };
}

secret_newtype!(
    /// A customer access token, as returned by `customerAccessTokenCreate` and
    /// `customerAccessTokenRenew`.
    ///
    /// `Debug` prints only a redaction and a short [`TokenFingerprint`], so the token
    /// can be told apart in logs without being revealed:
    ///
    /// ```
    /// use storefront_token::AccessToken;
    ///
    /// let token = AccessToken::new("a-very-secret-token");
    /// let printed = format!("{token:?}");
    /// assert!(!printed.contains("a-very-secret-token"));
    /// assert!(printed.starts_with("AccessToken([redacted]"));
    /// ```
    AccessToken,
    "a customer access token"
);

secret_newtype!(
    /// A customer's password, used only by `customerAccessTokenCreate`.
    ///
    /// ```
    /// use storefront_token::Password;
    ///
    /// let password = Password::new("hunter2");
    /// assert_eq!(format!("{password:?}"), "Password([redacted])");
    /// ```
    Password,
    "a customer's password"
);

secret_newtype!(
    /// A storefront private access token, sent in `Shopify-Storefront-Private-Token`
    /// by server-side apps.
    ///
    /// ```
    /// use storefront_token::PrivateToken;
    ///
    /// let token = PrivateToken::new("shpat_secret");
    /// assert_eq!(format!("{token:?}"), "PrivateToken([redacted])");
    /// ```
    PrivateToken,
    "a storefront private access token"
);

impl AccessToken {
    /// A short, non-reversible fingerprint of this token, safe to log.
    #[must_use]
    pub fn fingerprint(&self) -> TokenFingerprint {
        TokenFingerprint::of(self.expose_secret())
    }
}

impl PartialEq for AccessToken {
    /// Compares in time independent of where the tokens first differ.
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (
            self.expose_secret().as_bytes(),
            other.expose_secret().as_bytes(),
        );
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl Eq for AccessToken {}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AccessToken({REDACTED}, fingerprint={})",
            self.fingerprint()
        )
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Password({REDACTED})")
    }
}

impl fmt::Debug for PrivateToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateToken({REDACTED})")
    }
}

/// Number of bytes of the SHA-256 digest a fingerprint keeps: 48 bits, enough to
/// tell tokens apart in logs, far too few to help anyone recover one.
const FINGERPRINT_BYTES: usize = 6;

/// A short non-reversible fingerprint of an [`AccessToken`] (the first 48 bits of
/// its SHA-256 digest, as hex), for logs and metrics.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenFingerprint([u8; FINGERPRINT_BYTES]);

impl TokenFingerprint {
    fn of(secret: &str) -> Self {
        let digest = Sha256::digest(secret.as_bytes());
        let mut bytes = [0u8; FINGERPRINT_BYTES];
        bytes.copy_from_slice(&digest[..FINGERPRINT_BYTES]);
        Self(bytes)
    }
}

impl fmt::Display for TokenFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for TokenFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenFingerprint({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENTINEL: &str = "SENTINEL-7f3a9c-secret";

    #[test]
    fn debug_never_prints_the_secret() {
        let printed = [
            format!("{:?}", AccessToken::new(SENTINEL)),
            format!("{:#?}", AccessToken::new(SENTINEL)),
            format!("{:?}", Password::new(SENTINEL)),
            format!("{:?}", PrivateToken::new(SENTINEL)),
        ];
        for text in printed {
            assert!(!text.contains(SENTINEL), "{text}");
            assert!(text.contains(REDACTED), "{text}");
        }
    }

    #[test]
    fn fingerprint_is_stable_short_and_not_the_token() {
        let a = AccessToken::new(SENTINEL).fingerprint();
        assert_eq!(a, AccessToken::new(SENTINEL).fingerprint());
        assert_ne!(a, AccessToken::new("other").fingerprint());
        let text = a.to_string();
        assert_eq!(text.len(), FINGERPRINT_BYTES * 2);
        assert!(!SENTINEL.contains(&text));
        // SHA-256("abc") starts with ba7816bf8f01.
        assert_eq!(
            AccessToken::new("abc").fingerprint().to_string(),
            "ba7816bf8f01"
        );
    }

    #[test]
    fn tokens_compare_by_value() {
        assert_eq!(AccessToken::new("abc"), AccessToken::new("abc"));
        assert_ne!(AccessToken::new("abc"), AccessToken::new("abd"));
        assert_ne!(AccessToken::new("abc"), AccessToken::new("abcd"));
    }
}
