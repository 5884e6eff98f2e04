//! The versioned byte encoding of credentials ([`StorableCredential`]) and of the
//! record the stores seal (a credential and its issue time).

use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

use crate::{AccessToken, CustomerAccessToken};

/// A credential that can be written to a store: a documented, versioned byte
/// encoding whose first byte is the format version.
///
/// The encoding is the plaintext that [`Sealer`](super::Sealer) seals; never
/// write it anywhere unsealed.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use storefront_token::at_rest::StorableCredential;
/// use storefront_token::{AccessToken, CustomerAccessToken};
///
/// let expires_at = Utc.with_ymd_and_hms(2027, 1, 11, 0, 0, 0).unwrap();
/// let token = CustomerAccessToken::new(AccessToken::new("t0k3n"), expires_at);
/// let bytes = token.encode();
/// assert_eq!(bytes[0], 1); // format version
/// assert_eq!(CustomerAccessToken::decode(&bytes).unwrap(), token);
/// ```
pub trait StorableCredential: Clone + Send + Sync + Sized + 'static {
    /// The credential as bytes, zeroed when dropped.
    fn encode(&self) -> Zeroizing<Vec<u8>>;

    /// The credential back from [`encode`](Self::encode)'s bytes.
    ///
    /// # Errors
    /// [`DecodeError`] for an unknown format version or malformed bytes.
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError>;
}

/// Bytes that are not an encoded credential. Says what was wrong, never what the
/// bytes were.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored credential does not decode: {reason}")]
pub struct DecodeError {
    reason: &'static str,
}

impl DecodeError {
    /// A decode error with a short reason (no secret).
    #[must_use]
    pub fn new(reason: &'static str) -> Self {
        Self { reason }
    }

    /// What was wrong.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

/// Format 1 of [`CustomerAccessToken`]: `[0x01][expires_at: i64 seconds since the
/// Unix epoch, big-endian][nanoseconds: u32, big-endian][the token, UTF-8]`.
const TOKEN_FORMAT_V1: u8 = 1;
/// Format 1 of a sealed record: `[0x01][issued_at as above][the credential's encoding]`.
const RECORD_FORMAT_V1: u8 = 1;
/// An instant as encoded: 8 bytes of seconds, 4 of nanoseconds.
const INSTANT_LEN: usize = 12;

impl StorableCredential for CustomerAccessToken {
    fn encode(&self) -> Zeroizing<Vec<u8>> {
        let secret = self.access_token().expose_secret().as_bytes();
        let mut bytes = Zeroizing::new(Vec::with_capacity(1 + INSTANT_LEN + secret.len()));
        bytes.push(TOKEN_FORMAT_V1);
        put_instant(&mut bytes, self.expires_at());
        bytes.extend_from_slice(secret);
        bytes
    }

    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let rest = expect_version(bytes, TOKEN_FORMAT_V1)?;
        let (expires_at, secret) = take_instant(rest)?;
        let secret =
            std::str::from_utf8(secret).map_err(|_| DecodeError::new("the token is not UTF-8"))?;
        if secret.is_empty() {
            return Err(DecodeError::new("the token is empty"));
        }
        Ok(CustomerAccessToken::new(
            AccessToken::new(secret),
            expires_at,
        ))
    }
}

/// A credential and its issue time as one plaintext, for sealing.
pub(super) fn encode_record<C: StorableCredential>(
    credential: &C,
    issued_at: DateTime<Utc>,
) -> Zeroizing<Vec<u8>> {
    let inner = credential.encode();
    let mut bytes = Zeroizing::new(Vec::with_capacity(1 + INSTANT_LEN + inner.len()));
    bytes.push(RECORD_FORMAT_V1);
    put_instant(&mut bytes, issued_at);
    bytes.extend_from_slice(&inner);
    bytes
}

/// The inverse of [`encode_record`].
pub(super) fn decode_record<C: StorableCredential>(
    bytes: &[u8],
) -> Result<(C, DateTime<Utc>), DecodeError> {
    let rest = expect_version(bytes, RECORD_FORMAT_V1)?;
    let (issued_at, inner) = take_instant(rest)?;
    Ok((C::decode(inner)?, issued_at))
}

fn expect_version(bytes: &[u8], version: u8) -> Result<&[u8], DecodeError> {
    match bytes.split_first() {
        Some((&found, rest)) if found == version => Ok(rest),
        Some(_) => Err(DecodeError::new("unknown format version")),
        None => Err(DecodeError::new("empty")),
    }
}

fn put_instant(bytes: &mut Vec<u8>, at: DateTime<Utc>) {
    bytes.extend_from_slice(&at.timestamp().to_be_bytes());
    bytes.extend_from_slice(&at.timestamp_subsec_nanos().to_be_bytes());
}

fn take_instant(bytes: &[u8]) -> Result<(DateTime<Utc>, &[u8]), DecodeError> {
    let (seconds, rest) = bytes
        .split_first_chunk::<8>()
        .ok_or(DecodeError::new("truncated"))?;
    let (nanos, rest) = rest
        .split_first_chunk::<4>()
        .ok_or(DecodeError::new("truncated"))?;
    let at = DateTime::from_timestamp(i64::from_be_bytes(*seconds), u32::from_be_bytes(*nanos))
        .ok_or(DecodeError::new("instant out of range"))?;
    Ok((at, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn token(secret: &str) -> CustomerAccessToken {
        let expires_at = Utc
            .with_ymd_and_hms(2027, 1, 11, 8, 30, 0)
            .single()
            .map(|at| at + chrono::TimeDelta::nanoseconds(123_456_789));
        CustomerAccessToken::new(AccessToken::new(secret), expires_at.unwrap_or_default())
    }

    #[test]
    fn a_token_round_trips_with_nanoseconds() {
        let original = token("tok-é");
        assert_eq!(
            CustomerAccessToken::decode(&original.encode()),
            Ok(original)
        );
    }

    #[test]
    fn the_documented_layout_is_kept() {
        let bytes = token("abc").encode();
        assert_eq!(bytes[0], 1);
        assert_eq!(
            &bytes[1..9],
            &token("abc").expires_at().timestamp().to_be_bytes()
        );
        assert_eq!(&bytes[9..13], &123_456_789u32.to_be_bytes());
        assert_eq!(&bytes[13..], b"abc");
    }

    #[test]
    fn bad_bytes_are_typed_errors_never_panics() {
        let good = token("abc").encode();
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![2],
            good[..5].to_vec(),
            good[..13].to_vec(),
            [&good[..13], &[0xff, 0xfe][..]].concat(),
            {
                let mut nanos = good.to_vec();
                nanos[9..13].copy_from_slice(&u32::MAX.to_be_bytes());
                nanos
            },
            {
                let mut far = good.to_vec();
                far[1..9].copy_from_slice(&i64::MAX.to_be_bytes());
                far
            },
        ];
        for bytes in cases {
            assert!(CustomerAccessToken::decode(&bytes).is_err(), "{bytes:?}");
        }
    }

    #[test]
    fn a_record_keeps_the_issue_time() {
        let issued = Utc
            .timestamp_opt(1_800_000_000, 42)
            .single()
            .unwrap_or_default();
        let bytes = encode_record(&token("abc"), issued);
        assert_eq!(
            decode_record::<CustomerAccessToken>(&bytes),
            Ok((token("abc"), issued))
        );
        assert!(decode_record::<CustomerAccessToken>(&bytes[..12]).is_err());
    }

    #[test]
    fn errors_name_no_secret() {
        let mut bytes = token("SENTINEL-\u{0}").encode().to_vec();
        bytes.push(0xff);
        let error = CustomerAccessToken::decode(&bytes).unwrap_err();
        assert!(!format!("{error} {error:?}").contains("SENTINEL"));
    }
}
