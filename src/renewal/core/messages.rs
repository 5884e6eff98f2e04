//! Every message between the engine's layers, in one place: commands from the
//! handles, jobs the core hands to the workers, their outcomes, and what the core
//! hands back (replies, events, watch updates).
//!
//! Times are plain numbers: `Now` is the wall clock in milliseconds since the
//! Unix epoch and a monotonic clock in microseconds since the engine started;
//! expiries and deadlines are server-time milliseconds.

use std::time::Duration;

use crate::renewal::credential::FailureClass;
use crate::renewal::error::{RenewalError, SharedError};
use crate::renewal::events::RenewalEvent;
use crate::renewal::id::TokenId;
use crate::renewal::status::TokenStatus;

/// The time an input arrives, read once by the caller of the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Now {
    /// Wall clock (local), milliseconds since the Unix epoch.
    pub(crate) wall_ms: i64,
    /// Monotonic clock, microseconds since the engine started.
    pub(crate) mono_us: u64,
}

/// A credential with its times (server milliseconds).
#[derive(Debug, Clone)]
pub(crate) struct Fresh<C> {
    pub(crate) credential: C,
    pub(crate) issued_ms: i64,
    pub(crate) expires_ms: i64,
}

/// A credential as the store holds it.
#[derive(Debug, Clone)]
pub(crate) struct Stored<C> {
    pub(crate) fresh: Fresh<C>,
    pub(crate) version: u64,
}

/// What a handle asks of the core; `W` is where the answer goes.
pub(crate) enum Command<C, W> {
    /// Hold a token just written to the store (a new login).
    Hold {
        token: Stored<C>,
        id: TokenId,
        reply: W,
    },
    /// Stop holding a token (the caller deletes it from the store).
    Forget { id: TokenId },
    /// The token's status, if held here.
    Status { id: TokenId, reply: W },
    /// A credential that has not expired; reads through to the store.
    Valid { id: TokenId, reply: W },
    /// Renew now (single flight, through the gates); reads through to the store.
    RenewNow { id: TokenId, reply: W },
    /// The current credential, and publish every change; reads through.
    Watch { id: TokenId, reply: W },
    /// Every held token's status (to re-sync after missed events).
    Snapshot { reply: W },
    /// How many tokens are held.
    Len { reply: W },
    /// Nobody watches `id` any more.
    Unwatched { id: TokenId },
    /// Start nothing new; stop once what is in flight has finished.
    Shutdown,
}

/// The answer to a command.
#[derive(Debug)]
pub(crate) enum Reply<C> {
    Credential(Result<C, RenewalError>),
    Status(Option<TokenStatus<C>>),
    /// `Ok(None)`: held, but expired or rejected.
    Watch(Result<Option<C>, RenewalError>),
    Snapshot(Vec<(TokenId, TokenStatus<C>)>),
    Len(usize),
    Done(Result<(), RenewalError>),
}

/// Which token a job is for: its slot and the generation it had when the job
/// started (a result for a replaced or removed token is moot), or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tag {
    Token { slot: u32, generation: u32 },
    Store,
}

/// Work for a worker.
#[derive(Debug)]
pub(crate) struct Job<C> {
    pub(crate) tag: Tag,
    pub(crate) work: Work<C>,
}

#[derive(Debug)]
pub(crate) enum Work<C> {
    /// Take the lease (when `lease`), renew, write with compare-and-swap on
    /// `version`; on a rejection, re-read the store first.
    Renew {
        id: TokenId,
        credential: C,
        version: u64,
        lease: bool,
    },
    /// Ask the re-login hook, then write with compare-and-swap on `version`.
    Relogin { id: TokenId, version: u64 },
    /// Retry a write that failed.
    Write {
        id: TokenId,
        fresh: Fresh<C>,
        version: u64,
    },
    /// Read one token (read-through, or reconciling).
    Load { id: TokenId },
    /// Delete a dead token if its version is still `version`.
    Delete { id: TokenId, version: u64 },
    /// Read every stored id and version.
    Reconcile,
}

/// What a compare-and-swap write did.
#[derive(Debug)]
pub(crate) enum Put<C> {
    Stored { version: u64 },
    Conflict(Stored<C>),
    Missing,
    Failed(SharedError),
}

/// What a job came to.
#[derive(Debug)]
pub(crate) enum Outcome<C> {
    /// Renewed; `put` is what writing it did.
    Renewed { fresh: Fresh<C>, put: Put<C> },
    /// The renewal failed (after a re-read found nothing newer, for `Token`).
    Failed {
        class: FailureClass,
        error: SharedError,
    },
    /// Another replica holds the lease.
    LeaseHeld { remaining: Duration },
    /// The store could not grant a lease; nothing was sent.
    LeaseFailed { error: SharedError },
    /// The store holds another version: adopt it.
    Adopt(Stored<C>),
    /// The store holds nothing under the id: it was deleted (logged out).
    Missing,
    /// The re-login hook gave a credential; `put` is what writing it did.
    LoggedIn { fresh: Fresh<C>, put: Put<C> },
    /// The re-login hook gave nothing: for now (`retry`) or for good.
    NoLogin {
        retry: bool,
        error: Option<SharedError>,
    },
    /// A retried write.
    Written(Put<C>),
    /// A read.
    Loaded {
        id: TokenId,
        result: Result<Option<Stored<C>>, SharedError>,
    },
    /// A delete.
    Deleted(Option<SharedError>),
    /// Every stored id and version.
    Versions(Result<Vec<(TokenId, u64)>, SharedError>),
}

/// What the core hands back besides jobs.
#[derive(Debug)]
pub(crate) enum Output<C, W> {
    Reply(W, Reply<C>),
    Event(RenewalEvent),
    /// A watched token's credential changed (`None`: not to be used).
    Publish {
        id: TokenId,
        credential: Option<C>,
    },
    /// A watched token is no longer held: publish `None` and drop the channel.
    Unwatch {
        id: TokenId,
    },
    /// The wall clock jumped: the server-clock estimate must be rebuilt.
    ResetClockOffset,
}
