//! Why the engine could not hand out or renew a token: [`RenewalError`], with the
//! underlying failure kept as a typed [`source`](std::error::Error::source).

use std::fmt;
use std::sync::Arc;

/// A shared, typed underlying error: what a renewer, store or re-login hook
/// reported. For the Storefront renewer, downcast it to [`crate::Error`] for
/// `status()`, `retry_after()` and `request_id()`.
pub type SharedError = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Why the engine could not hand out a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RenewalErrorKind {
    /// No token is held under that id, here or in the store.
    NotFound,
    /// The token has expired; only a new login helps.
    Expired,
    /// The server refused the token; only a new login helps.
    Rejected,
    /// The renewal failed for a reason that may pass; the token is still valid
    /// until it expires and will be retried.
    Failed,
    /// The shop refuses every token for now (a wrong storefront token, a frozen or
    /// locked shop, a missing scope): renewals are paused for the whole shop.
    ShopUnavailable,
    /// The store failed.
    Store,
    /// Too many `renew_now` calls or store look-ups are queued; try again later.
    Busy,
    /// The engine has stopped.
    Stopped,
}

impl RenewalErrorKind {
    fn describe(self) -> &'static str {
        match self {
            Self::NotFound => "no token is held under that id",
            Self::Expired => "the token has expired; the customer must log in again",
            Self::Rejected => "the token was rejected; the customer must log in again",
            Self::Failed => "the renewal failed",
            Self::ShopUnavailable => "the shop refuses renewals for now",
            Self::Store => "the token store failed",
            Self::Busy => "the renewal engine is busy",
            Self::Stopped => "the renewal engine has stopped",
        }
    }
}

/// Why the engine could not hand out or renew a token. `Display` is one phrase;
/// [`source`](std::error::Error::source) is the underlying error, typed.
#[derive(Clone)]
pub struct RenewalError {
    kind: RenewalErrorKind,
    source: Option<SharedError>,
}

impl RenewalError {
    pub(crate) fn new(kind: RenewalErrorKind) -> Self {
        Self { kind, source: None }
    }

    pub(crate) fn with_source(kind: RenewalErrorKind, source: SharedError) -> Self {
        Self {
            kind,
            source: Some(source),
        }
    }

    pub(crate) fn with_message(kind: RenewalErrorKind, message: &'static str) -> Self {
        Self::with_source(kind, Arc::new(Message(message)))
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> RenewalErrorKind {
        self.kind
    }

    /// Whether only a new login can help.
    #[must_use]
    pub fn must_log_in_again(&self) -> bool {
        matches!(
            self.kind,
            RenewalErrorKind::Expired | RenewalErrorKind::Rejected
        )
    }

    /// The underlying error, shared (also [`source`](std::error::Error::source)).
    #[must_use]
    pub fn shared_source(&self) -> Option<&SharedError> {
        self.source.as_ref()
    }

    /// The underlying error as `E`, if it is one: for the Storefront renewer,
    /// [`crate::Error`].
    #[must_use]
    pub fn source_as<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.source.as_deref()?.downcast_ref::<E>()
    }
}

impl fmt::Display for RenewalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.describe())
    }
}

impl fmt::Debug for RenewalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("RenewalError");
        debug.field("kind", &self.kind);
        if let Some(source) = &self.source {
            debug.field("source", source);
        }
        debug.finish()
    }
}

impl std::error::Error for RenewalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

/// A fixed reason, for failures the engine itself detects.
#[derive(Debug)]
pub(crate) struct Message(pub(crate) &'static str);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Message {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_is_typed_and_the_kind_is_copy() {
        let error = RenewalError::with_source(
            RenewalErrorKind::Failed,
            Arc::new(std::io::Error::other("boom")),
        );
        let kind = error.kind();
        assert_eq!(kind, RenewalErrorKind::Failed);
        assert_eq!(error.to_string(), "the renewal failed");
        assert!(error.source_as::<std::io::Error>().is_some());
        let source = std::error::Error::source(&error).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("boom"));
    }
}
