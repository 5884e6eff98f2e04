//! [`FileStoreError`]: why a [`FileStore`](super::FileStore) call failed, typed.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::at_rest::SealError;
use crate::renewal::StoreError;

/// What went wrong with a token file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileStoreErrorKind {
    /// Reading, writing, locking or syncing the file failed (the source is the
    /// operating system's error).
    Io,
    /// The file (or its directory) is open to other users: its mode allows
    /// group or other access. The store refuses it rather than use a token that
    /// may have leaked; `chmod 600` it.
    Permissions,
    /// The file is not a token file, or is damaged: a bad header, a checksum that
    /// does not match (truncated or altered), JSON that does not parse, or a
    /// sealed value of no known shape.
    Corrupt,
    /// The file was written by a newer version of this crate, in a format this
    /// one cannot read (it is never overwritten).
    NewerFormat,
    /// A token does not open with the key it names: another key with the same
    /// id (the wrong key) or a value altered with a recomputed checksum.
    WrongKey,
    /// A token was sealed with a key the key provider does not have.
    UnknownKey,
    /// The key provider failed (no current key, say).
    Key,
    /// A token opened but its credential does not decode (written by a newer
    /// version of the credential type).
    Credential,
}

impl FileStoreErrorKind {
    fn describe(self) -> &'static str {
        match self {
            Self::Io => "could not be read or written",
            Self::Permissions => "is open to other users",
            Self::Corrupt => "is corrupt (not a token file, truncated or damaged)",
            Self::NewerFormat => "was written in a newer format than this version reads",
            Self::WrongKey => "does not open with this key (the wrong key)",
            Self::UnknownKey => "holds a token sealed with a key this key provider does not have",
            Self::Key => "cannot be sealed or opened: the key provider failed",
            Self::Credential => "holds a credential this version cannot decode",
        }
    }
}

/// A token file could not be used; the source of a [`StoreError`] from a
/// [`FileStore`](super::FileStore) (find it with
/// [`std::error::Error::source`] and `downcast_ref`, or with
/// [`FileStoreError::of`]).
///
/// Its message names the file and what is wrong with it, never its content.
#[derive(Debug)]
pub struct FileStoreError {
    kind: FileStoreErrorKind,
    path: PathBuf,
    detail: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl FileStoreError {
    pub(super) fn new(kind: FileStoreErrorKind, path: &Path) -> Self {
        Self {
            kind,
            path: path.to_owned(),
            detail: None,
            source: None,
        }
    }

    /// Adds a detail (no secret, no file content) to the message.
    pub(super) fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub(super) fn source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub(super) fn io(path: &Path, doing: &str, error: std::io::Error) -> Self {
        Self::new(FileStoreErrorKind::Io, path)
            .detail(doing.to_owned())
            .source(error)
    }

    pub(super) fn seal(path: &Path, error: SealError) -> Self {
        let kind = match &error {
            SealError::Key(_) => FileStoreErrorKind::Key,
            SealError::UnknownKey { .. } => FileStoreErrorKind::UnknownKey,
            SealError::DoesNotOpen => FileStoreErrorKind::WrongKey,
            SealError::Decode(_) => FileStoreErrorKind::Credential,
            _ => FileStoreErrorKind::Corrupt,
        };
        Self::new(kind, path).source(error)
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> FileStoreErrorKind {
        self.kind
    }

    /// The token file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The [`FileStoreError`] behind a [`StoreError`], if a file store raised it.
    #[must_use]
    pub fn of(error: &StoreError) -> Option<&FileStoreError> {
        std::error::Error::source(error).and_then(|source| source.downcast_ref())
    }
}

impl fmt::Display for FileStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "token file {} {}",
            self.path.display(),
            self.kind.describe()
        )?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FileStoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

impl From<FileStoreError> for StoreError {
    fn from(error: FileStoreError) -> Self {
        let message = match error.kind {
            FileStoreErrorKind::Io => "file store: i/o",
            FileStoreErrorKind::Permissions => "file store: open permissions",
            FileStoreErrorKind::Corrupt => "file store: corrupt file",
            FileStoreErrorKind::NewerFormat => "file store: newer format",
            FileStoreErrorKind::WrongKey => "file store: wrong key",
            FileStoreErrorKind::UnknownKey => "file store: unknown key",
            FileStoreErrorKind::Key => "file store: key provider",
            FileStoreErrorKind::Credential => "file store: undecodable credential",
        };
        StoreError::new(message, Some(Box::new(error)))
    }
}
