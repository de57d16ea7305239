//! The URLs of the live test services (PostgreSQL, MariaDB): a missing one is a loud SKIP on a
//! developer's machine and a failure on CI, where a skipped service test must not pass.

use std::io::Write;

/// Whether the tests run on CI (`CI=true`, or `CI=1`, as CI runners set it).
pub fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| {
        let v = v.trim();
        v.eq_ignore_ascii_case("true") || v == "1"
    })
}

/// The URL in `var`, exactly as set. When it is unset or empty: with [`on_ci`] this panics (the
/// test fails); otherwise it writes a SKIPPED line to stderr, past the test harness's capture so
/// that every run shows it, and returns `None` (the caller returns). `what` names what did not
/// run, e.g. `"the PostgreSQL connector tests"`.
///
/// # Panics
///
/// On CI when `var` is unset or empty.
pub fn service_url_or_skip(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if on_ci() => {
            #[allow(clippy::panic)]
            {
                panic!(
                    "{var} is not set but CI is: {what} must run on CI (.ci/run sets {var}); \
                     a missing service is a failure there, not a skip"
                )
            }
        }
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED: {var} is not set; {what} did not run ***\n"
            );
            None
        }
    }
}
