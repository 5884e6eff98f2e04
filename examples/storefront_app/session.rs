//! Session cookies: a random secret per session, known to the engine and the
//! store only by a hash.

use axum::http::header::COOKIE;
use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use storefront_token::renewal::TokenId;

use super::{SESSION_COOKIE, SESSION_SECRET_HEX};

/// A session's secret: the cookie value. The engine knows the session by
/// [`SessionSecret::token_id`], a hash of it.
pub struct SessionSecret(String);

impl SessionSecret {
    /// 128 bits from the OS's random source, as hex.
    pub(super) fn random() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; SESSION_SECRET_HEX / 2];
        getrandom::fill(&mut bytes)?;
        Ok(SessionSecret(hex(&bytes)))
    }

    /// The secret from a request's `Cookie` headers, if well-formed.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == SESSION_COOKIE)
            .map(|(_, value)| value)
            .filter(|value| {
                value.len() == SESSION_SECRET_HEX && value.bytes().all(|b| b.is_ascii_hexdigit())
            })
            .map(|value| SessionSecret(value.to_ascii_lowercase()))
    }

    /// The session's id in the engine and the store: half a SHA-256 of the
    /// secret, so a leaked id is not a usable cookie.
    pub fn token_id(&self) -> TokenId {
        let digest = Sha256::digest(self.0.as_bytes());
        TokenId::new(hex(&digest[..16]))
    }

    pub(super) fn set_cookie(&self) -> String {
        format!(
            "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
            self.0
        )
    }
}

pub(super) fn clear_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
