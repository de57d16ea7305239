//! Turning model output into bare SQL text.

/// The SQL inside `text`: the body of the first markdown code fence if there is one (```` ```sql ````,
/// ```` ```SQL ````, a bare ```` ``` ```` …, closed or not), surrounding whitespace and trailing
/// semicolons removed. Nothing else is dropped: the guard sees every statement in the text.
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

/// The SQL of a model's reply: [`extract_sql`], and without a fence also without the prose small
/// models write around the query — text before the first line that starts with `SELECT` or
/// `WITH`, and a paragraph after a blank line (or text after a `;`) that does not continue the
/// query. Only for model replies: a paragraph that starts with any statement keyword
/// (`DROP …`) is kept, so the guard still refuses it by name.
pub(crate) fn sql_from_reply(text: &str) -> String {
    if text.contains("```") {
        extract_sql(text)
    } else {
        extract_sql(without_prose(text))
    }
}

/// Words that start a statement other than a query: a paragraph that starts with one is kept.
const STATEMENTS: [&str; 20] = [
    "insert", "update", "delete", "drop", "create", "alter", "grant", "revoke", "truncate",
    "merge", "copy", "call", "set", "attach", "pragma", "explain", "values", "table", "show",
    "replace",
];

/// Words a line of a query can start with (besides punctuation and identifiers after a comma):
/// a paragraph that starts otherwise is prose.
const CONTINUES: [&str; 33] = [
    "select",
    "with",
    "from",
    "where",
    "group",
    "order",
    "having",
    "limit",
    "offset",
    "join",
    "left",
    "right",
    "inner",
    "full",
    "cross",
    "outer",
    "on",
    "and",
    "or",
    "union",
    "intersect",
    "except",
    "window",
    "qualify",
    "case",
    "when",
    "then",
    "else",
    "end",
    "as",
    "not",
    "in",
    "using",
];

/// The first word of `line`, lowercased, and whether the line starts with punctuation a query
/// continues with (`(`, `)`, `,`, `--`, a quote).
fn first_word(line: &str) -> (String, bool) {
    let t = line.trim_start();
    let punct = t.starts_with(['(', ')', ',', '\'', '"', '`', '*']) || t.starts_with("--");
    let word: String = t
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (word.to_ascii_lowercase(), punct)
}

/// Whether `line` starts a statement (`SELECT …`, `WITH …`).
fn starts_statement(line: &str) -> bool {
    matches!(first_word(line).0.as_str(), "select" | "with")
}

/// Unfenced model output without the prose around the query (see [`extract_sql`]). Text that
/// holds no line starting a statement is returned as it is (the guard says what is wrong).
fn without_prose(text: &str) -> &str {
    let Some(start) = line_starts(text).find(|&i| starts_statement(&text[i..])) else {
        return text;
    };
    let rest = &text[start..];
    let mut end = rest.len();
    // A blank line followed by a paragraph that does not continue the query ends it.
    let mut blank = false;
    for i in line_starts(rest).skip(1) {
        let line = rest[i..].lines().next().unwrap_or("");
        if line.trim().is_empty() {
            blank = true;
            continue;
        }
        let (word, punct) = first_word(line);
        if blank && !punct && !continues(&word) {
            end = rest[..i].trim_end().len();
            break;
        }
        blank = false;
    }
    let rest = &rest[..end];
    // Prose after a `;` outside quotes (`SELECT 1; This counts …`) goes too; a second
    // statement stays, for the guard to refuse by name.
    match top_level_semicolon(rest) {
        Some(at) if is_prose(&rest[at + 1..]) => &rest[..at],
        _ => rest,
    }
}

/// Whether a paragraph starting with `word` can belong to the query (or is a statement the
/// guard must see).
fn continues(word: &str) -> bool {
    CONTINUES.contains(&word) || STATEMENTS.contains(&word)
}

/// Whether `text` (after a `;`) starts with prose: a word that neither continues a query nor
/// starts a statement. A comment or nothing is not prose.
fn is_prose(text: &str) -> bool {
    let (word, punct) = first_word(text);
    !punct && !word.is_empty() && !continues(&word)
}

/// Byte offsets where the lines of `text` start.
fn line_starts(text: &str) -> impl Iterator<Item = usize> + '_ {
    std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1))
}

/// The first `;` of `sql` outside single, double and back quotes.
fn top_level_semicolon(sql: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in sql.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if matches!(c, '\'' | '"' | '`') => quote = Some(c),
            None if c == ';' => return Some(i),
            None => {}
        }
    }
    None
}
