//! Running one query as a BigQuery job over REST: `jobs.query` (with the shared retry policy),
//! `getQueryResults` pages while the job runs or the rows continue, and `jobs.cancel` when the
//! caller cancels or the deadline passes.

use super::*;

impl Inner {
    pub(super) fn retry(&self) -> RetryPolicy {
        retry_policy(self.config.max_retries, self.config.retry_base_delay)
    }

    pub(super) async fn bearer(&self) -> Result<String> {
        match &self.auth {
            Auth::Bearer(t) => Ok(t.expose_secret().to_string()),
            Auth::ServiceAccount(sa) => sa.token(self).await,
        }
    }

    pub(super) fn project_url(&self, rest: &str) -> String {
        format!(
            "{}/bigquery/v2/projects/{}/{rest}",
            self.api_base,
            encode(&self.config.project)
        )
    }

    /// The bearer of a request: `user_token` (a user's OAuth access token from
    /// [`QueryOptions::run_as`]) when given, else the connection's login.
    async fn bearer_for(&self, user_token: Option<&SecretString>) -> Result<String> {
        match user_token {
            Some(t) => Ok(t.expose_secret().to_string()),
            None => self.bearer().await,
        }
    }

    /// Sends `method url` with `body` (authorised by `user_token` when given), retrying; after
    /// a 401 a service account fetches a new token and tries once more. Returns the parsed
    /// body or a typed error.
    pub(super) async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
        user_token: Option<&SecretString>,
    ) -> Result<Value> {
        let mut refreshed = false;
        loop {
            let resp = send_retrying(BACKEND, &self.name, &self.retry(), None, |_| async {
                let mut req = self
                    .http
                    .request(method.clone(), url)
                    .bearer_auth(self.bearer_for(user_token).await?)
                    .header(reqwest::header::ACCEPT, "application/json");
                if let Some(b) = body {
                    req = req
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(b.to_string());
                }
                Ok(req)
            })
            .await?;
            let status = resp.status();
            let text = body_text(BACKEND, &self.name, resp).await?;
            if status == StatusCode::UNAUTHORIZED
                && !refreshed
                && user_token.is_none()
                && let Auth::ServiceAccount(sa) = &self.auth
            {
                sa.invalidate().await;
                refreshed = true;
                continue;
            }
            if !status.is_success() {
                return Err(self.status_error(status, &text));
            }
            return serde_json::from_str(&text)
                .map_err(|_| bad_response(BACKEND, &self.name, "not JSON", &text));
        }
    }

    /// `jobs.query`, then polls until the job is complete; cancels it when interrupted. A
    /// user's token in `limits` ([`QueryOptions::run_as`]) authorises every request of the job.
    pub(super) async fn run(
        self: Arc<Self>,
        sql: &str,
        limits: &QueryLimits,
        dry_run: bool,
        max_rows: Option<usize>,
    ) -> Result<QueryResponse> {
        let page = self.page_size(max_rows);
        let mut body = json!({
            "query": sql,
            "useLegacySql": false,
            "maxResults": page,
            "timeoutMs": self.wait_ms(limits),
            "dryRun": dry_run,
            "labels": self.config.labels,
            "requestId": uuid::Uuid::new_v4().to_string(),
        });
        if let Some(l) = &self.config.location {
            body["location"] = json!(l);
        }
        if let Some(max) = self.config.maximum_bytes_billed {
            body["maximumBytesBilled"] = json!(max.to_string());
        }
        if let Some(d) = &self.config.dataset {
            body["defaultDataset"] = json!({"projectId": self.config.project, "datasetId": d});
        }
        let url = self.project_url("queries");
        let user_token = limits.run_as.as_ref().and_then(|c| c.token.clone());
        // The POST runs in its own task: when the caller gives up first, the job it reports can
        // still be cancelled.
        let mut submit = {
            let inner = self.clone();
            let token = user_token.clone();
            tokio::spawn(async move {
                inner
                    .call(reqwest::Method::POST, &url, Some(&body), token.as_ref())
                    .await
            })
        };
        let first = match limits.race(&mut submit).await {
            Ok(joined) => joined
                .map_err(|e| Error::Internal(format!("BigQuery submit task failed: {e}")))??,
            Err(stop) => {
                let inner = self.clone();
                tokio::spawn(async move {
                    if let Ok(Ok(v)) = submit.await
                        && let Ok(r) = serde_json::from_value::<QueryResponse>(v)
                        && r.job_complete == Some(false)
                        && let Some(job) = r.job_reference
                    {
                        inner.cancel(&job, user_token.as_ref()).await;
                    }
                });
                return Err(stop);
            }
        };
        let mut resp: QueryResponse = serde_json::from_value(first)
            .map_err(|e| bad_response(BACKEND, &self.name, &format!("QueryResponse: {e}"), ""))?;
        if dry_run {
            return Ok(resp);
        }
        while resp.job_complete != Some(true) {
            let job = resp.job_reference.clone().ok_or_else(|| {
                bad_response(
                    BACKEND,
                    &self.name,
                    "incomplete job without jobReference",
                    "",
                )
            })?;
            let token = limits.run_as.as_ref().and_then(|c| c.token.as_ref());
            match limits
                .race(self.results(&job, None, Some(limits), token))
                .await
            {
                Ok(r) => resp = r?,
                Err(stop) => {
                    self.cancel(&job, token).await;
                    return Err(stop);
                }
            }
        }
        Ok(resp)
    }

    pub(super) fn page_size(&self, max_rows: Option<usize>) -> u32 {
        let page = self.config.page_size.max(1);
        match max_rows {
            Some(cap) => page.min(u32::try_from(cap.max(1)).unwrap_or(u32::MAX)),
            None => page,
        }
    }

    pub(super) fn wait_ms(&self, limits: &QueryLimits) -> u64 {
        let wait = u64::try_from(self.config.wait.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        match limits.remaining() {
            Some(left) => wait.min(u64::try_from(left.as_millis()).unwrap_or(u64::MAX).max(1)),
            None => wait,
        }
    }

    /// `jobs.getQueryResults`: waits for the job (when `limits` given) or reads a page, as the
    /// user whose token ran the job (`user_token`) or the login.
    pub(super) async fn results(
        &self,
        job: &JobReference,
        page_token: Option<&str>,
        limits: Option<&QueryLimits>,
        user_token: Option<&SecretString>,
    ) -> Result<QueryResponse> {
        let mut url =
            url::Url::parse(&self.project_url(&format!("queries/{}", encode(&job.job_id))))
                .map_err(|e| Error::config(BACKEND, format!("bad api_base: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(l) = job.location.as_ref().or(self.config.location.as_ref()) {
                q.append_pair("location", l);
            }
            if let Some(t) = page_token {
                q.append_pair("pageToken", t);
            }
            q.append_pair("maxResults", &self.config.page_size.max(1).to_string());
            if let Some(l) = limits {
                q.append_pair("timeoutMs", &self.wait_ms(l).to_string());
            }
        }
        let v = self
            .call(reqwest::Method::GET, url.as_str(), None, user_token)
            .await?;
        serde_json::from_value(v).map_err(|e| {
            bad_response(
                BACKEND,
                &self.name,
                &format!("GetQueryResultsResponse: {e}"),
                "",
            )
        })
    }

    /// `POST …/jobs/{jobId}/cancel` (as whoever ran the job); failures are logged, not
    /// returned.
    pub(super) async fn cancel(&self, job: &JobReference, user_token: Option<&SecretString>) {
        let mut url = self.project_url(&format!("jobs/{}/cancel", encode(&job.job_id)));
        if let Some(l) = job.location.as_ref().or(self.config.location.as_ref()) {
            url.push_str(&format!("?location={}", encode(l)));
        }
        let sent = async {
            self.http
                .post(&url)
                .bearer_auth(self.bearer_for(user_token).await?)
                .send()
                .await
                .map_err(|e| transport_error(BACKEND, &self.name, e))
        };
        match tokio::time::timeout(Duration::from_secs(10), sent).await {
            Ok(Ok(r)) if r.status().is_success() => {
                tracing::debug!(connector = %self.name, job = %job.job_id, "BigQuery job cancelled");
            }
            Ok(Ok(r)) => {
                tracing::warn!(connector = %self.name, job = %job.job_id, status = %r.status(), "cancel refused");
            }
            Ok(Err(e)) => tracing::warn!(connector = %self.name, error = %e, "cancel failed"),
            Err(_) => tracing::warn!(connector = %self.name, "cancel timed out"),
        }
    }

    /// A typed error from a Google error body (`error.code/status/message/errors[].reason`).
    pub(super) fn status_error(&self, status: StatusCode, text: &str) -> Error {
        let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let error = body.get("error").unwrap_or(&Value::Null);
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| text.chars().take(300).collect(), str::to_string);
        let google_status = error.get("status").and_then(Value::as_str).unwrap_or("");
        let reason = error
            .pointer("/errors/0/reason")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let described = if reason.is_empty() {
            message.clone()
        } else {
            format!("{message} ({reason})")
        };
        match (status.as_u16(), google_status, reason.as_str()) {
            (_, _, "stopped") => Error::Cancelled,
            (401, _, _) | (_, "UNAUTHENTICATED", _) | (_, _, "accessDenied") => {
                http_error(BACKEND, status, ErrorKind::Unauthorized, described)
            }
            (429, _, _) | (_, _, "rateLimitExceeded" | "quotaExceeded") => {
                http_error(BACKEND, status, ErrorKind::RateLimited, described)
            }
            (403, _, _) | (_, "PERMISSION_DENIED", _) => {
                http_error(BACKEND, status, ErrorKind::Unauthorized, described)
            }
            (s, _, _) if s >= 500 => Error::Connection {
                connector: self.name.clone(),
                message: format!("BigQuery answered HTTP {status}: {described}"),
                source: None,
            },
            _ => Error::Query {
                connector: self.name.clone(),
                message,
                code: (!reason.is_empty()).then_some(reason),
                source: None,
            },
        }
    }
}
