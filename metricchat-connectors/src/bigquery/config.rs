//! How to reach BigQuery: [`BigQueryConfig`] and its URL form.

#[allow(clippy::wildcard_imports)]
use super::*;

/// How to reach BigQuery. Deserialises from a map with every field optional.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct BigQueryConfig {
    /// The connection's name (default: the dataset, else the project).
    pub name: Option<String>,
    /// Project that runs (and pays for) the jobs.
    pub project: String,
    /// Default dataset: unqualified table names resolve there and introspection is limited to it.
    pub dataset: Option<String>,
    /// Location of the data (`US`, `EU`, `europe-west1`, …); jobs run there.
    pub location: Option<String>,
    /// Path of a service-account JSON key file.
    pub credentials_path: Option<PathBuf>,
    /// The service-account JSON itself (instead of a path). Hidden in `Debug`.
    pub credentials_json: Option<SecretString>,
    /// An OAuth access token used as is (instead of a service account). Hidden in `Debug`.
    pub token: Option<SecretString>,
    /// `maximumBytesBilled` of every query: BigQuery refuses larger queries before running them.
    pub maximum_bytes_billed: Option<u64>,
    /// API origin (default `https://bigquery.googleapis.com`).
    pub api_base: Option<String>,
    /// Token endpoint (default: the key file's `token_uri`, else Google's).
    pub token_uri: Option<String>,
    /// Labels of every job (default `client: metricchat`).
    pub labels: BTreeMap<String, String>,
    /// Rows per page (`maxResults`, default 10000).
    pub page_size: u32,
    /// How long one `jobs.query`/`getQueryResults` call may wait for the job (`timeoutMs`,
    /// default 10 s).
    #[serde(with = "metricchat_core::serde_util::duration_ms")]
    pub wait: Duration,
    /// Retries of a request answered 429/502/503/504 or lost in transport (default 3).
    pub max_retries: u32,
    /// First retry backoff, doubled each retry (default 500 ms).
    #[serde(with = "metricchat_core::serde_util::duration_ms")]
    pub retry_base_delay: Duration,
    /// Time limit of catalog queries (default 60 s).
    #[serde(with = "metricchat_core::serde_util::duration_ms")]
    pub catalog_timeout: Duration,
}

impl Default for BigQueryConfig {
    fn default() -> Self {
        Self {
            name: None,
            project: String::new(),
            dataset: None,
            location: None,
            credentials_path: None,
            credentials_json: None,
            token: None,
            maximum_bytes_billed: None,
            api_base: None,
            token_uri: None,
            labels: BTreeMap::from([("client".to_string(), "metricchat".to_string())]),
            page_size: 10_000,
            wait: Duration::from_secs(10),
            max_retries: 3,
            retry_base_delay: Duration::from_millis(500),
            catalog_timeout: Duration::from_secs(60),
        }
    }
}

impl BigQueryConfig {
    /// Parses `bigquery://PROJECT[/DATASET]?location=&credentials_path=&maximum_bytes_billed=`
    /// (also `token`, `name`, `api_base`, `token_uri`).
    pub fn from_url(url: &str) -> Result<Self> {
        let parsed = parse_conn_url(url, "bigquery", "BigQuery", "bigquery://PROJECT/DATASET", 1)?;
        let mut cfg = Self {
            project: parsed.host,
            dataset: parsed.path.into_iter().next(),
            ..Self::default()
        };
        for (k, v) in parsed.params {
            match k.as_str() {
                "name" => cfg.name = Some(v),
                "location" => cfg.location = Some(v),
                "credentials_path" => cfg.credentials_path = Some(PathBuf::from(v)),
                "token" => cfg.token = Some(SecretString::from(v)),
                "maximum_bytes_billed" => {
                    cfg.maximum_bytes_billed = Some(v.parse().map_err(|_| {
                        bad_url(
                            "BigQuery",
                            format!("maximum_bytes_billed `{v}` is not a whole number"),
                        )
                    })?);
                }
                "api_base" => cfg.api_base = Some(v),
                "token_uri" => cfg.token_uri = Some(v),
                other => {
                    return Err(unknown_param(
                        "BigQuery",
                        other,
                        &[
                            "location",
                            "credentials_path",
                            "token",
                            "maximum_bytes_billed",
                            "name",
                            "api_base",
                            "token_uri",
                        ],
                    ));
                }
            }
        }
        Ok(cfg)
    }
}
