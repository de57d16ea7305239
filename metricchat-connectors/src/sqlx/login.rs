//! The privileged-login check of the client/server connectors.

use std::future::Future;

use metricchat_core::connector::QueryLimits;
use metricchat_core::error::{Error, Result};

/// What makes a login privileged, found once per connector by [`LoginCheck`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoginPrivileges {
    /// The user the server says we are (`current_user`, `CURRENT_USER()`).
    pub(crate) user: String,
    /// The privileges that work inside a read-only transaction; empty for a safe login.
    pub(crate) privileges: Vec<String>,
}

/// Refuses model-written SQL on a privileged login unless the embedder opted in.
///
/// A read-only transaction stops writes to tables, not what a superuser (PostgreSQL) or a
/// holder of FILE or SUPER (MySQL/MariaDB) can do without writing a table: read and write
/// server files, run programs, signal or kill other sessions, change global settings. The
/// login's privileges are read on the first `query()` and cached for the connector's life;
/// a failed read is an error and is tried again on the next query.
#[derive(Debug)]
pub(crate) struct LoginCheck {
    allow: bool,
    found: tokio::sync::OnceCell<LoginPrivileges>,
}

impl LoginCheck {
    /// A check that never runs when `allow_privileged_login` is set.
    pub(crate) fn new(allow_privileged_login: bool) -> Self {
        Self {
            allow: allow_privileged_login,
            found: tokio::sync::OnceCell::new(),
        }
    }

    /// Reads the login's privileges with `detect` (once; cached) and fails with
    /// [`Error::PrivilegedLogin`] when there are any. Honours the query's cancellation
    /// and deadline while detecting.
    pub(crate) async fn ensure<F, Fut>(
        &self,
        limits: &QueryLimits,
        detect: F,
        hint: impl FnOnce() -> String,
    ) -> Result<()>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<LoginPrivileges>>,
    {
        if self.allow {
            return Ok(());
        }
        let found = limits.guard(self.found.get_or_try_init(detect)).await?;
        if found.privileges.is_empty() {
            return Ok(());
        }
        Err(Error::PrivilegedLogin {
            connector: limits.connector.clone(),
            user: found.user.clone(),
            privileges: found.privileges.clone(),
            hint: hint(),
        })
    }
}

/// The end of every refusal: how to opt in.
pub(crate) const OPT_IN: &str = "To run model-written SQL on this login anyway, set \
    `allow_privileged_login: true` in the connection's config or add \
    `allow_privileged_login=true` to its URL.";

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn login_check_caches_refuses_and_retries_failures() {
        use metricchat_core::connector::QueryOptions;
        use metricchat_core::error::ErrorKind;
        use std::sync::atomic::{AtomicUsize, Ordering};

        let limits = QueryLimits::new("wh", QueryOptions::default());
        let calls = AtomicUsize::new(0);
        async fn detect(calls: &AtomicUsize, privileges: &[&str]) -> Result<LoginPrivileges> {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(LoginPrivileges {
                user: "admin".into(),
                privileges: privileges.iter().map(|p| p.to_string()).collect(),
            })
        }
        let hint = || "use a reader".to_string();

        // A failed detection is an error and is tried again.
        let check = LoginCheck::new(false);
        let failed = check
            .ensure(
                &limits,
                || async { Err(Error::Internal("catalog unreadable".into())) },
                hint,
            )
            .await;
        assert_eq!(failed.unwrap_err().kind(), ErrorKind::Internal);
        let err = check
            .ensure(&limits, || detect(&calls, &["superuser"]), hint)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthorized);
        let Error::PrivilegedLogin {
            connector,
            user,
            privileges,
            hint: text,
        } = err
        else {
            unreachable!()
        };
        assert_eq!((connector.as_str(), user.as_str()), ("wh", "admin"));
        assert_eq!(
            (privileges, text.as_str()),
            (vec!["superuser".into()], "use a reader")
        );
        // Cached: the second refusal does not detect again.
        assert!(
            check
                .ensure(&limits, || detect(&calls, &[]), hint)
                .await
                .is_err()
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let safe = LoginCheck::new(false);
        assert!(
            safe.ensure(&limits, || detect(&calls, &[]), hint)
                .await
                .is_ok()
        );
        // Opted in: nothing is detected.
        let allowed = LoginCheck::new(true);
        assert!(
            allowed
                .ensure(&limits, || detect(&calls, &["FILE"]), hint)
                .await
                .is_ok()
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
