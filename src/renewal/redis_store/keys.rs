//! The key layout: `{prefix}:t:{id}`, `{prefix}:l:{id}`, `{prefix}:version`.

use crate::renewal::{ReplicaId, TokenId};

/// The prefix every key starts with unless the builder sets another.
pub(super) const DEFAULT_PREFIX: &str = "storefront-token";

/// Names of the keys under one prefix.
#[derive(Debug, Clone)]
pub(super) struct Keys {
    prefix: String,
    /// `{prefix}:t:`, what every token key starts with.
    token_start: String,
}

impl Keys {
    pub(super) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            token_start: format!("{prefix}:t:"),
        }
    }

    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The hash holding a token: `v` (version) and `d` (sealed value).
    pub(super) fn token(&self, id: &TokenId) -> String {
        format!("{}{}", self.token_start, id.as_str())
    }

    /// The string holding a token's renewal lease: `<owner>:<deadline ms>`.
    pub(super) fn lease(&self, id: &TokenId) -> String {
        format!("{}:l:{}", self.prefix, id.as_str())
    }

    /// The store-wide counter every version is drawn from.
    pub(super) fn version_counter(&self) -> String {
        format!("{}:version", self.prefix)
    }

    /// The `SCAN MATCH` pattern of every token key (the prefix's glob
    /// characters escaped, so a prefix like `a*` matches only itself).
    pub(super) fn token_pattern(&self) -> String {
        let mut pattern = String::with_capacity(self.token_start.len() + 1);
        for c in self.token_start.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('*');
        pattern
    }

    /// The token id a token key names, if it is one of ours.
    pub(super) fn id_of(&self, key: &[u8]) -> Option<TokenId> {
        let rest = key.strip_prefix(self.token_start.as_bytes())?;
        std::str::from_utf8(rest).ok().map(TokenId::new)
    }
}

/// A lease owner as stored: 32 lowercase hex characters.
pub(super) fn owner_hex(owner: ReplicaId) -> String {
    format!("{:032x}", owner.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_pattern() {
        let keys = Keys::new("app*[1]");
        let id = TokenId::new("customer:7");
        assert_eq!(keys.token(&id), "app*[1]:t:customer:7");
        assert_eq!(keys.lease(&id), "app*[1]:l:customer:7");
        assert_eq!(keys.version_counter(), "app*[1]:version");
        assert_eq!(keys.token_pattern(), "app\\*\\[1\\]:t:*");
        assert_eq!(keys.id_of(b"app*[1]:t:customer:7"), Some(id));
        assert_eq!(keys.id_of(b"app*[1]:l:customer:7"), None);
        assert_eq!(owner_hex(ReplicaId::new(255)), format!("{:0>32}", "ff"));
    }
}
