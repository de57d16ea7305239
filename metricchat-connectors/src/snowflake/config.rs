//! How to reach Snowflake: [`SnowflakeConfig`] and its URL form.

#[allow(clippy::wildcard_imports)]
use super::*;

/// How to reach Snowflake. Deserialises from a map with every field optional.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SnowflakeConfig {
    /// The connection's name (default: the database, else `snowflake`).
    pub name: Option<String>,
    /// Account identifier (`xy12345`, `xy12345.eu-west-1`, `myorg-myaccount`).
    pub account: String,
    /// User name (needed for key-pair authentication).
    pub user: Option<String>,
    /// Default database; introspection is limited to it.
    pub database: Option<String>,
    /// Default schema; introspection is limited to it when set.
    pub schema: Option<String>,
    /// Warehouse that runs the statements.
    pub warehouse: Option<String>,
    /// Role the statements run as.
    pub role: Option<String>,
    /// Path of an unencrypted PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 PEM private key.
    pub private_key_path: Option<PathBuf>,
    /// The private key's PEM text itself (instead of a path). Hidden in `Debug`.
    pub private_key: Option<SecretString>,
    /// An OAuth access token (instead of a key). Hidden in `Debug`.
    pub token: Option<SecretString>,
    /// API origin (default `https://ACCOUNT.snowflakecomputing.com`).
    pub base_url: Option<String>,
    /// `QUERY_TAG` of every statement (default `metricchat`).
    pub query_tag: String,
    /// Lifetime of a key-pair JWT (default 59 min; at most one hour).
    #[serde(with = "metricchat_core::serde_util::duration_ms")]
    pub jwt_lifetime: Duration,
    /// Wait between two polls of a running statement (default 500 ms).
    #[serde(with = "metricchat_core::serde_util::duration_ms")]
    pub poll_interval: Duration,
    /// Result partitions fetched at once (default 4).
    pub max_concurrent_partitions: usize,
    /// Retries of a request answered 429/502/503/504 or lost in transport (default 3).
    pub max_retries: u32,
    /// First retry backoff, doubled each retry (default 500 ms).
    #[serde(with = "metricchat_core::serde_util::duration_ms")]
    pub retry_base_delay: Duration,
    /// Time limit of catalog queries (`list_tables`, `table_schema`; default 60 s).
    #[serde(with = "metricchat_core::serde_util::duration_ms")]
    pub catalog_timeout: Duration,
}

impl Default for SnowflakeConfig {
    fn default() -> Self {
        Self {
            name: None,
            account: String::new(),
            user: None,
            database: None,
            schema: None,
            warehouse: None,
            role: None,
            private_key_path: None,
            private_key: None,
            token: None,
            base_url: None,
            query_tag: "metricchat".into(),
            jwt_lifetime: Duration::from_secs(3540),
            poll_interval: Duration::from_millis(500),
            max_concurrent_partitions: 4,
            max_retries: 3,
            retry_base_delay: Duration::from_millis(500),
            catalog_timeout: Duration::from_secs(60),
        }
    }
}

impl SnowflakeConfig {
    /// Parses `snowflake://ACCOUNT/DATABASE/SCHEMA?warehouse=&role=&user=&private_key_path=|token=`
    /// (also `name`, `query_tag`, `base_url`).
    pub fn from_url(url: &str) -> Result<Self> {
        let parsed = parse_conn_url(
            url,
            "snowflake",
            "Snowflake",
            "snowflake://ACCOUNT/DATABASE/SCHEMA",
            2,
        )?;
        let mut path = parsed.path.into_iter();
        let mut cfg = Self {
            account: parsed.host,
            user: parsed.user,
            database: path.next(),
            schema: path.next(),
            ..Self::default()
        };
        for (k, v) in parsed.params {
            match k.as_str() {
                "name" => cfg.name = Some(v),
                "user" => cfg.user = Some(v),
                "warehouse" => cfg.warehouse = Some(v),
                "role" => cfg.role = Some(v),
                "private_key_path" => cfg.private_key_path = Some(PathBuf::from(v)),
                "token" => cfg.token = Some(SecretString::from(v)),
                "query_tag" => cfg.query_tag = v,
                "base_url" => cfg.base_url = Some(v),
                other => {
                    return Err(unknown_param(
                        "Snowflake",
                        other,
                        &[
                            "user",
                            "warehouse",
                            "role",
                            "private_key_path",
                            "token",
                            "name",
                            "query_tag",
                            "base_url",
                        ],
                    ));
                }
            }
        }
        Ok(cfg)
    }
}
