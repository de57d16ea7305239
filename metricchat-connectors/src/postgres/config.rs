//! How to reach a PostgreSQL server: [`PostgresConfig`] and its URL form.

#[allow(clippy::wildcard_imports)]
use super::*;

/// How to reach a PostgreSQL database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct PostgresConfig {
    /// The connection's name (default: the database name).
    pub name: Option<String>,
    /// Host name or address (default `localhost`).
    pub host: String,
    /// Port (default 5432).
    pub port: u16,
    /// User (default `postgres`).
    pub user: String,
    /// Password, if the server asks for one. Hidden in `Debug`, never serialised.
    #[serde(skip_serializing)]
    pub password: Option<SecretString>,
    /// Database (default `postgres`).
    pub database: String,
    /// libpq-style `sslmode` (`disable`, `prefer`, `require`, …; default: sqlx's `prefer`).
    pub ssl_mode: Option<String>,
    /// Schemas for unqualified names, set with `SET search_path` on every new connection
    /// (default: the server's).
    pub search_path: Option<String>,
    /// Pool size (default 5).
    pub max_connections: u32,
    /// How long to wait for a pooled connection or a new one (default 10 s; in a config file
    /// milliseconds or `"10s"`, in the URL `connect_timeout=` seconds as in libpq).
    #[serde(with = "metricchat_core::serde_util::duration_ms")]
    pub connect_timeout: Duration,
    /// Run queries even when the login is privileged (superuser, `REPLICATION`, or a member of a
    /// superuser or replication role, `pg_read_server_files`, `pg_write_server_files`,
    /// `pg_execute_server_program` or `pg_signal_backend`). Default `false`: such a login gets
    /// [`Error::PrivilegedLogin`] from [`Connector::query`] (see the module docs).
    pub allow_privileged_login: bool,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        Self {
            name: None,
            host: "localhost".into(),
            port: 5432,
            user: "postgres".into(),
            password: None,
            database: "postgres".into(),
            ssl_mode: None,
            search_path: None,
            max_connections: 5,
            connect_timeout: Duration::from_secs(10),
            allow_privileged_login: false,
        }
    }
}

impl PostgresConfig {
    /// Parses `postgres://user:password@host:port/database?name=…&sslmode=…&search_path=…&max_connections=…&connect_timeout=…&allow_privileged_login=…`
    /// (`postgresql://` too).
    pub fn from_url(url: &str) -> Result<Self> {
        Self::default().with_url(url, "PostgreSQL", &["postgres", "postgresql"])
    }

    /// This config with the parts of `url` applied (shared with Redshift's URLs).
    pub(crate) fn with_url(mut self, url: &str, engine: &str, schemes: &[&str]) -> Result<Self> {
        let parts = DbUrl::parse(url, engine, schemes)?;
        if let Some(host) = parts.host {
            self.host = host;
        }
        if let Some(port) = parts.port {
            self.port = port;
        }
        if let Some(user) = parts.user {
            self.user = user;
        }
        self.password = parts.password.map(SecretString::from);
        if let Some(db) = parts.database {
            self.database = db;
        }
        for (k, v) in parts.params {
            match k.as_str() {
                "name" => self.name = Some(v),
                "sslmode" | "ssl-mode" | "ssl_mode" => self.ssl_mode = Some(v),
                "search_path" => self.search_path = Some(v),
                "max_connections" => self.max_connections = number_param(engine, &k, &v)?,
                "connect_timeout" => {
                    self.connect_timeout = Duration::from_secs(number_param(engine, &k, &v)?);
                }
                "allow_privileged_login" => {
                    self.allow_privileged_login = bool_param(engine, &k, &v)?;
                }
                other => {
                    return Err(bad_url(
                        engine,
                        format!(
                            "unknown parameter `{other}`; known: name, sslmode, search_path, \
                             max_connections, connect_timeout, allow_privileged_login"
                        ),
                    ));
                }
            }
        }
        Ok(self)
    }

    pub(super) fn connect_options(&self) -> Result<PgConnectOptions> {
        let mut opts = PgConnectOptions::new_without_pgpass()
            .host(&self.host)
            .port(self.port)
            .username(&self.user)
            .database(&self.database)
            .application_name("metricchat");
        if let Some(p) = &self.password {
            opts = opts.password(p.expose_secret());
        }
        if let Some(mode) = &self.ssl_mode {
            let mode = sqlx::postgres::PgSslMode::from_str(mode)
                .map_err(|e| Error::config(BACKEND, format!("sslmode `{mode}`: {e}")))?;
            opts = opts.ssl_mode(mode);
        }
        Ok(opts)
    }

    pub(super) fn connect_timeout(&self) -> Duration {
        self.connect_timeout.max(Duration::from_secs(1))
    }

    pub(super) fn endpoint<'a>(&'a self, engine: &'a str) -> Endpoint<'a> {
        Endpoint {
            engine,
            host: &self.host,
            port: self.port,
            user: &self.user,
            database: Some(self.database.as_str()),
            timeout: self.connect_timeout(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn durations_read_in_the_one_serde_form_and_old_keys_are_refused() {
        let cfg: PostgresConfig =
            serde_json::from_value(serde_json::json!({"connect_timeout": "1m30s"})).unwrap();
        assert_eq!(cfg.connect_timeout, Duration::from_secs(90));
        let cfg: PostgresConfig =
            serde_json::from_value(serde_json::json!({"connect_timeout": 2500})).unwrap();
        assert_eq!(cfg.connect_timeout, Duration::from_millis(2500));
        // The URL keeps libpq's unit: seconds.
        let cfg = PostgresConfig::from_url("postgres://h/db?connect_timeout=7").unwrap();
        assert_eq!(cfg.connect_timeout, Duration::from_secs(7));
        let err = serde_json::from_value::<PostgresConfig>(serde_json::json!({
            "connect_timeout_secs": 5
        }))
        .unwrap_err();
        assert!(err.to_string().contains("connect_timeout_secs"), "{err}");
    }
}
