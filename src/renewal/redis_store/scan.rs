//! Reading every token in batches: `SCAN MATCH {prefix}:t:* COUNT 1000`, then
//! one pipeline of `HMGET`s per batch. Also the re-seal pass.

use std::fmt;
use std::sync::atomic::Ordering;

use hashbrown::HashSet;
use redis::Value;

use super::connection::Connection;
use super::handle::{bytes, int, open_entry, unexpected, Inner, RedisStore};
use crate::at_rest::{Sealer, StorableCredential};
use crate::renewal::{StoreError, StoredToken, TokenId};

/// How many keys each `SCAN` asks for.
const BATCH: usize = 1000;

/// What a [`RedisStore::reseal`](super::RedisStore::reseal) pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResealReport {
    /// Entries sealed with an older key, now sealed with the current one.
    pub resealed: u64,
    /// Entries already sealed with the current key.
    pub already_current: u64,
    /// Entries that did not open (unknown key, corrupt, copied from another
    /// id) or were malformed: left as they are, each logged.
    pub skipped: u64,
    /// Entries written or deleted by someone else during the pass: whatever
    /// is stored now was written with the current key.
    pub changed_meanwhile: u64,
}

/// One entry of a batch: the id and the fields asked for, as replied.
struct Entry {
    id: TokenId,
    key: Vec<u8>,
    fields: Vec<Value>,
}

/// Walks the token keys batch by batch: each round trip is one pipeline with
/// the `HMGET`s of the keys the previous `SCAN` found and the next `SCAN`. An
/// id `SCAN` returns twice is given once.
struct Scanner<'a> {
    inner: &'a Inner,
    fields: &'static [&'static str],
    pattern: String,
    /// The next cursor to scan from; `None` once `SCAN` has said it is done.
    cursor: Option<u64>,
    /// Found by the last `SCAN`, to be read by the next round trip.
    found: Vec<Entry>,
    seen: HashSet<TokenId>,
}

impl<'a> Scanner<'a> {
    fn new(inner: &'a Inner, fields: &'static [&'static str]) -> Self {
        Self {
            inner,
            fields,
            pattern: inner.keys.token_pattern(),
            cursor: Some(0),
            found: Vec::new(),
            seen: HashSet::new(),
        }
    }

    /// The next batch (possibly empty), or `None` once the scan is complete.
    /// Entries deleted between the `SCAN` and the `HMGET` are left out.
    async fn next_batch(&mut self) -> Result<Option<Vec<Entry>>, StoreError> {
        let cursor = self.cursor;
        if cursor.is_none() && self.found.is_empty() {
            return Ok(None);
        }
        let mut batch = std::mem::take(&mut self.found);
        let mut pipeline = redis::pipe();
        for entry in &batch {
            pipeline.cmd("HMGET").arg(&entry.key).arg(self.fields);
        }
        if let Some(cursor) = cursor {
            pipeline
                .cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&self.pattern)
                .arg("COUNT")
                .arg(BATCH);
        }
        let mut replies = self
            .inner
            .connection
            .pipeline(&pipeline, &"scanning")
            .await?;
        if replies.len() != batch.len() + usize::from(cursor.is_some()) {
            return Err(unexpected("scanning"));
        }
        if cursor.is_some() {
            let scanned = replies.pop().ok_or_else(|| unexpected("scan"))?;
            self.found_by(scanned)?;
        }
        for (entry, reply) in batch.iter_mut().zip(replies) {
            let Value::Array(fields) = reply else {
                return Err(unexpected("reading a batch"));
            };
            entry.fields = fields;
        }
        batch.retain(|entry| !matches!(entry.fields.first(), Some(Value::Nil) | None));
        Ok(Some(batch))
    }

    /// Takes in a `SCAN` reply: the next cursor and the keys to read next.
    fn found_by(&mut self, scanned: Value) -> Result<(), StoreError> {
        let Value::Array(reply) = scanned else {
            return Err(unexpected("scan"));
        };
        let Ok([next, Value::Array(keys)]) = <[Value; 2]>::try_from(reply) else {
            return Err(unexpected("scan"));
        };
        let next = int(&next).ok_or_else(|| unexpected("scan"))?;
        self.cursor = (next != 0).then_some(next);
        self.found.reserve(keys.len());
        for key in keys {
            let Value::BulkString(key) = key else {
                return Err(unexpected("scan"));
            };
            // Ids are UTF-8, so a key that is not was not written by a store.
            let Some(id) = self.inner.keys.id_of(&key) else {
                continue;
            };
            if self.seen.insert(id.clone()) {
                self.found.push(Entry {
                    id,
                    key,
                    fields: Vec::new(),
                });
            }
        }
        Ok(())
    }
}

/// Logs an entry left out; `why` says what was wrong, never the value.
fn warn_skipped(id: &TokenId, during: &str, why: &dyn fmt::Display) {
    tracing::warn!(token = %id, error = %why, "redis store: {during}: skipping a stored token");
}

/// Every token that opens. Each batch is opened on tokio's blocking pool
/// while the next one is read, so decryption and Redis overlap.
pub(super) async fn load_all<C: StorableCredential>(
    inner: &Inner,
) -> Result<Vec<(TokenId, StoredToken<C>)>, StoreError> {
    let mut scanner = Scanner::new(inner, &["v", "d"]);
    let mut tokens = Vec::new();
    let mut opening = None;
    while let Some(batch) = scanner.next_batch().await? {
        let sealer = inner.sealer.clone();
        let next = tokio::task::spawn_blocking(move || open_batch::<C>(&sealer, batch));
        if let Some(previous) = opening.replace(next) {
            keep_opened(inner, previous.await, &mut tokens)?;
        }
    }
    if let Some(last) = opening {
        keep_opened(inner, last.await, &mut tokens)?;
    }
    Ok(tokens)
}

type Opened<C> = Vec<(TokenId, Result<StoredToken<C>, StoreError>)>;

fn open_batch<C: StorableCredential>(sealer: &Sealer, batch: Vec<Entry>) -> Opened<C> {
    batch
        .into_iter()
        .map(|entry| {
            let opened = match entry.fields.as_slice() {
                [version, sealed] => {
                    open_entry::<C>(sealer, &entry.id, version, sealed, "load_all")
                }
                _ => Err(unexpected("load_all")),
            };
            (entry.id, opened)
        })
        .collect()
}

/// Keeps what opened; logs and counts what did not.
fn keep_opened<C>(
    inner: &Inner,
    opened: Result<Opened<C>, tokio::task::JoinError>,
    tokens: &mut Vec<(TokenId, StoredToken<C>)>,
) -> Result<(), StoreError> {
    let opened = opened.map_err(|error| {
        StoreError::new("opening a batch of tokens failed", Some(Box::new(error)))
    })?;
    tokens.reserve(opened.len());
    for (id, result) in opened {
        match result {
            Ok(token) => tokens.push((id, token)),
            Err(error) => {
                inner.skipped_on_load.fetch_add(1, Ordering::Relaxed);
                warn_skipped(&id, "load_all", &crate::ErrorReport::new(&error));
            }
        }
    }
    Ok(())
}

pub(super) async fn versions(inner: &Inner) -> Result<Vec<(TokenId, u64)>, StoreError> {
    let mut scanner = Scanner::new(inner, &["v"]);
    let mut versions = Vec::new();
    while let Some(batch) = scanner.next_batch().await? {
        for entry in batch {
            match entry.fields.first().and_then(int) {
                Some(version) => versions.push((entry.id, version)),
                None => warn_skipped(&entry.id, "versions", &"the version is malformed"),
            }
        }
    }
    Ok(versions)
}

impl RedisStore {
    /// The re-seal pass after a key rotation: every entry not sealed with the
    /// sealer's current key is opened (with the old key, which the sealer must
    /// still know) and sealed with the current one, in batches. Each write is a
    /// compare-and-swap on the version that keeps the version (the credential
    /// is the same), so a replica renewing a token meanwhile wins. Once a pass
    /// reports nothing skipped, the old key can be dropped.
    ///
    /// # Errors
    ///
    /// Redis failed or did not answer in time; entries re-sealed until then stay
    /// re-sealed, and running the pass again finishes the job.
    pub async fn reseal(&self) -> Result<ResealReport, StoreError> {
        reseal(&self.inner).await
    }
}

async fn reseal(inner: &Inner) -> Result<ResealReport, StoreError> {
    inner.connection.load_scripts().await?;
    let mut report = ResealReport::default();
    let mut scanner = Scanner::new(inner, &["v", "d"]);
    while let Some(batch) = scanner.next_batch().await? {
        let mut pipeline = redis::pipe();
        let mut writes = 0_usize;
        for entry in &batch {
            match resealed(&inner.sealer, entry) {
                Ok(None) => report.already_current += 1,
                Ok(Some((version, sealed))) => {
                    Connection::evalsha_in(
                        &mut pipeline,
                        &inner.connection.scripts.reseal,
                        &entry.key,
                        &[version, &sealed],
                    );
                    writes += 1;
                }
                Err(why) => {
                    report.skipped += 1;
                    warn_skipped(&entry.id, "reseal", &why);
                }
            }
        }
        if writes == 0 {
            continue;
        }
        let replies = inner
            .connection
            .pipeline(&pipeline, &"writing re-sealed values")
            .await?;
        for reply in replies {
            match reply {
                Value::Int(1) => report.resealed += 1,
                Value::Int(0) => report.changed_meanwhile += 1,
                _ => return Err(unexpected("reseal")),
            }
        }
    }
    Ok(report)
}

/// An entry's version as stored and its value sealed with the current key.
type Resealed<'e> = (&'e [u8], Vec<u8>);

/// `None` if the entry is sealed with the current key; otherwise its version
/// and its value sealed with the current key.
fn resealed<'e>(sealer: &Sealer, entry: &'e Entry) -> Result<Option<Resealed<'e>>, String> {
    let [version, sealed] = entry.fields.as_slice() else {
        return Err("the entry is malformed".to_owned());
    };
    let (Some(version), Some(sealed)) = (bytes(version), bytes(sealed)) else {
        return Err("the entry is malformed".to_owned());
    };
    if sealer
        .is_sealed_with_current(sealed)
        .map_err(|e| e.to_string())?
    {
        return Ok(None);
    }
    let associated = entry.id.as_str().as_bytes();
    let plaintext = sealer.open(associated, sealed).map_err(|e| e.to_string())?;
    let again = sealer
        .seal(associated, &plaintext)
        .map_err(|e| e.to_string())?;
    Ok(Some((version, again)))
}
