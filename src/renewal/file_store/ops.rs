//! The [`TokenStore`](crate::renewal::TokenStore) protocol on a decoded file:
//! what each call finds and changes, with no IO. The store runs these under the
//! file's lock and writes the file back when one says it changed something.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::error::FileStoreError;
use super::format::{Contents, Entry, Lease};
use crate::at_rest::{Sealer, StorableCredential};
use crate::renewal::{LeaseOutcome, PutOutcome, ReplicaId, StoredToken};

/// Opens one entry.
pub(super) fn open<C: StorableCredential>(
    sealer: &Sealer,
    path: &Path,
    id: &str,
    entry: &Entry,
) -> Result<StoredToken<C>, FileStoreError> {
    let sealed = entry.sealed_bytes(path)?;
    let (credential, issued_at) = sealer
        .open_token(id, &sealed)
        .map_err(|error| FileStoreError::seal(path, error).detail(format!("token {id:?}")))?;
    Ok(StoredToken {
        credential,
        issued_at,
        version: entry.version,
    })
}

/// What a call did: its answer, and whether the file must be written.
pub(super) struct Applied<T> {
    pub outcome: T,
    pub changed: bool,
}

fn unchanged<T>(outcome: T) -> Result<Applied<T>, FileStoreError> {
    Ok(Applied {
        outcome,
        changed: false,
    })
}

fn changed<T>(outcome: T) -> Result<Applied<T>, FileStoreError> {
    Ok(Applied {
        outcome,
        changed: true,
    })
}

/// A request to write a token.
pub(super) struct Put<'a, C> {
    pub id: &'a str,
    pub credential: &'a C,
    pub issued_at: DateTime<Utc>,
    pub expected_version: Option<u64>,
}

pub(super) fn put<C: StorableCredential>(
    contents: &mut Contents,
    sealer: &Sealer,
    path: &Path,
    request: &Put<'_, C>,
) -> Result<Applied<PutOutcome<C>>, FileStoreError> {
    match (contents.tokens.get(request.id), request.expected_version) {
        (Some(entry), Some(expected)) if entry.version != expected => {
            let current = open(sealer, path, request.id, entry)?;
            return unchanged(PutOutcome::Conflict { current });
        }
        (None, Some(_)) => return unchanged(PutOutcome::Missing),
        _ => {}
    }
    let sealed = sealer
        .seal_token(request.id, request.credential, request.issued_at)
        .map_err(|error| FileStoreError::seal(path, error))?;
    let version = contents.last_version + 1;
    contents.last_version = version;
    // A new entry: any lease goes with the old version.
    contents
        .tokens
        .insert(request.id.to_owned(), Entry::new(version, &sealed));
    changed(PutOutcome::Stored { version })
}

pub(super) fn try_lease<C: StorableCredential>(
    contents: &mut Contents,
    sealer: &Sealer,
    path: &Path,
    (id, owner, expected_version): (&str, ReplicaId, u64),
    now: DateTime<Utc>,
    duration: Duration,
) -> Result<Applied<LeaseOutcome<C>>, FileStoreError> {
    let Some(entry) = contents.tokens.get_mut(id) else {
        return unchanged(LeaseOutcome::Missing);
    };
    if entry.version != expected_version {
        let current = open(sealer, path, id, entry)?;
        return unchanged(LeaseOutcome::Changed { current });
    }
    let now_ms = now.timestamp_millis();
    if let Some(lease) = entry.lease {
        if lease.owner != owner.get() && lease.until_ms > now_ms {
            let left = lease.until_ms.saturating_sub(now_ms);
            return unchanged(LeaseOutcome::Held {
                remaining: Duration::from_millis(u64::try_from(left).unwrap_or(0)),
            });
        }
    }
    let length = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
    entry.lease = Some(Lease {
        owner: owner.get(),
        until_ms: now_ms.saturating_add(length),
    });
    changed(LeaseOutcome::Acquired)
}

pub(super) fn release_lease(
    contents: &mut Contents,
    id: &str,
    owner: ReplicaId,
    version: u64,
) -> Applied<()> {
    let Some(entry) = contents.tokens.get_mut(id) else {
        return Applied {
            outcome: (),
            changed: false,
        };
    };
    let theirs = entry.lease.is_some_and(|lease| lease.owner == owner.get());
    let release = theirs && entry.version == version;
    if release {
        entry.lease = None;
    }
    Applied {
        outcome: (),
        changed: release,
    }
}

pub(super) fn delete(
    contents: &mut Contents,
    id: &str,
    expected_version: Option<u64>,
) -> Applied<()> {
    let matches = contents
        .tokens
        .get(id)
        .is_some_and(|entry| expected_version.is_none_or(|v| v == entry.version));
    if matches {
        contents.tokens.remove(id);
    }
    Applied {
        outcome: (),
        changed: matches,
    }
}

/// Re-seals with the current key every entry sealed with another; all or
/// nothing. Versions and leases stay: the credentials are the same.
pub(super) fn reseal(
    contents: &mut Contents,
    sealer: &Sealer,
    path: &Path,
) -> Result<Applied<usize>, FileStoreError> {
    let mut resealed = Vec::new();
    for (id, entry) in &contents.tokens {
        let sealed = entry.sealed_bytes(path)?;
        let describe = |error| FileStoreError::seal(path, error).detail(format!("token {id:?}"));
        if sealer.is_sealed_with_current(&sealed).map_err(describe)? {
            continue;
        }
        let plaintext = sealer.open(id.as_bytes(), &sealed).map_err(describe)?;
        let again = sealer.seal(id.as_bytes(), &plaintext).map_err(describe)?;
        resealed.push((id.clone(), again));
    }
    let count = resealed.len();
    for (id, sealed) in resealed {
        if let Some(entry) = contents.tokens.get_mut(&id) {
            let lease = entry.lease;
            *entry = Entry::new(entry.version, &sealed);
            entry.lease = lease;
        }
    }
    Ok(Applied {
        outcome: count,
        changed: count > 0,
    })
}
