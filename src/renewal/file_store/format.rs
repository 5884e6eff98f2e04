//! The token file's format, version 1.
//!
//! ```text
//! storefront-token store v1 sha256=<64 hex digits of the body's SHA-256>\n
//! {"last_version":7,"tokens":{"<id>":{"version":7,"sealed":"<base64>","lease":{"owner":"<32 hex>","until_ms":1767225600000}}}}
//! ```
//!
//! One header line, then a JSON body. The header names the format version (a
//! newer one is refused, never overwritten) and the body's checksum, so a
//! truncated or damaged file is told apart from a wrong key. In the body, ids,
//! versions and leases are plaintext; each token is sealed
//! ([`Sealer::seal_token`](crate::at_rest::Sealer::seal_token), the id as
//! associated data) and base64-encoded. `last_version` is the file-wide counter
//! versions come from, so they never repeat, also across a delete.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{FileStoreError, FileStoreErrorKind};

/// The format this version writes (and the newest it reads).
pub(super) const FORMAT_VERSION: u32 = 1;
const MAGIC: &str = "storefront-token store v";
/// A header longer than this is not ours.
const MAX_HEADER: usize = 128;

/// The whole file, decoded.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(super) struct Contents {
    /// The last version given out, file-wide.
    pub last_version: u64,
    pub tokens: BTreeMap<String, Entry>,
}

/// One token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Entry {
    pub version: u64,
    /// The sealed token, base64 (standard alphabet, padded).
    pub sealed: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
}

/// A renewal lease: its owner and a wall-clock deadline.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(super) struct Lease {
    /// The owner's [`ReplicaId`](crate::renewal::ReplicaId), 32 hex digits.
    #[serde(with = "hex_u128")]
    pub owner: u128,
    /// Milliseconds since the Unix epoch.
    pub until_ms: i64,
}

impl Entry {
    pub fn new(version: u64, sealed: &[u8]) -> Self {
        Self {
            version,
            sealed: base64::engine::general_purpose::STANDARD.encode(sealed),
            lease: None,
        }
    }

    /// The sealed bytes.
    pub fn sealed_bytes(&self, path: &Path) -> Result<Vec<u8>, FileStoreError> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.sealed)
            .map_err(|_| {
                FileStoreError::new(FileStoreErrorKind::Corrupt, path)
                    .detail("a sealed token is not base64")
            })
    }
}

/// The file's bytes.
pub(super) fn encode(contents: &Contents) -> Vec<u8> {
    // Serialising maps of strings and numbers cannot fail.
    let body = serde_json::to_vec(contents).unwrap_or_default();
    let mut bytes = format!(
        "{MAGIC}{FORMAT_VERSION} sha256={}\n",
        hex(&Sha256::digest(&body))
    )
    .into_bytes();
    bytes.extend_from_slice(&body);
    bytes
}

/// Reads a file's bytes: refuses another format, a newer version, a checksum
/// that does not match and a body that does not parse.
pub(super) fn decode(bytes: &[u8], path: &Path) -> Result<Contents, FileStoreError> {
    let corrupt = |detail: &str| {
        FileStoreError::new(FileStoreErrorKind::Corrupt, path).detail(detail.to_owned())
    };
    let head = &bytes[..bytes.len().min(MAX_HEADER)];
    let Some(end) = head.iter().position(|&b| b == b'\n') else {
        return Err(corrupt("no token-file header"));
    };
    let header = std::str::from_utf8(&bytes[..end]).map_err(|_| corrupt("no token-file header"))?;
    let rest = header
        .strip_prefix(MAGIC)
        .ok_or_else(|| corrupt("no token-file header"))?;
    let (version, checksum) = rest.split_once(' ').unwrap_or((rest, ""));
    let version: u32 = version
        .parse()
        .map_err(|_| corrupt("the header's format version is not a number"))?;
    if version > FORMAT_VERSION {
        return Err(
            FileStoreError::new(FileStoreErrorKind::NewerFormat, path).detail(format!(
                "format {version}; this version reads up to {FORMAT_VERSION}"
            )),
        );
    }
    if version == 0 {
        return Err(corrupt("format 0 does not exist"));
    }
    let body = &bytes[end + 1..];
    let expected = checksum
        .strip_prefix("sha256=")
        .ok_or_else(|| corrupt("the header has no checksum"))?;
    if expected != hex(&Sha256::digest(body)) {
        return Err(corrupt(
            "the checksum does not match (truncated or altered)",
        ));
    }
    let mut contents: Contents =
        serde_json::from_slice(body).map_err(|_| corrupt("the body is not the expected JSON"))?;
    // A counter behind an entry would give a version out again.
    let highest = contents.tokens.values().map(|entry| entry.version).max();
    contents.last_version = contents.last_version.max(highest.unwrap_or(0));
    Ok(contents)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// A `u128` as 32 lowercase hex digits.
mod hex_u128 {
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &u128, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{value:032x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u128, D::Error> {
        let text = String::deserialize(deserializer)?;
        u128::from_str_radix(&text, 16).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Contents {
        let mut contents = Contents {
            last_version: 3,
            ..Contents::default()
        };
        let mut entry = Entry::new(3, b"sealed");
        entry.lease = Some(Lease {
            owner: 0xabc,
            until_ms: 42,
        });
        contents.tokens.insert("a".to_owned(), entry);
        contents
    }

    #[test]
    fn round_trips_and_refuses_any_damage() {
        let path = Path::new("tokens");
        let bytes = encode(&sample());
        let back = decode(&bytes, path).expect("decodes");
        assert_eq!(back.last_version, 3);
        assert_eq!(back.tokens["a"].lease.map(|l| l.owner), Some(0xabc));
        for cut in [0, 10, bytes.len() / 2, bytes.len() - 1] {
            let error = decode(&bytes[..cut], path).expect_err("truncated");
            assert_eq!(error.kind(), FileStoreErrorKind::Corrupt, "cut at {cut}");
        }
        for at in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x01;
            let error = decode(&flipped, path).expect_err("a flipped bit is seen");
            assert!(
                matches!(
                    error.kind(),
                    FileStoreErrorKind::Corrupt | FileStoreErrorKind::NewerFormat
                ),
                "flip at {at}: {error}"
            );
        }
    }

    #[test]
    fn a_newer_format_is_named_as_such() {
        let bytes = encode(&sample());
        let newer = String::from_utf8_lossy(&bytes).replacen(" v1 ", " v2 ", 1);
        let error = decode(newer.as_bytes(), Path::new("t")).expect_err("newer");
        assert_eq!(error.kind(), FileStoreErrorKind::NewerFormat);
    }

    #[test]
    fn a_counter_behind_its_entries_catches_up() {
        let mut contents = sample();
        contents.last_version = 1;
        let back = decode(&encode(&contents), Path::new("t")).expect("decodes");
        assert_eq!(back.last_version, 3);
    }
}
