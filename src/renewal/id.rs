//! [`TokenId`]: the caller's name for a held token.

use std::fmt;
use std::sync::Arc;

/// The caller's name for a token: a customer id, a session id — anything stable.
/// Its hash also fixes when in its lifetime the token is renewed, so replicas and
/// restarts agree.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenId(Arc<str>);

impl TokenId {
    /// A token id.
    #[must_use]
    pub fn new(id: impl Into<Arc<str>>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenId({:?})", &*self.0)
    }
}

impl From<&str> for TokenId {
    fn from(id: &str) -> Self {
        Self::new(id)
    }
}

impl From<String> for TokenId {
    fn from(id: String) -> Self {
        Self::new(id)
    }
}
