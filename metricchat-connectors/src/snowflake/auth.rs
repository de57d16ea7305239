//! Key-pair JWT and OAuth logins to the SQL API.

#[allow(clippy::wildcard_imports)]
use super::*;

/// How requests are authorised.
pub(super) enum Auth {
    KeyPair(KeyPair),
    OAuth(SecretString),
}

impl Auth {
    pub(super) fn token_type(&self) -> &'static str {
        match self {
            Auth::KeyPair(_) => "KEYPAIR_JWT",
            Auth::OAuth(_) => "OAUTH",
        }
    }

    pub(super) fn bearer(&self) -> Result<String> {
        match self {
            Auth::KeyPair(k) => k.token(),
            Auth::OAuth(t) => Ok(t.expose_secret().to_string()),
        }
    }

    pub(super) fn invalidate(&self) {
        if let Auth::KeyPair(k) = self {
            *k.cached.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
    }
}

/// A private key and the JWT last signed with it.
pub(super) struct KeyPair {
    /// `ACCOUNT.USER`.
    pub(super) subject: String,
    /// `ACCOUNT.USER.SHA256:<fingerprint>`.
    pub(super) issuer: String,
    pub(super) key: EncodingKey,
    pub(super) lifetime: Duration,
    pub(super) cached: Mutex<Option<(SecretString, SystemTime)>>,
}

#[derive(serde::Serialize)]
pub(super) struct JwtClaims<'a> {
    pub(super) iss: &'a str,
    pub(super) sub: &'a str,
    pub(super) iat: u64,
    pub(super) exp: u64,
}

impl KeyPair {
    pub(super) fn new(account: &str, user: &str, pem: &str, lifetime: Duration) -> Result<Self> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
        let cfg_err = |m: String| Error::config(BACKEND, m);
        if pem.contains("ENCRYPTED PRIVATE KEY") {
            return Err(cfg_err(
                "encrypted private keys are not supported; decrypt it with \
                 `openssl pkcs8 -in rsa_key.p8 -out rsa_key_plain.p8` and keep that file private"
                    .into(),
            ));
        }
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(pem))
            .map_err(|e| cfg_err(format!("the private key is not an RSA PEM key: {e}")))?;
        let der = private
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| cfg_err(format!("cannot encode the public key: {e}")))?;
        let digest = <sha2::Sha256 as sha2::Digest>::digest(der.as_bytes());
        let fingerprint = base64::engine::general_purpose::STANDARD.encode(digest);
        let key = EncodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|e| cfg_err(format!("the private key cannot sign JWTs: {e}")))?;
        // The account locator's region part is not part of the identity.
        let account = account
            .split('.')
            .next()
            .unwrap_or(account)
            .to_ascii_uppercase();
        let subject = format!("{account}.{}", user.to_ascii_uppercase());
        Ok(Self {
            issuer: format!("{subject}.SHA256:{fingerprint}"),
            subject,
            key,
            lifetime,
            cached: Mutex::new(None),
        })
    }

    /// The cached JWT, or a new one when it is missing or about to expire.
    pub(super) fn token(&self) -> Result<String> {
        let mut cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        let margin = (self.lifetime / 5).min(Duration::from_secs(60));
        if let Some((token, expires)) = cached.as_ref()
            && SystemTime::now() + margin < *expires
        {
            return Ok(token.expose_secret().to_string());
        }
        let iat = unix_now();
        let exp = iat + self.lifetime.as_secs().max(1);
        let claims = JwtClaims {
            iss: &self.issuer,
            sub: &self.subject,
            iat,
            exp,
        };
        let token = sign_rs256(BACKEND, &claims, &self.key, None)?;
        // Expiry as Snowflake sees it: whole seconds of `exp`.
        *cached = Some((
            SecretString::from(token.clone()),
            UNIX_EPOCH + Duration::from_secs(exp),
        ));
        Ok(token)
    }
}
