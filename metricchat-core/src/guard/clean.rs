//! Turning model output into bare SQL text.

/// The SQL inside `text`: the body of the first markdown code fence if there is one (```` ```sql ````,
/// ```` ```SQL ````, a bare ```` ``` ```` …, closed or not), surrounding whitespace and trailing
/// semicolons removed.
///
/// ```
/// use metricchat_core::guard::extract_sql;
///
/// assert_eq!(extract_sql("Here you go:\n```sql\nSELECT 1;\n```\nDone."), "SELECT 1");
/// assert_eq!(extract_sql("  SELECT 2 ;; \n"), "SELECT 2");
/// ```
pub fn extract_sql(text: &str) -> String {
    let mut sql = text.trim();
    if let Some(start) = sql.find("```") {
        let after = &sql[start + 3..];
        // The info string (`sql`, `postgresql`, …) runs to the end of the opening fence's line.
        let body = match after.find('\n') {
            Some(nl) if is_info_string(&after[..nl]) => &after[nl + 1..],
            Some(_) => after,
            None => strip_sql_tag(after),
        };
        sql = match body.find("```") {
            Some(end) => &body[..end],
            None => body,
        };
    }
    let mut sql = sql.trim();
    while let Some(rest) = sql.strip_suffix(';') {
        sql = rest.trim_end();
    }
    sql.trim().to_string()
}

/// A fence info string is one word of letters, digits, `-`, `_` or `+` (or nothing), and not a
/// SQL keyword that starts a statement (```` ```SELECT ```` followed by a newline is SQL).
fn is_info_string(s: &str) -> bool {
    let s = s.trim();
    const STARTS: [&str; 8] = [
        "select", "with", "explain", "show", "describe", "desc", "values", "from",
    ];
    !s.contains(' ')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_+".contains(c))
        && !STARTS.iter().any(|k| s.eq_ignore_ascii_case(k))
}

/// Drops a `sql ` tag from a one-line fence (```` ```sql SELECT 1``` ````).
fn strip_sql_tag(s: &str) -> &str {
    match s.get(..4) {
        Some(tag) if tag.eq_ignore_ascii_case("sql ") => &s[4..],
        _ => s,
    }
}
