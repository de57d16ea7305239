//! Running one statement over the SQL API v2: submit (with retries that resend the same
//! `requestId`), poll while Snowflake answers `202`, fetch the result partitions concurrently,
//! and cancel at the engine when the caller cancels or the deadline passes.

use super::*;

/// What `POST /api/v2/statements` led to before polling.
pub(super) enum Submitted {
    Done(Box<StatementResponse>),
    /// The statement handle and the status URL to poll.
    Running(String, String),
}

impl Inner {
    /// A request authorised by the connection's login, or by `user_token` (a user's OAuth
    /// token from [`QueryOptions::run_as`], sent with the type `OAUTH`) when given.
    pub(super) fn request(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        user_token: Option<&SecretString>,
    ) -> Result<reqwest::RequestBuilder> {
        let url = if path_and_query.starts_with("http://") || path_and_query.starts_with("https://")
        {
            path_and_query.to_string()
        } else {
            format!("{}{path_and_query}", self.base_url)
        };
        let (bearer, kind) = match user_token {
            Some(t) => (t.expose_secret().to_string(), "OAUTH"),
            None => (self.auth.bearer()?, self.auth.token_type()),
        };
        Ok(self
            .http
            .request(method, url)
            .bearer_auth(bearer)
            .header("X-Snowflake-Authorization-Token-Type", kind)
            .header(reqwest::header::ACCEPT, "application/json"))
    }

    pub(super) fn retry(&self) -> RetryPolicy {
        retry_policy(self.config.max_retries, self.config.retry_base_delay)
    }

    /// Sends with retries; a 401 under key-pair auth signs a fresh JWT and tries once more
    /// (not when a user's token authorised the request: `as_user`).
    pub(super) async fn send<F>(
        &self,
        limits: Option<&QueryLimits>,
        as_user: bool,
        build: F,
    ) -> Result<reqwest::Response>
    where
        F: Fn(u32) -> Result<reqwest::RequestBuilder>,
    {
        let mut refreshed = false;
        loop {
            let resp = send_retrying(BACKEND, &self.name, &self.retry(), limits, |attempt| {
                let built = build(attempt);
                async move { built }
            })
            .await?;
            if resp.status() == StatusCode::UNAUTHORIZED
                && matches!(self.auth, Auth::KeyPair(_))
                && !as_user
                && !refreshed
            {
                self.auth.invalidate();
                refreshed = true;
                continue;
            }
            return Ok(resp);
        }
    }

    /// Submits `sql`, polls it to completion and returns the first partition.
    pub(super) async fn execute(
        self: Arc<Self>,
        sql: String,
        limits: &QueryLimits,
    ) -> Result<Finished> {
        // Whole seconds, rounded up: Snowflake's `timeout` is an integer.
        let timeout_secs = limits
            .remaining()
            .map(|d| (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1));
        // The POST runs in its own task so that, when the caller gives up while Snowflake
        // still holds the request, the statement it answers with can still be cancelled.
        let user_token = limits.run_as.as_ref().and_then(|c| c.token.clone());
        let mut submit = {
            let inner = self.clone();
            let role = limits.run_as.as_ref().and_then(|c| c.role.clone());
            let token = user_token.clone();
            tokio::spawn(async move {
                inner
                    .submit(&sql, timeout_secs, role.as_deref(), token.as_ref())
                    .await
            })
        };
        let submitted = match limits.race(&mut submit).await {
            Ok(joined) => joined
                .map_err(|e| Error::Internal(format!("Snowflake submit task failed: {e}")))??,
            Err(stop) => {
                let inner = self.clone();
                tokio::spawn(async move {
                    if let Ok(Ok(Submitted::Running(handle, _))) = submit.await {
                        inner.cancel(&handle, user_token.as_ref()).await;
                    }
                });
                return Err(stop);
            }
        };
        let mut response = match submitted {
            Submitted::Done(r) => *r,
            Submitted::Running(handle, url) => self.poll(&handle, &url, limits).await?,
        };
        let handle = response.statement_handle.clone().unwrap_or_default();
        let meta = response
            .result_set_meta_data
            .take()
            .ok_or_else(|| bad_response(BACKEND, &self.name, "no resultSetMetaData", ""))?;
        let partitions = meta.partition_info.iter().map(|p| p.row_count).collect();
        Ok(Finished {
            handle,
            row_types: meta.row_type,
            first: response.data.take().unwrap_or_default(),
            partitions,
        })
    }

    /// Posts `sql`; `run_as_role` (the user's role) replaces the connection's `role`, and
    /// `user_token` the connection's login.
    pub(super) async fn submit(
        &self,
        sql: &str,
        timeout_secs: Option<u64>,
        run_as_role: Option<&str>,
        user_token: Option<&SecretString>,
    ) -> Result<Submitted> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let mut body = json!({
            "statement": sql,
            "parameters": {
                "MULTI_STATEMENT_COUNT": "1",
                "QUERY_TAG": self.config.query_tag,
            },
        });
        if let Some(t) = timeout_secs {
            body["timeout"] = json!(t);
        }
        for (key, value) in [
            ("database", &self.config.database),
            ("schema", &self.config.schema),
            ("warehouse", &self.config.warehouse),
            ("role", &self.config.role),
        ] {
            if let Some(v) = value {
                body[key] = json!(v);
            }
        }
        if let Some(role) = run_as_role {
            body["role"] = json!(role);
        }
        let resp = self
            .send(None, user_token.is_some(), |attempt| {
                let mut path = format!("/api/v2/statements?requestId={request_id}");
                if attempt > 0 {
                    path.push_str("&retry=true");
                }
                Ok(self
                    .request(reqwest::Method::POST, &path, user_token)?
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_string()))
            })
            .await?;
        let status = resp.status();
        let text = body_text(BACKEND, &self.name, resp).await?;
        match status {
            StatusCode::OK => Ok(Submitted::Done(Box::new(self.parse(&text)?))),
            StatusCode::ACCEPTED => {
                let r = self.parse(&text)?;
                let handle = r.statement_handle.ok_or_else(|| {
                    bad_response(BACKEND, &self.name, "202 without statementHandle", &text)
                })?;
                let url = r
                    .statement_status_url
                    .unwrap_or_else(|| format!("/api/v2/statements/{handle}"));
                Ok(Submitted::Running(handle, url))
            }
            _ => Err(self.status_error(status, &text)),
        }
    }

    /// Polls a running statement at its `statementStatusUrl` until it finishes, cancelling it
    /// when interrupted.
    pub(super) async fn poll(
        &self,
        handle: &str,
        url: &str,
        limits: &QueryLimits,
    ) -> Result<StatementResponse> {
        let interval = self.config.poll_interval.max(Duration::from_millis(10));
        let user_token = limits.run_as.as_ref().and_then(|c| c.token.as_ref());
        loop {
            let step = async {
                tokio::time::sleep(interval).await;
                let resp = self
                    .send(None, user_token.is_some(), |_| {
                        self.request(reqwest::Method::GET, url, user_token)
                    })
                    .await?;
                let status = resp.status();
                let text = body_text(BACKEND, &self.name, resp).await?;
                match status {
                    StatusCode::OK => Ok(Some(self.parse(&text)?)),
                    StatusCode::ACCEPTED => Ok(None),
                    _ => Err(self.status_error(status, &text)),
                }
            };
            match limits.race(step).await {
                Ok(Ok(Some(done))) => return Ok(done),
                Ok(Ok(None)) => {}
                Ok(Err(e)) => return Err(e),
                Err(stop) => {
                    self.cancel(handle, user_token).await;
                    return Err(stop);
                }
            }
        }
    }

    /// `POST /api/v2/statements/{handle}/cancel` (as the user whose token submitted it);
    /// failures are logged, not returned.
    pub(super) async fn cancel(&self, handle: &str, user_token: Option<&SecretString>) {
        let sent = async {
            self.request(
                reqwest::Method::POST,
                &format!("/api/v2/statements/{handle}/cancel"),
                user_token,
            )?
            .send()
            .await
            .map_err(|e| transport_error(BACKEND, &self.name, e))
        };
        match tokio::time::timeout(Duration::from_secs(10), sent).await {
            Ok(Ok(resp)) if resp.status().is_success() => {
                tracing::debug!(connector = %self.name, %handle, "Snowflake statement cancelled");
            }
            Ok(Ok(resp)) => {
                tracing::warn!(connector = %self.name, %handle, status = %resp.status(), "cancel refused");
            }
            Ok(Err(e)) => {
                tracing::warn!(connector = %self.name, %handle, error = %e, "cancel failed")
            }
            Err(_) => tracing::warn!(connector = %self.name, %handle, "cancel timed out"),
        }
    }

    /// `GET /api/v2/statements/{handle}?partition=N`: that partition's rows (fetched with the
    /// token that submitted the statement).
    pub(super) async fn partition(
        &self,
        handle: &str,
        index: usize,
        user_token: Option<&SecretString>,
    ) -> Result<Rows> {
        let resp = self
            .send(None, user_token.is_some(), |_| {
                self.request(
                    reqwest::Method::GET,
                    &format!("/api/v2/statements/{handle}?partition={index}"),
                    user_token,
                )
            })
            .await?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| transport_error(BACKEND, &self.name, e))?;
        let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut out)
                .map_err(|e| {
                    bad_response(BACKEND, &self.name, &format!("bad gzip partition: {e}"), "")
                })?;
            out
        } else {
            bytes.to_vec()
        };
        let text = String::from_utf8_lossy(&bytes);
        if !status.is_success() {
            return Err(self.status_error(status, &text));
        }
        Ok(self.parse(&text)?.data.unwrap_or_default())
    }

    pub(super) fn parse(&self, text: &str) -> Result<StatementResponse> {
        serde_json::from_str(text).map_err(|e| {
            bad_response(
                BACKEND,
                &self.name,
                &format!("not a statement response: {e}"),
                text,
            )
        })
    }

    /// A typed error from a failed response's status and body (`code`, `message`, `sqlState`).
    pub(super) fn status_error(&self, status: StatusCode, text: &str) -> Error {
        let body: StatementResponse = serde_json::from_str(text).unwrap_or_default();
        let code = body.code.clone().unwrap_or_default();
        let message = body
            .message
            .clone()
            .unwrap_or_else(|| text.chars().take(300).collect());
        let with_code = if code.is_empty() {
            message.clone()
        } else {
            format!("{message} (Snowflake error {code})")
        };
        match (status.as_u16(), code.as_str()) {
            (_, "000604") => Error::Cancelled,
            (408, _) | (_, "000630") => Error::Timeout {
                operation: format!("Snowflake statement on `{}`", self.name),
                after: Duration::ZERO,
            },
            (401 | 403, _) => http_error(BACKEND, status, ErrorKind::Unauthorized, with_code),
            (_, c) if c.starts_with("390") => {
                http_error(BACKEND, status, ErrorKind::Unauthorized, with_code)
            }
            (429, _) => http_error(BACKEND, status, ErrorKind::RateLimited, with_code),
            (s, _) if s >= 500 => Error::Connection {
                connector: self.name.clone(),
                message: format!("Snowflake answered HTTP {status}: {with_code}"),
                source: None,
            },
            _ => Error::Query {
                connector: self.name.clone(),
                message: with_code,
                code: body.sql_state.or(body.code),
                source: None,
            },
        }
    }
}
