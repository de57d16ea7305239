//! What `SHOW GRANTS` says about a login: the privileged-login check of MySQL and MariaDB.

#[allow(clippy::wildcard_imports)]
use super::*;

/// What `SHOW GRANTS` lines say about a login: its global privileges and its roles.
#[derive(Debug, Default)]
pub(super) struct Grants {
    /// Global (`ON *.*`) privileges as the server spells them, `GRANT OPTION` included.
    pub(super) global: Vec<String>,
    /// Roles granted to the login, quoted as the server printed them.
    pub(super) roles: Vec<String>,
}

impl Grants {
    pub(super) fn add(&mut self, lines: &[String]) {
        for line in lines {
            match parse_grant(line) {
                GrantLine::Global(privileges) => self.global.extend(privileges),
                GrantLine::Roles(roles) => {
                    for r in roles {
                        if !self.roles.contains(&r) {
                            self.roles.push(r);
                        }
                    }
                }
                GrantLine::Other => {}
            }
        }
    }

    /// The privileged ones among the global privileges, each once.
    pub(super) fn privileged(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in &self.global {
            if is_privileged(p) && !out.contains(p) {
                out.push(p.clone());
            }
        }
        out
    }
}

/// One `SHOW GRANTS` line, as far as the privilege check needs it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum GrantLine {
    /// `GRANT <privileges> ON *.* TO …`, with `GRANT OPTION` for `WITH GRANT OPTION`.
    Global(Vec<String>),
    /// `GRANT <role>[, <role>…] TO …`.
    Roles(Vec<String>),
    /// Database, table, column, routine and proxy grants, `SET DEFAULT ROLE`, anything else.
    Other,
}

/// Splits `s` at the characters `at` accepts outside quotes (`` ` ``, `'`, `"`) and parentheses,
/// dropping empty pieces.
pub(super) fn split_top_level(s: &str, at: impl Fn(char) -> bool) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quote, mut depth, mut start) = (None::<char>, 0usize, 0usize);
    for (i, c) in s.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '`' | '\'' | '"' => quote = Some(c),
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ if depth == 0 && at(c) => {
                    out.push(&s[start..i]);
                    start = i + c.len_utf8();
                }
                _ => {}
            },
        }
    }
    out.push(&s[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

pub(super) fn parse_grant(line: &str) -> GrantLine {
    let words = split_top_level(line, char::is_whitespace);
    let is = |i: usize, w: &str| words.get(i).is_some_and(|x| x.eq_ignore_ascii_case(w));
    if !is(0, "GRANT") {
        return GrantLine::Other;
    }
    let Some(to) = (1..words.len()).find(|&i| is(i, "TO")) else {
        return GrantLine::Other;
    };
    let list = |from: usize, until: usize| -> Vec<String> {
        split_top_level(&words[from..until].join(" "), |c| c == ',')
            .into_iter()
            .map(String::from)
            .collect()
    };
    match (1..to).find(|&i| is(i, "ON")) {
        None => GrantLine::Roles(list(1, to)),
        Some(on) if on + 2 == to && words[on + 1] == "*.*" => {
            let mut privileges: Vec<String> = list(1, on)
                .into_iter()
                .map(|p| p.to_ascii_uppercase())
                .collect();
            if (to + 1..words.len()).any(|i| is(i, "GRANT") && is(i + 1, "OPTION")) {
                privileges.push("GRANT OPTION".into());
            }
            GrantLine::Global(privileges)
        }
        Some(_) => GrantLine::Other,
    }
}

/// Whether a global privilege works inside a read-only transaction (files, programs, other
/// sessions, global settings, the server's state) or administers accounts, so a model's SQL
/// could do harm with it. Spellings of both servers are accepted (`CONNECTION ADMIN` and
/// `CONNECTION_ADMIN`).
///
/// Refused: `ALL PRIVILEGES`; `FILE` (`SELECT … INTO OUTFILE`, `LOAD_FILE`); `SUPER` (`KILL`,
/// `SET GLOBAL`, …); `SHUTDOWN`; `RELOAD` and MySQL's `FLUSH_*`; `CREATE USER`, `GRANT OPTION`
/// and `SET USER`/`SET_USER_ID`/`SET_ANY_DEFINER` (accounts and identities); `BINLOG REPLAY`,
/// `REPLICATION_APPLIER` (replaying binary-log events); `INNODB_REDO_LOG_*`; and every
/// administrative privilege (`… ADMIN`: `CONNECTION ADMIN`, `BINLOG ADMIN`, `READ_ONLY ADMIN`,
/// `SYSTEM_VARIABLES_ADMIN`, `ROLE_ADMIN`, …) except `SESSION_VARIABLES_ADMIN` and
/// `APPLICATION_PASSWORD_ADMIN`, which touch only the own session and password.
///
/// Allowed: object privileges such as `SELECT` (writes fail in the read-only transaction),
/// `PROCESS`, `REPLICATION CLIENT`, `BINLOG MONITOR`, `SLAVE MONITOR`, `SHOW DATABASES`: they
/// read server state but change nothing.
pub(super) fn is_privileged(privilege: &str) -> bool {
    let p = privilege
        .to_ascii_uppercase()
        .replace('_', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    match p.as_str() {
        "ALL"
        | "ALL PRIVILEGES"
        | "FILE"
        | "SUPER"
        | "SHUTDOWN"
        | "RELOAD"
        | "CREATE USER"
        | "GRANT OPTION"
        | "SET USER"
        | "SET USER ID"
        | "SET ANY DEFINER"
        | "BINLOG REPLAY"
        | "REPLICATION APPLIER" => true,
        "SESSION VARIABLES ADMIN" | "APPLICATION PASSWORD ADMIN" => false,
        _ => p.ends_with(" ADMIN") || p.starts_with("FLUSH ") || p.starts_with("INNODB REDO LOG"),
    }
}

/// Whether `s` is an account or role name as `SHOW GRANTS` quotes it (`` `r` ``,
/// `` `r`@`%` ``, `'r'@'%'`), safe to put back into `SET ROLE` or `USING`.
pub(super) fn is_quoted_account(s: &str) -> bool {
    let mut chars = s.chars().peekable();
    let Some(q) = chars.next() else {
        return false;
    };
    if !is_quoted_rest(q, &mut chars) {
        return false;
    }
    match chars.next() {
        None => true,
        Some('@') => match chars.next() {
            Some(q) => is_quoted_rest(q, &mut chars) && chars.next().is_none(),
            None => false,
        },
        Some(_) => false,
    }
}

/// Consumes one quoted name opened by `q` (a doubled quote inside stays inside).
pub(super) fn is_quoted_rest(
    q: char,
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
) -> bool {
    if q != '`' && q != '\'' {
        return false;
    }
    loop {
        match chars.next() {
            None => return false,
            Some(c) if c == q => {
                if chars.peek() == Some(&q) {
                    chars.next();
                } else {
                    return true;
                }
            }
            Some(_) => {}
        }
    }
}

/// How to create a login that may only read, and why, for [`Error::PrivilegedLogin`].
pub(super) fn least_privilege_hint(database: Option<&str>) -> String {
    let db = database.map_or_else(
        || "<database>".to_string(),
        |d| format!("`{}`", d.replace('`', "``")),
    );
    format!(
        "A read-only transaction does not stop such a login from reading or writing server \
         files (SELECT ... INTO OUTFILE, LOAD_FILE), changing global settings (SET GLOBAL), \
         killing other sessions (KILL) or managing accounts. Connect as a user that may only \
         read, created by an administrator: CREATE USER 'metricchat_reader'@'%' IDENTIFIED BY \
         '<password>'; GRANT SELECT ON {db}.* TO 'metricchat_reader'@'%'; (one GRANT per \
         database to query). {OPT_IN}"
    )
}
