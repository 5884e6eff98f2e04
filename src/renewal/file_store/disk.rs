//! The token file on disk: the sibling lock file, reads, and atomic replacement.
//! Blocking; the store calls these from `spawn_blocking`.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use super::error::{FileStoreError, FileStoreErrorKind};

/// The file's paths: itself, its lock file and its temporary file.
#[derive(Debug, Clone)]
pub(super) struct Paths {
    pub file: PathBuf,
    lock: PathBuf,
    temp: PathBuf,
}

impl Paths {
    pub fn new(file: PathBuf) -> Self {
        let with = |suffix: &str| {
            let mut name = file.file_name().unwrap_or_default().to_os_string();
            name.push(suffix);
            file.with_file_name(name)
        };
        Self {
            lock: with(".lock"),
            temp: with(".tmp"),
            file,
        }
    }

    fn directory(&self) -> &Path {
        match self.file.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        }
    }
}

/// A held lock on `<file>.lock`; released when dropped (and by the kernel if the
/// process dies).
#[derive(Debug)]
pub(super) struct Locked {
    _file: File,
}

/// Takes the exclusive lock, creating the directory (0700) and the lock file
/// (0600) if needed.
pub(super) fn lock_exclusive(paths: &Paths) -> Result<Locked, FileStoreError> {
    let directory = paths.directory();
    if !directory.exists() {
        create_directory(directory)
            .map_err(|e| FileStoreError::io(&paths.file, "creating its directory", e))?;
    }
    let file = open_lock(paths)?;
    fs4::FileExt::lock(&file)
        .map_err(|e| FileStoreError::io(&paths.file, "taking the exclusive lock", e))?;
    Ok(Locked { _file: file })
}

/// Takes the shared lock; `None` if there is no token file (an empty store),
/// in which case nothing is created.
pub(super) fn lock_shared(paths: &Paths) -> Result<Option<Locked>, FileStoreError> {
    if !paths.file.exists() {
        return Ok(None);
    }
    let file = open_lock(paths)?;
    fs4::FileExt::lock_shared(&file)
        .map_err(|e| FileStoreError::io(&paths.file, "taking the shared lock", e))?;
    Ok(Some(Locked { _file: file }))
}

fn open_lock(paths: &Paths) -> Result<File, FileStoreError> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    private(&mut options);
    options
        .open(&paths.lock)
        .map_err(|e| FileStoreError::io(&paths.file, "opening its lock file", e))
}

/// The file's bytes, `None` if it does not exist. Refuses a file open to other
/// users. Call with a lock held.
pub(super) fn read(paths: &Paths, _lock: &Locked) -> Result<Option<Vec<u8>>, FileStoreError> {
    let mut file = match File::open(&paths.file) {
        Ok(file) => file,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(FileStoreError::io(&paths.file, "opening it", error)),
    };
    let metadata = file
        .metadata()
        .map_err(|e| FileStoreError::io(&paths.file, "reading its metadata", e))?;
    if !metadata.is_file() {
        return Err(FileStoreError::new(FileStoreErrorKind::Io, &paths.file)
            .detail("it is not a regular file"));
    }
    check_private(&paths.file, &metadata)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| FileStoreError::io(&paths.file, "reading it", e))?;
    Ok(Some(bytes))
}

/// Replaces the file atomically: writes `<file>.tmp` (0600; a leftover from a
/// writer that died is removed first), syncs it, renames it over the file and
/// syncs the directory. Call with the exclusive lock held.
pub(super) fn replace(paths: &Paths, _lock: &Locked, bytes: &[u8]) -> Result<(), FileStoreError> {
    let io = |doing: &'static str| move |e| FileStoreError::io(&paths.file, doing, e);
    match fs::remove_file(&paths.temp) {
        Ok(()) => {}
        Err(error) if error.kind() == ErrorKind::NotFound => {}
        Err(error) => return Err(io("removing a leftover temporary file")(error)),
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    private(&mut options);
    let mut temp = options
        .open(&paths.temp)
        .map_err(io("creating the temporary file"))?;
    temp.write_all(bytes)
        .map_err(io("writing the temporary file"))?;
    temp.sync_all().map_err(io("syncing the temporary file"))?;
    drop(temp);
    fs::rename(&paths.temp, &paths.file).map_err(io("renaming the temporary file over it"))?;
    sync_directory(paths.directory()).map_err(io("syncing its directory"))
}

#[cfg(unix)]
fn private(options: &mut OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt;
    options.mode(0o600);
}

#[cfg(not(unix))]
fn private(_options: &mut OpenOptions) {}

#[cfg(unix)]
fn create_directory(directory: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(directory)
}

#[cfg(not(unix))]
fn create_directory(directory: &Path) -> std::io::Result<()> {
    fs::create_dir_all(directory)
}

/// Refuses a file whose mode gives group or other users any access.
#[cfg(unix)]
fn check_private(path: &Path, metadata: &fs::Metadata) -> Result<(), FileStoreError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(
            FileStoreError::new(FileStoreErrorKind::Permissions, path).detail(format!(
                "its mode is {mode:04o}, not 0600; check who could have read it, then chmod 600 it"
            )),
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _metadata: &fs::Metadata) -> Result<(), FileStoreError> {
    Ok(())
}

#[cfg(unix)]
fn sync_directory(directory: &Path) -> std::io::Result<()> {
    File::open(directory)?.sync_all()
}

#[cfg(not(unix))]
fn sync_directory(_directory: &Path) -> std::io::Result<()> {
    Ok(())
}
