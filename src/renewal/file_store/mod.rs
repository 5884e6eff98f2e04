//! [`FileStore`]: the [`TokenStore`] protocol in one encrypted, locked,
//! atomically replaced file, for CLIs and single-host apps.

mod disk;
mod error;
mod format;
mod ops;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::RwLock;

use self::disk::{Locked, Paths};
use self::format::Contents;
use self::ops::Applied;
use super::id::TokenId;
use super::store::{LeaseOutcome, PutOutcome, ReplicaId, StoreError, StoredToken, TokenStore};
use crate::at_rest::{Sealer, StorableCredential};
use crate::{Clock, SystemClock};

pub use self::error::{FileStoreError, FileStoreErrorKind};

/// A [`TokenStore`] in one file, its tokens sealed at rest.
///
/// - **Format**: a header line naming the format version and the body's
///   SHA-256, then JSON: a file-wide version counter and, per token id, its
///   version, its renewal lease, and the token sealed by
///   [`Sealer::seal_token`] (XChaCha20-Poly1305, the id as associated data).
///   Ids are plaintext; tokens never are.
/// - **Permissions**: the file, its temporary file and its lock file are
///   created with mode 0600 (a missing directory with 0700). A file that grants
///   group or other users any access is **refused**
///   ([`FileStoreErrorKind::Permissions`]) rather than silently fixed: its
///   tokens may have been read, so the decision is the user's (`chmod 600`).
/// - **Atomic**: every write goes to `<file>.tmp`, is synced, renamed over the
///   file, and the directory is synced; a process killed mid-write leaves the
///   old file or the new one, never a torn one.
/// - **Several processes**: every read-modify-write holds an exclusive lock on
///   `<file>.lock` (`flock`, released by the kernel if the process dies), every
///   read a shared one. Leases are wall-clock deadlines from the store's
///   [`Clock`], so processes on one host agree.
/// - **Errors**: a wrong key, a corrupt file, a file in a newer format, a
///   permission problem or an IO failure is a [`StoreError`] whose source is a
///   [`FileStoreError`] of that [`kind`](FileStoreError::kind); no message holds
///   file content. A missing file is an empty store (a read creates nothing).
///   A corrupt or newer file is never overwritten.
///
/// Blocking IO runs on tokio's blocking pool.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use storefront_token::at_rest::{EncryptionKey, Keyring, Sealer};
/// use storefront_token::renewal::{FileStore, PutOutcome, TokenId, TokenStore};
/// use storefront_token::{AccessToken, CustomerAccessToken};
///
/// let dir = tempfile::tempdir()?;
/// let sealer = Sealer::new(Keyring::new(EncryptionKey::generate("k1")?));
/// let store = FileStore::new(dir.path().join("tokens"), sealer);
///
/// let id = TokenId::new("customer-1");
/// let expires = storefront_token::chrono::Utc::now() + storefront_token::chrono::TimeDelta::days(30);
/// let token = CustomerAccessToken::new(AccessToken::new("secret"), expires);
/// let put = store.put(&id, &token, storefront_token::chrono::Utc::now(), None).await?;
/// assert_eq!(put, PutOutcome::Stored { version: 1 });
/// let stored: Option<_> = TokenStore::<CustomerAccessToken>::get(&store, &id).await?;
/// assert_eq!(stored.map(|t| t.version), Some(1));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct FileStore {
    paths: Arc<Paths>,
    sealer: Sealer,
    clock: Arc<dyn Clock>,
    /// Calls through this value queue here rather than on the blocking pool;
    /// the file lock orders them with everyone else.
    local: Arc<RwLock<()>>,
}

impl fmt::Debug for FileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.paths.file)
            .field("sealer", &self.sealer)
            .field("clock", &self.clock)
            .finish()
    }
}

impl FileStore {
    /// A store in the file at `path`, sealing with `sealer`'s current key and
    /// opening with any of its keys. Nothing is read or created yet.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>, sealer: Sealer) -> Self {
        Self {
            paths: Arc::new(Paths::new(path.into())),
            sealer,
            clock: Arc::new(SystemClock),
            local: Arc::new(RwLock::new(())),
        }
    }

    /// Leases lapse on `clock` instead of the system clock (for tests).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The token file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.paths.file
    }

    /// Key rotation: re-seals with the current key every token sealed with
    /// another (versions and leases stay), in one atomic write. Answers how many
    /// were re-sealed. Run it after adding a new current key, before dropping
    /// the old one from the key provider.
    ///
    /// # Errors
    ///
    /// As every call; nothing is written if any token does not open.
    pub async fn reseal(&self) -> Result<usize, StoreError> {
        let sealer = self.sealer.clone();
        self.modify(move |contents, path, _| ops::reseal(contents, &sealer, path))
            .await
    }

    /// Every stored token's id and version (no key needed). The same as
    /// [`TokenStore::versions`], without naming the credential type.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] whose source is a [`FileStoreError`].
    pub async fn versions(&self) -> Result<Vec<(TokenId, u64)>, StoreError> {
        self.read(|contents, _| {
            Ok(contents
                .tokens
                .iter()
                .map(|(id, entry)| (TokenId::new(id.as_str()), entry.version))
                .collect())
        })
        .await
    }

    /// Releases `owner`'s lease on `id` if the stored version is still
    /// `version`: [`TokenStore::release_lease`], without naming the credential
    /// type.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] whose source is a [`FileStoreError`].
    pub async fn release_lease(
        &self,
        id: &TokenId,
        owner: ReplicaId,
        version: u64,
    ) -> Result<(), StoreError> {
        let id = id.clone();
        self.modify(move |contents, _, _| {
            Ok(ops::release_lease(contents, id.as_str(), owner, version))
        })
        .await
    }

    /// Deletes `id`: whatever is stored (`None`) or only the version expected.
    /// [`TokenStore::delete`], without naming the credential type.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] whose source is a [`FileStoreError`].
    pub async fn delete(
        &self,
        id: &TokenId,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let id = id.clone();
        self.modify(move |contents, _, _| Ok(ops::delete(contents, id.as_str(), expected_version)))
            .await
    }

    /// Runs `read` on the file's contents under the shared lock.
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Contents, &Path) -> Result<T, FileStoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let guard = Arc::clone(&self.local).read_owned().await;
        let paths = Arc::clone(&self.paths);
        let result = tokio::task::spawn_blocking(move || {
            let contents = match disk::lock_shared(&paths)? {
                Some(lock) => load(&paths, &lock)?,
                None => Contents::default(),
            };
            let answer = read(&contents, &paths.file);
            drop(guard);
            answer
        })
        .await;
        flatten(result)
    }

    /// Runs `change` on the file's contents under the exclusive lock and writes
    /// them back if it changed them.
    async fn modify<T: Send + 'static>(
        &self,
        change: impl FnOnce(&mut Contents, &Path, DateTime<Utc>) -> Result<Applied<T>, FileStoreError>
            + Send
            + 'static,
    ) -> Result<T, StoreError> {
        let guard = Arc::clone(&self.local).write_owned().await;
        let paths = Arc::clone(&self.paths);
        let clock = Arc::clone(&self.clock);
        let result = tokio::task::spawn_blocking(move || {
            let lock = disk::lock_exclusive(&paths)?;
            let mut contents = load(&paths, &lock)?;
            let applied = change(&mut contents, &paths.file, clock.now())?;
            if applied.changed {
                disk::replace(&paths, &lock, &format::encode(&contents))?;
            }
            drop(guard);
            Ok(applied.outcome)
        })
        .await;
        flatten(result)
    }
}

fn load(paths: &Paths, lock: &Locked) -> Result<Contents, FileStoreError> {
    match disk::read(paths, lock)? {
        Some(bytes) => format::decode(&bytes, &paths.file),
        None => Ok(Contents::default()),
    }
}

fn flatten<T>(
    result: Result<Result<T, FileStoreError>, tokio::task::JoinError>,
) -> Result<T, StoreError> {
    match result {
        Ok(answer) => answer.map_err(StoreError::from),
        Err(joined) => Err(StoreError::new(
            "file store: the blocking task failed",
            Some(Box::new(TaskFailed(joined.is_cancelled()))),
        )),
    }
}

/// The blocking task running a call panicked or was cancelled (the runtime is
/// shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the file store's blocking task {}", if *.0 { "was cancelled" } else { "panicked" })]
struct TaskFailed(bool);

impl<C: StorableCredential> TokenStore<C> for FileStore {
    async fn load_all(&self) -> Result<Vec<(TokenId, StoredToken<C>)>, StoreError> {
        let sealer = self.sealer.clone();
        self.read(move |contents, path| {
            contents
                .tokens
                .iter()
                .map(|(id, entry)| {
                    Ok((
                        TokenId::new(id.as_str()),
                        ops::open(&sealer, path, id, entry)?,
                    ))
                })
                .collect()
        })
        .await
    }

    async fn versions(&self) -> Result<Vec<(TokenId, u64)>, StoreError> {
        FileStore::versions(self).await
    }

    async fn get(&self, id: &TokenId) -> Result<Option<StoredToken<C>>, StoreError> {
        let (sealer, id) = (self.sealer.clone(), id.clone());
        self.read(move |contents, path| {
            contents
                .tokens
                .get(id.as_str())
                .map(|entry| ops::open(&sealer, path, id.as_str(), entry))
                .transpose()
        })
        .await
    }

    async fn put(
        &self,
        id: &TokenId,
        credential: &C,
        issued_at: DateTime<Utc>,
        expected_version: Option<u64>,
    ) -> Result<PutOutcome<C>, StoreError> {
        let (sealer, id, credential) = (self.sealer.clone(), id.clone(), credential.clone());
        self.modify(move |contents, path, _| {
            let request = ops::Put {
                id: id.as_str(),
                credential: &credential,
                issued_at,
                expected_version,
            };
            ops::put(contents, &sealer, path, &request)
        })
        .await
    }

    async fn try_lease(
        &self,
        id: &TokenId,
        owner: ReplicaId,
        duration: Duration,
        expected_version: u64,
    ) -> Result<LeaseOutcome<C>, StoreError> {
        let (sealer, id) = (self.sealer.clone(), id.clone());
        self.modify(move |contents, path, now| {
            let asked = (id.as_str(), owner, expected_version);
            ops::try_lease(contents, &sealer, path, asked, now, duration)
        })
        .await
    }

    async fn release_lease(
        &self,
        id: &TokenId,
        owner: ReplicaId,
        version: u64,
    ) -> Result<(), StoreError> {
        FileStore::release_lease(self, id, owner, version).await
    }

    async fn delete(&self, id: &TokenId, expected_version: Option<u64>) -> Result<(), StoreError> {
        FileStore::delete(self, id, expected_version).await
    }
}
