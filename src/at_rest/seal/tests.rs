use chrono::TimeDelta;

use super::*;
use crate::at_rest::Keyring;
use crate::{AccessToken, CustomerAccessToken};

const SENTINEL: &str = "SENTINEL-token-4b1d";

fn sealer(id: &str, byte: u8) -> Sealer {
    Sealer::new(Keyring::new(EncryptionKey::new(id, [byte; 32]).unwrap()))
}

fn token() -> (CustomerAccessToken, DateTime<Utc>) {
    let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
    (
        CustomerAccessToken::new(AccessToken::new(SENTINEL), now + TimeDelta::days(42)),
        now,
    )
}

#[test]
fn a_token_round_trips_and_the_sealed_bytes_hold_no_plaintext() {
    let sealer = sealer("k1", 1);
    let (token, issued) = token();
    let sealed = sealer.seal_token("customer-1", &token, issued).unwrap();
    assert!(!sealed
        .windows(SENTINEL.len())
        .any(|w| w == SENTINEL.as_bytes()));
    assert_eq!(Sealer::key_id_of(&sealed), Some("k1"));
    assert_eq!(
        sealer.open_token::<CustomerAccessToken>("customer-1", &sealed),
        Ok((token, issued))
    );
}

#[test]
fn two_seals_of_one_value_differ() {
    let sealer = sealer("k1", 1);
    let (token, issued) = token();
    let a = sealer.seal_token("c", &token, issued).unwrap();
    let b = sealer.seal_token("c", &token, issued).unwrap();
    assert_ne!(a, b, "a fresh nonce per value");
}

#[test]
fn a_value_copied_to_another_id_does_not_open() {
    let sealer = sealer("k1", 1);
    let (token, issued) = token();
    let sealed = sealer.seal_token("customer-1", &token, issued).unwrap();
    assert_eq!(
        sealer.open_token::<CustomerAccessToken>("customer-2", &sealed),
        Err(SealError::DoesNotOpen)
    );
}

#[test]
fn a_wrong_key_with_the_same_id_does_not_open_and_an_unknown_id_is_named() {
    let (token, issued) = token();
    let sealed = sealer("k1", 1).seal_token("c", &token, issued).unwrap();
    assert_eq!(
        sealer("k1", 2).open_token::<CustomerAccessToken>("c", &sealed),
        Err(SealError::DoesNotOpen)
    );
    assert_eq!(
        sealer("k2", 1).open_token::<CustomerAccessToken>("c", &sealed),
        Err(SealError::UnknownKey {
            key_id: "k1".into()
        })
    );
}

#[test]
fn every_flipped_bit_and_every_truncation_is_refused() {
    let sealer = sealer("k1", 1);
    let (token, issued) = token();
    let sealed = sealer.seal_token("c", &token, issued).unwrap();
    for at in 0..sealed.len() {
        let mut changed = sealed.clone();
        changed[at] ^= 0x01;
        assert!(
            sealer
                .open_token::<CustomerAccessToken>("c", &changed)
                .is_err(),
            "bit flipped at {at}"
        );
        assert!(
            sealer
                .open_token::<CustomerAccessToken>("c", &sealed[..at])
                .is_err(),
            "truncated at {at}"
        );
    }
}

#[test]
fn rotation_opens_old_values_and_seals_with_the_new_key() {
    let (token, issued) = token();
    let old = EncryptionKey::new("old", [1; 32]).unwrap();
    let before = Sealer::new(Keyring::new(EncryptionKey::new("old", [1; 32]).unwrap()));
    let sealed_before = before.seal_token("c", &token, issued).unwrap();

    let after =
        Sealer::new(Keyring::new(EncryptionKey::new("new", [2; 32]).unwrap()).with_previous(old));
    assert_eq!(after.is_sealed_with_current(&sealed_before), Ok(false));
    let (opened, at) = after
        .open_token::<CustomerAccessToken>("c", &sealed_before)
        .unwrap();
    let resealed = after.seal_token("c", &opened, at).unwrap();
    assert_eq!(after.is_sealed_with_current(&resealed), Ok(true));
    assert_eq!(Sealer::key_id_of(&resealed), Some("new"));
}

#[test]
fn errors_and_debug_hold_no_secret() {
    let sealer = sealer("k1", 0x5A);
    let (token, issued) = token();
    let sealed = sealer.seal_token("c", &token, issued).unwrap();
    let errors = [
        sealer.open(b"other", &sealed).unwrap_err(),
        sealer.open(b"c", &sealed[..20]).unwrap_err(),
    ];
    let shown = format!("{sealer:?} {errors:?} {} {}", errors[0], errors[1]);
    assert!(!shown.contains(SENTINEL));
    assert!(!shown.contains("90, 90")); // the key's bytes
}
