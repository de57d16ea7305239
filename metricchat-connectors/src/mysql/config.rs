//! How to reach a MySQL or MariaDB server: [`MySqlConfig`] and its URL form.

#[allow(clippy::wildcard_imports)]
use super::*;

/// How to reach a MySQL or MariaDB database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct MySqlConfig {
    /// The connection's name (default: the database name, else `mysql`).
    pub name: Option<String>,
    /// Host name or address (default `localhost`).
    pub host: String,
    /// Port (default 3306).
    pub port: u16,
    /// User (default `root`).
    pub user: String,
    /// Password, if the server asks for one. Hidden in `Debug`, never serialised.
    #[serde(skip_serializing)]
    pub password: Option<SecretString>,
    /// Default database; introspection is limited to it (default: none, every database).
    pub database: Option<String>,
    /// `ssl-mode` (`DISABLED`, `PREFERRED`, `REQUIRED`, `VERIFY_CA`, `VERIFY_IDENTITY`; default:
    /// sqlx's `PREFERRED`).
    pub ssl_mode: Option<String>,
    /// Pool size (default 5).
    pub max_connections: u32,
    /// How long to wait for a pooled connection or a new one, in seconds (default 10).
    #[serde(with = "metricchat_core::serde_util::duration_ms")]
    pub connect_timeout: Duration,
    /// Run queries even when the login holds global privileges that work inside a read-only
    /// transaction (`FILE`, `SUPER`, `ALL PRIVILEGES`, … — see the module docs). Default
    /// `false`: such a login gets [`Error::PrivilegedLogin`] from [`Connector::query`].
    pub allow_privileged_login: bool,
}

impl Default for MySqlConfig {
    fn default() -> Self {
        Self {
            name: None,
            host: "localhost".into(),
            port: 3306,
            user: "root".into(),
            password: None,
            database: None,
            ssl_mode: None,
            max_connections: 5,
            connect_timeout: Duration::from_secs(10),
            allow_privileged_login: false,
        }
    }
}

impl MySqlConfig {
    /// Parses `mysql://user:password@host:port/database?name=…&ssl-mode=…&max_connections=…&connect_timeout=…&allow_privileged_login=…`
    /// (`mariadb://` too).
    pub fn from_url(url: &str) -> Result<Self> {
        const ENGINE: &str = "MySQL";
        let parts = DbUrl::parse(url, ENGINE, &["mysql", "mariadb"])?;
        let mut cfg = Self::default();
        if let Some(host) = parts.host {
            cfg.host = host;
        }
        if let Some(port) = parts.port {
            cfg.port = port;
        }
        if let Some(user) = parts.user {
            cfg.user = user;
        }
        cfg.password = parts.password.map(SecretString::from);
        cfg.database = parts.database;
        for (k, v) in parts.params {
            match k.as_str() {
                "name" => cfg.name = Some(v),
                "ssl-mode" | "sslmode" | "ssl_mode" => cfg.ssl_mode = Some(v),
                "max_connections" => cfg.max_connections = number_param(ENGINE, &k, &v)?,
                "connect_timeout" => {
                    cfg.connect_timeout = Duration::from_secs(number_param(ENGINE, &k, &v)?);
                }
                "allow_privileged_login" => {
                    cfg.allow_privileged_login = bool_param(ENGINE, &k, &v)?;
                }
                other => {
                    return Err(bad_url(
                        ENGINE,
                        format!(
                            "unknown parameter `{other}`; known: name, ssl-mode, \
                             max_connections, connect_timeout, allow_privileged_login"
                        ),
                    ));
                }
            }
        }
        Ok(cfg)
    }

    pub(super) fn connect_options(&self) -> Result<MySqlConnectOptions> {
        let mut opts = MySqlConnectOptions::new()
            .host(&self.host)
            .port(self.port)
            .username(&self.user)
            .timezone(Some("+00:00".to_string()))
            .charset("utf8mb4");
        if let Some(p) = &self.password {
            opts = opts.password(p.expose_secret());
        }
        if let Some(db) = &self.database {
            opts = opts.database(db);
        }
        if let Some(mode) = &self.ssl_mode {
            let mode = MySqlSslMode::from_str(mode)
                .map_err(|e| Error::config(BACKEND, format!("ssl-mode `{mode}`: {e}")))?;
            opts = opts.ssl_mode(mode);
        }
        Ok(opts)
    }

    pub(super) fn connect_timeout(&self) -> Duration {
        self.connect_timeout.max(Duration::from_secs(1))
    }

    pub(super) fn endpoint(&self) -> Endpoint<'_> {
        Endpoint {
            engine: "MySQL/MariaDB",
            host: &self.host,
            port: self.port,
            user: &self.user,
            database: self.database.as_deref(),
            timeout: self.connect_timeout(),
        }
    }
}
