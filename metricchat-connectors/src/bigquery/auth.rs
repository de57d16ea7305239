//! Service-account (JWT assertion) and bearer-token logins.

#[allow(clippy::wildcard_imports)]
use super::*;

/// The fields of a service-account key file this connector uses.
#[derive(Deserialize)]
pub(super) struct ServiceAccountKey {
    pub(super) client_email: String,
    pub(super) private_key: String,
    #[serde(default)]
    pub(super) private_key_id: Option<String>,
    #[serde(default)]
    pub(super) token_uri: Option<String>,
}

pub(super) enum Auth {
    ServiceAccount(Box<ServiceAccount>),
    Bearer(SecretString),
}

pub(super) struct ServiceAccount {
    pub(super) client_email: String,
    pub(super) key: EncodingKey,
    pub(super) key_id: Option<String>,
    pub(super) token_uri: String,
    pub(super) cached: tokio::sync::Mutex<Option<(SecretString, Instant)>>,
}

#[derive(serde::Serialize)]
pub(super) struct AssertionClaims<'a> {
    pub(super) iss: &'a str,
    pub(super) scope: &'a str,
    pub(super) aud: &'a str,
    pub(super) iat: u64,
    pub(super) exp: u64,
}

#[derive(Deserialize)]
pub(super) struct TokenResponse {
    pub(super) access_token: String,
    #[serde(default)]
    pub(super) expires_in: Option<u64>,
}

impl ServiceAccount {
    /// The cached access token, or a new one from the token endpoint.
    pub(super) async fn token(&self, inner: &Inner) -> Result<String> {
        let mut cached = self.cached.lock().await;
        if let Some((token, expires)) = cached.as_ref()
            && Instant::now() < *expires
        {
            return Ok(token.expose_secret().to_string());
        }
        let iat = unix_now();
        let claims = AssertionClaims {
            iss: &self.client_email,
            scope: SCOPE,
            aud: &self.token_uri,
            iat,
            exp: iat + 3600,
        };
        let assertion = sign_rs256(BACKEND, &claims, &self.key, self.key_id.clone())?;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
            .append_pair("assertion", &assertion)
            .finish();
        let retry = retry_policy(inner.config.max_retries, inner.config.retry_base_delay);
        let resp = send_retrying(BACKEND, &inner.name, &retry, None, |_| {
            let req = inner
                .http
                .post(&self.token_uri)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(form.clone());
            async move { Ok(req) }
        })
        .await?;
        let status = resp.status();
        let text = body_text(BACKEND, &inner.name, resp).await?;
        if !status.is_success() {
            // OAuth errors: {"error": "invalid_grant", "error_description": "…"}.
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let description = body
                .get("error_description")
                .and_then(Value::as_str)
                .or_else(|| body.get("error").and_then(Value::as_str))
                .unwrap_or(&text);
            let kind = if status.as_u16() == 429 || status.is_server_error() {
                ErrorKind::RateLimited
            } else {
                ErrorKind::Unauthorized
            };
            return Err(http_error(
                BACKEND,
                status,
                kind,
                format!(
                    "the token endpoint refused service account `{}`: {description}",
                    self.client_email
                ),
            ));
        }
        let token: TokenResponse = serde_json::from_str(&text)
            .map_err(|_| bad_response(BACKEND, &inner.name, "token response", &text))?;
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(3600));
        let margin = (lifetime / 5).min(Duration::from_secs(60));
        let expires = Instant::now() + lifetime.saturating_sub(margin);
        *cached = Some((SecretString::from(token.access_token.clone()), expires));
        Ok(token.access_token)
    }

    pub(super) async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }
}
