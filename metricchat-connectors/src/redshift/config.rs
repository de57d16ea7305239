//! How to reach Redshift: [`RedshiftConfig`] and its URL form.

#[allow(clippy::wildcard_imports)]
use super::*;
use std::time::Duration;

/// How to reach a Redshift database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RedshiftConfig {
    /// The connection's name (default: the database name).
    pub name: Option<String>,
    /// Cluster endpoint or workgroup host (default `localhost`).
    pub host: String,
    /// Port (default 5439).
    pub port: u16,
    /// User (default `awsuser`).
    pub user: String,
    /// Password. Hidden in `Debug`, never serialised.
    #[serde(skip_serializing)]
    pub password: Option<SecretString>,
    /// Database (default `dev`).
    pub database: String,
    /// libpq-style `sslmode` (`disable`, `prefer`, `require`, …; default: sqlx's `prefer`).
    pub ssl_mode: Option<String>,
    /// Schemas for unqualified names, set with `SET search_path` on every new connection.
    pub search_path: Option<String>,
    /// Pool size (default 5).
    pub max_connections: u32,
    /// How long to wait for a pooled connection or a new one, in seconds (default 10).
    #[serde(with = "metricchat_core::serde_util::duration_ms")]
    pub connect_timeout: Duration,
    /// Run queries even when the user is a superuser (`pg_user.usesuper`). Default `false`:
    /// such a login gets [`Error::PrivilegedLogin`] from [`Connector::query`] (see the module
    /// docs).
    pub allow_privileged_login: bool,
}

impl Default for RedshiftConfig {
    fn default() -> Self {
        Self {
            name: None,
            host: "localhost".into(),
            port: 5439,
            user: "awsuser".into(),
            password: None,
            database: "dev".into(),
            ssl_mode: None,
            search_path: None,
            max_connections: 5,
            connect_timeout: Duration::from_secs(10),
            allow_privileged_login: false,
        }
    }
}

impl RedshiftConfig {
    /// Parses `redshift://user:password@host:port/database?name=…&sslmode=…&search_path=…&allow_privileged_login=…`
    /// (`redshift+postgres://` too).
    pub fn from_url(url: &str) -> Result<Self> {
        let pg = Self::default()
            .to_postgres()
            .with_url(url, "Redshift", SCHEMES)?;
        Ok(Self {
            name: pg.name,
            host: pg.host,
            port: pg.port,
            user: pg.user,
            password: pg.password,
            database: pg.database,
            ssl_mode: pg.ssl_mode,
            search_path: pg.search_path,
            max_connections: pg.max_connections,
            connect_timeout: pg.connect_timeout,
            allow_privileged_login: pg.allow_privileged_login,
        })
    }

    /// The same connection as PostgreSQL settings (the wire protocol is PostgreSQL's).
    pub(super) fn to_postgres(&self) -> PostgresConfig {
        PostgresConfig {
            name: self.name.clone(),
            host: self.host.clone(),
            port: self.port,
            user: self.user.clone(),
            password: self.password.clone(),
            database: self.database.clone(),
            ssl_mode: self.ssl_mode.clone(),
            search_path: self.search_path.clone(),
            max_connections: self.max_connections,
            connect_timeout: self.connect_timeout,
            allow_privileged_login: self.allow_privileged_login,
        }
    }
}
