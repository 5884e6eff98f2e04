//! The simulated shop and store: token strings with their logins and expiries,
//! and the `TokenStore` protocol (versions, leases) in plain Rust.

use std::collections::{HashMap, HashSet};

use crate::renewal::core::breaker::micros;
use crate::renewal::core::messages::{Fresh, Put, Stored};
use crate::renewal::policy::RenewalPolicy;

/// A credential: the shop's token string and its expiry (server ms).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Cred {
    pub(super) s: u32,
    pub(super) exp: i64,
}

/// One string the shop issued.
pub(super) struct ShopString {
    pub(super) id: u8,
    pub(super) lineage: u32,
    exp: i64,
    pub(super) live: bool,
}

/// The shop: token strings, each with its login (lineage) and expiry.
pub(super) struct Shop {
    pub(super) strings: HashMap<u32, ShopString>,
    next_string: u32,
    next_lineage: u32,
    lifetime_ms: i64,
    rotate: bool,
}

impl Shop {
    /// A shop that has issued nothing yet.
    pub(super) fn new(lifetime_ms: i64, rotate: bool) -> Self {
        Self {
            strings: HashMap::new(),
            next_string: 0,
            next_lineage: 0,
            lifetime_ms,
            rotate,
        }
    }

    /// A new login for `id`.
    pub(super) fn login(&mut self, id: u8, server_ms: i64) -> (Cred, u32) {
        self.next_lineage += 1;
        let lineage = self.next_lineage;
        (self.issue(id, lineage, server_ms), lineage)
    }

    fn issue(&mut self, id: u8, lineage: u32, server_ms: i64) -> Cred {
        self.next_string += 1;
        let exp = server_ms + self.lifetime_ms;
        self.strings.insert(
            self.next_string,
            ShopString {
                id,
                lineage,
                exp,
                live: true,
            },
        );
        Cred {
            s: self.next_string,
            exp,
        }
    }

    /// The renewal mutation: a fresh credential, or `None` if refused.
    pub(super) fn renew(&mut self, cred: &Cred, server_ms: i64) -> Option<Cred> {
        let string = self.strings.get_mut(&cred.s)?;
        if !string.live || string.exp <= server_ms {
            return None;
        }
        if self.rotate {
            string.live = false;
            let (id, lineage) = (string.id, string.lineage);
            Some(self.issue(id, lineage, server_ms))
        } else {
            string.exp = server_ms + self.lifetime_ms;
            Some(Cred {
                s: cred.s,
                exp: string.exp,
            })
        }
    }

    pub(super) fn lineage(&self, s: u32) -> u32 {
        self.strings.get(&s).map_or(0, |string| string.lineage)
    }
}

/// A token as stored, with its version and renewal lease.
pub(super) struct StoreEntry {
    cred: Cred,
    issued_ms: i64,
    pub(super) version: u64,
    /// Replica and monotonic µs until which it holds the renewal lease.
    lease: Option<(usize, u64)>,
}

/// What asking for the renewal lease comes to.
pub(super) enum Lease {
    Acquired,
    Held(u64),
    Changed(Stored<Cred>),
    Missing,
}

/// The policy's renewal lease (µs).
fn lease_us() -> u64 {
    micros(RenewalPolicy::default().lease_duration())
}

/// The store protocol of `TokenStore`, in plain Rust.
#[derive(Default)]
pub(super) struct Store {
    pub(super) entries: HashMap<u8, StoreEntry>,
    last_version: u64,
    pub(super) issued: HashMap<u8, HashSet<u64>>,
}

impl Store {
    fn stored(entry: &StoreEntry) -> Stored<Cred> {
        Stored {
            fresh: Fresh {
                credential: entry.cred.clone(),
                issued_ms: entry.issued_ms,
                expires_ms: entry.cred.exp,
            },
            version: entry.version,
        }
    }

    pub(super) fn get(&self, id: u8) -> Option<Stored<Cred>> {
        self.entries.get(&id).map(Self::stored)
    }

    pub(super) fn put(
        &mut self,
        id: u8,
        cred: &Cred,
        issued_ms: i64,
        expected: Option<u64>,
    ) -> Result<Put<Cred>, String> {
        match (self.entries.get(&id), expected) {
            (Some(entry), Some(version)) if entry.version != version => {
                return Ok(Put::Conflict(Self::stored(entry)));
            }
            (None, Some(_)) => return Ok(Put::Missing),
            _ => {}
        }
        self.last_version += 1;
        let version = self.last_version;
        // Invariant 4: a version is never given out twice for an id.
        if !self.issued.entry(id).or_default().insert(version) {
            return Err(format!("store reused version {version} for t{id}"));
        }
        self.entries.insert(
            id,
            StoreEntry {
                cred: cred.clone(),
                issued_ms,
                version,
                lease: None,
            },
        );
        Ok(Put::Stored { version })
    }

    pub(super) fn try_lease(&mut self, id: u8, owner: usize, version: u64, now_us: u64) -> Lease {
        let Some(entry) = self.entries.get_mut(&id) else {
            return Lease::Missing;
        };
        if entry.version != version {
            return Lease::Changed(Self::stored(entry));
        }
        match entry.lease {
            Some((holder, until)) if holder != owner && until > now_us => {
                Lease::Held(until - now_us)
            }
            _ => {
                entry.lease = Some((owner, now_us + lease_us()));
                Lease::Acquired
            }
        }
    }

    /// Releases `owner`'s lease if it was taken for `version`.
    pub(super) fn release(&mut self, id: u8, owner: usize, version: u64) {
        if let Some(entry) = self.entries.get_mut(&id) {
            let theirs = entry.lease.is_some_and(|(holder, _)| holder == owner);
            if theirs && entry.version == version {
                entry.lease = None;
            }
        }
    }

    pub(super) fn delete(&mut self, id: u8, expected: Option<u64>) {
        let matches = self
            .entries
            .get(&id)
            .is_some_and(|entry| expected.is_none_or(|v| v == entry.version));
        if matches {
            self.entries.remove(&id);
        }
    }
}
