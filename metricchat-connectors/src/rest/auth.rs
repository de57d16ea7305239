//! RS256 JWT signing for key-pair and service-account logins.

use std::time::{SystemTime, UNIX_EPOCH};

use metricchat_core::error::{Error, Result};

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// Signs `claims` as an RS256 JWT (with `kid` in the header when given).
pub(crate) fn sign_rs256<C: serde::Serialize>(
    backend: &str,
    claims: &C,
    key: &jsonwebtoken::EncodingKey,
    kid: Option<String>,
) -> Result<String> {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = kid;
    jsonwebtoken::encode(&header, claims, key)
        .map_err(|e| Error::config(backend, format!("cannot sign the JWT: {e}")))
}
