//! The model's inputs: a case (the world's shape), the actions of a run, and
//! the faults a job can meet; token ids by number.

use crate::renewal::id::TokenId;

/// What a finished job (or an in-flight one, explicitly) comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
    /// The shop and the store answer normally.
    Ok,
    /// The shop refuses the token (it is revoked).
    Reject,
    /// A transient failure, with a `Retry-After` in seconds or not.
    Transient(Option<u8>),
    /// A shop-level failure.
    Shop,
    /// Another writer (a new login elsewhere) writes first: the put conflicts.
    Conflict,
    /// The store fails the write (or read, delete, reconcile).
    PutFail,
    /// The store fails the lease (or read, delete, reconcile).
    LeaseFail,
    /// The job stays in flight (a renewal's mutation is sent): until
    /// completed explicitly or timed out.
    Slow,
}

/// One step of a run.
#[derive(Debug, Clone)]
pub(super) enum Action {
    Add {
        r: u8,
        id: u8,
    },
    Remove {
        r: u8,
        id: u8,
    },
    RenewNow {
        r: u8,
        id: u8,
    },
    Valid {
        r: u8,
        id: u8,
    },
    Watch {
        r: u8,
        id: u8,
    },
    /// Time passes (ms): every replica ticks and runs what it hands out.
    Advance {
        ms: u32,
        fault: Fault,
    },
    /// The wall clock jumps (ms): a suspend (server time passes too, the
    /// monotonic clock does not) or a step of the local clock only.
    Jump {
        suspend: bool,
        ms: i32,
    },
    /// Finish an in-flight job (picked by index) with this outcome.
    Complete {
        pick: u8,
        fault: Fault,
    },
    Unwatched {
        r: u8,
        id: u8,
    },
    Shutdown {
        r: u8,
    },
}

/// The shape of one run's world.
#[derive(Debug, Clone)]
pub(super) struct Case {
    pub(super) replicas: u8,
    pub(super) ids: u8,
    pub(super) lifetime_ms: i64,
    pub(super) rotate: bool,
    pub(super) can_relogin: bool,
    /// Wall clock minus server clock, at the start.
    pub(super) skew_ms: i64,
    /// Tokens stored (and loaded by every replica) before the start, this old
    /// (percent of their lifetime: past 100, expired at the start).
    pub(super) preload: Option<u8>,
}

pub(super) fn token_id(id: u8) -> TokenId {
    TokenId::new(format!("t{id}"))
}

pub(super) fn id_num(id: &TokenId) -> u8 {
    id.as_str()[1..].parse().unwrap_or(u8::MAX)
}
