//! The lexical pass: the text as the server will read it, before the parser sees it.
//!
//! sqlparser and the server must agree on where code, strings and comments are; where they
//! would not, this pass decides first:
//!
//! - **Executable comments** (`/*! … */`, `/*!50000 … */`, `/*M! … */`, `/*M!100000 … */`) are
//!   comments to sqlparser but code to MySQL and MariaDB. They are refused in every dialect: no
//!   analyst query needs one, and an unknown engine may run them.
//! - **Nested comments** (`/* /* */ … */`) end at the first `*/` on some engines and at the
//!   matching one on others. Refused except where the parser and the engine both nest
//!   (PostgreSQL, Redshift, DataFusion).
//! - **Unicode-escaped identifiers** (`U&"\0070g_sleep"`, `U&"!0070g_sleep" UESCAPE '!'`) are
//!   decoded in place on PostgreSQL and Redshift, so the checks see (and the engine runs) the
//!   plain name `"pg_sleep"`: what is checked is what runs. On a generic connection, whose engine
//!   may read `U&"x"` as `U & "x"`, they are refused.
//! - **Comment and string forms read differently** by sqlparser and the server are refused:
//!   `--` without an ASCII space after it (MySQL, generic), `E'…'` where the tokenizer has no
//!   escape strings (DuckDB), backslashes in BigQuery's backticked names.
//! - **Syntax the parser lacks** gets a shim in the copy that is parsed and checked, never in
//!   the text that runs: PostgreSQL's `TABLE t` (read as `SELECT * FROM t`) and `ROWS FROM (…)`
//!   (read as a table function over the same calls), MySQL's `GROUP BY … WITH ROLLUP` (checked
//!   without the modifier) and SQLite's `GLOB` operator (checked as `LIKE`). A shimmed statement
//!   is never printed back from its parse: the row cap is appended or wrapped around the
//!   original text.
//! - **SQLite's read-only PRAGMAs** that describe a table (`PRAGMA table_info(t)` and its
//!   siblings) are recognised here; every other PRAGMA stays refused.

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Whitespace};

use super::dialect_of;
use crate::connector::Dialect;

/// The outcome of the lexical pass.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Lexed {
    /// The text to run: as given, with Unicode-escaped identifiers decoded.
    pub run: String,
    /// The text to parse and check: `run`, with the shims applied.
    pub check: String,
    /// Whether `check` differs from `run` (then the parse must not be printed back to run).
    pub shimmed: bool,
    /// A read-only SQLite PRAGMA and the table it describes.
    pub pragma: Option<String>,
}

/// SQLite PRAGMAs that only describe a table (or list tables) and take a name, not a value.
const SQLITE_READ_PRAGMAS: &[&str] = &[
    "table_info",
    "table_xinfo",
    "table_list",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
];

/// Runs the pass over `sql` (already cleaned). `Err` carries a refusal reason. Text that does
/// not tokenize is passed through unchanged: the parser reports the error.
pub(super) fn lex(sql: &str, dialect: Dialect) -> Result<Lexed, String> {
    let parser_dialect = dialect_of(dialect);
    let Ok(tokens) = Tokenizer::new(parser_dialect.as_ref(), sql).tokenize_with_location() else {
        return Ok(Lexed {
            run: sql.to_string(),
            check: sql.to_string(),
            shimmed: false,
            pragma: None,
        });
    };
    let text = Text::new(sql, &tokens);
    refuse_ambiguous_comments(sql, &tokens, dialect)?;

    let mut run_edits: Vec<Edit> = Vec::new();
    if matches!(
        dialect,
        Dialect::Postgres | Dialect::Redshift | Dialect::Generic
    ) {
        run_edits = unicode_identifiers(sql, &tokens, &text)?;
        // An unknown engine may read `U&"x"` as `U & "x"`: decoding would change the query.
        if dialect == Dialect::Generic && !run_edits.is_empty() {
            return Err(
                "Unicode-escaped identifiers (`U&\"…\"`) are not allowed on this \
                        connection; write the name plainly"
                    .into(),
            );
        }
    }
    let run = apply(sql, &run_edits);

    let pragma = if dialect == Dialect::Sqlite {
        read_only_pragma(&tokens)
    } else {
        None
    };

    // Shims work on the run text's own tokens (offsets differ once identifiers are decoded).
    let (check, shimmed) = if run_edits.is_empty() {
        let edits = shims(sql, &tokens, &text, dialect);
        (apply(sql, &edits), !edits.is_empty())
    } else {
        match Tokenizer::new(parser_dialect.as_ref(), &run).tokenize_with_location() {
            Ok(tokens) => {
                let text = Text::new(&run, &tokens);
                let edits = shims(sql, &tokens, &text, dialect);
                (apply(&run, &edits), !edits.is_empty())
            }
            Err(_) => (run.clone(), false),
        }
    };
    Ok(Lexed {
        run,
        check,
        shimmed,
        pragma,
    })
}

/// A replacement of the byte range `start..end` by `with`.
#[derive(Debug)]
struct Edit {
    start: usize,
    end: usize,
    with: String,
}

fn apply(sql: &str, edits: &[Edit]) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut at = 0;
    for e in edits {
        out.push_str(&sql[at..e.start]);
        out.push_str(&e.with);
        at = e.end;
    }
    out.push_str(&sql[at..]);
    out
}

/// Byte offsets of tokens: each token runs from its start to the next token's start (comments
/// and whitespace are tokens too, so they tile the text).
struct Text {
    starts: Vec<usize>,
    len: usize,
}

impl Text {
    fn new(sql: &str, tokens: &[TokenWithSpan]) -> Self {
        // One walk over the text: token starts come in order (line, then column in chars).
        let mut starts = Vec::with_capacity(tokens.len());
        let mut chars = sql.char_indices().peekable();
        let (mut line, mut col) = (1u64, 1u64);
        for t in tokens {
            let target = (t.span.start.line, t.span.start.column);
            while (line, col) < target {
                match chars.next() {
                    Some((_, '\n')) => {
                        line += 1;
                        col = 1;
                    }
                    Some(_) => col += 1,
                    None => break,
                }
            }
            let at = if (line, col) == target {
                chars.peek().map_or(sql.len(), |(i, _)| *i)
            } else {
                // Out of order or past the end: positions are not to be trusted here.
                sql.len()
            };
            starts.push(at);
        }
        Self {
            starts,
            len: sql.len(),
        }
    }

    fn start(&self, i: usize) -> usize {
        self.starts.get(i).copied().unwrap_or(self.len)
    }

    fn end(&self, i: usize) -> usize {
        self.start(i + 1)
    }
}

fn refuse_ambiguous_comments(
    sql: &str,
    tokens: &[TokenWithSpan],
    dialect: Dialect,
) -> Result<(), String> {
    // Executable comments are looked for in the raw text, strings included: some sqlparser
    // dialects unwrap `/*! … */` into code themselves (and lose token positions doing so), and a
    // string cannot hide one from a reader that disagrees about where the string ends.
    if let Some(at) = executable_comment(sql) {
        return Err(format!(
            "executable comments (`/*!…*/`, `/*M!…*/`) are not allowed: MySQL and MariaDB run \
             their content as SQL. Remove `{}`",
            shorten(&sql[at..])
        ));
    }
    let nesting_agrees = matches!(
        dialect,
        Dialect::Postgres | Dialect::Redshift | Dialect::DataFusion
    );
    for t in tokens {
        match &t.token {
            Token::Whitespace(Whitespace::MultiLineComment(body))
                if !nesting_agrees && body.contains("/*") =>
            {
                return Err(
                    "nested comments (`/* … /* … */ … */`) are read differently by \
                            different engines and are not allowed. Remove the comments"
                        .into(),
                );
            }
            // MySQL and MariaDB end `--` comments only with an ASCII space or control character
            // after the dashes; sqlparser also takes `--x` (generic dialect) or `--` and a
            // NO-BREAK SPACE (both) as a comment, which the server runs as code.
            Token::Whitespace(Whitespace::SingleLineComment { comment, prefix })
                if matches!(dialect, Dialect::MySql | Dialect::Generic)
                    && prefix == "--"
                    && !comment.is_empty()
                    && !comment
                        .starts_with(|c: char| c.is_ascii_whitespace() || c.is_ascii_control()) =>
            {
                return Err(
                    "a `--` comment must be followed by a space; remove the comment".into(),
                );
            }
            _ => {}
        }
    }
    for pair in tokens.windows(2) {
        // `E'…'` where the dialect's tokenizer does not read escape strings: the engine reads
        // one literal with backslash escapes, the parser a name and a plain string.
        if let (Token::Word(w), Token::SingleQuotedString(_)) = (&pair[0].token, &pair[1].token)
            && w.quote_style.is_none()
            && w.value.eq_ignore_ascii_case("e")
        {
            return Err(
                "escape strings (`E'…'`) are not allowed here; write a plain string".into(),
            );
        }
    }
    if dialect == Dialect::BigQuery {
        // BigQuery reads backslash escapes inside backticked names; sqlparser does not.
        for t in tokens {
            if let Token::Word(w) = &t.token
                && w.quote_style == Some('`')
                && w.value.contains('\\')
            {
                return Err(format!(
                    "backslashes in quoted names (`{}`) are not allowed; write the name plainly",
                    w.value
                ));
            }
        }
    }
    Ok(())
}

/// Where `code` opens an executable comment (`/*!`, `/*M!`, `/*m!`), if it does.
fn executable_comment(code: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = code[from..].find("/*") {
        let at = from + at;
        let rest = &code.as_bytes()[at + 2..];
        if rest.first() == Some(&b'!')
            || (matches!(rest.first(), Some(b'M' | b'm')) && rest.get(1) == Some(&b'!'))
        {
            return Some(at);
        }
        from = at + 2;
    }
    None
}

fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// Whether `t` is a word with keyword `k`, written without quotes.
fn is_kw(t: Option<&TokenWithSpan>, k: Keyword) -> bool {
    matches!(t, Some(TokenWithSpan { token: Token::Word(w), .. }) if w.keyword == k && w.quote_style.is_none())
}

/// Whether `t` is the unquoted word `word` (any case), keyword or not.
fn is_word(t: Option<&TokenWithSpan>, word: &str) -> bool {
    matches!(t, Some(TokenWithSpan { token: Token::Word(w), .. }) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

fn is_ws(t: &TokenWithSpan) -> bool {
    matches!(t.token, Token::Whitespace(_))
}

/// The index of the next token at or after `i` that is not whitespace or a comment.
fn skip_ws(tokens: &[TokenWithSpan], mut i: usize) -> usize {
    while tokens.get(i).is_some_and(is_ws) {
        i += 1;
    }
    i
}

/// PostgreSQL `U&"…"` identifiers, decoded into plain double-quoted ones.
fn unicode_identifiers(
    sql: &str,
    tokens: &[TokenWithSpan],
    text: &Text,
) -> Result<Vec<Edit>, String> {
    let mut edits = Vec::new();
    let mut i = 0;
    while i + 2 < tokens.len() {
        let (Token::Word(u), Token::Ampersand, Token::Word(ident)) =
            (&tokens[i].token, &tokens[i + 1].token, &tokens[i + 2].token)
        else {
            i += 1;
            continue;
        };
        if !(u.quote_style.is_none() && u.value.eq_ignore_ascii_case("u"))
            || ident.quote_style != Some('"')
        {
            i += 1;
            continue;
        }
        // An optional `UESCAPE 'c'` after the identifier.
        let mut end = i + 2;
        let mut escape = '\\';
        let j = skip_ws(tokens, i + 3);
        if is_kw(tokens.get(j), Keyword::UESCAPE) {
            let k = skip_ws(tokens, j + 1);
            let Some(Token::SingleQuotedString(s)) = tokens.get(k).map(|t| &t.token) else {
                return Err("UESCAPE must be followed by a one-character string".into());
            };
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None)
                    if !c.is_ascii_hexdigit()
                        && !matches!(c, '+' | '\'' | '"')
                        && !c.is_whitespace() =>
                {
                    escape = c;
                }
                _ => return Err(format!("`UESCAPE '{s}'` is not a valid escape character")),
            }
            end = k;
        }
        if !sql
            .get(text.start(i)..text.start(i) + 2)
            .is_some_and(|p| p.eq_ignore_ascii_case("u&"))
        {
            return Err("the SQL could not be read reliably; write identifiers plainly".into());
        }
        let decoded = decode_unicode_escapes(&ident.value, escape).ok_or_else(|| {
            format!(
                "the Unicode-escaped identifier U&\"{}\" is malformed; write the name plainly",
                ident.value
            )
        })?;
        edits.push(Edit {
            start: text.start(i),
            end: text.end(end),
            with: format!("\"{}\"", decoded.replace('"', "\"\"")),
        });
        i = end + 1;
    }
    Ok(edits)
}

/// Decodes PostgreSQL's `\XXXX`, `\+XXXXXX` and `\\` escapes (with `escape` for `\`).
fn decode_unicode_escapes(value: &str, escape: char) -> Option<String> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c != escape {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&escape) {
            chars.next();
            out.push(escape);
            continue;
        }
        let digits = if chars.peek() == Some(&'+') {
            chars.next();
            6
        } else {
            4
        };
        let hex: String = chars.by_ref().take(digits).collect();
        if hex.len() != digits || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
            return None;
        }
        let code = u32::from_str_radix(&hex, 16).ok()?;
        let ch = char::from_u32(code)?;
        if ch == '\0' {
            return None;
        }
        out.push(ch);
    }
    Some(out)
}

/// The dialect's shims for syntax sqlparser does not read (see the module docs).
fn shims(sql: &str, tokens: &[TokenWithSpan], text: &Text, dialect: Dialect) -> Vec<Edit> {
    let mut edits = Vec::new();
    let blank = |edits: &mut Vec<Edit>, i: usize, with: &str| {
        edits.push(Edit {
            start: text.start(i),
            end: text.end(i),
            with: with.to_string(),
        });
    };
    match dialect {
        Dialect::Postgres | Dialect::Redshift => {
            let first = skip_ws(tokens, 0);
            if is_kw(tokens.get(first), Keyword::TABLE) {
                blank(&mut edits, first, "SELECT * FROM");
            }
            for i in 0..tokens.len() {
                // `ROWS FROM (` → `mc_rows_from (`: a table function over the same calls.
                if is_kw(tokens.get(i), Keyword::ROWS) {
                    let j = skip_ws(tokens, i + 1);
                    let k = skip_ws(tokens, j + 1);
                    if is_kw(tokens.get(j), Keyword::FROM)
                        && matches!(tokens.get(k).map(|t| &t.token), Some(Token::LParen))
                    {
                        edits.push(Edit {
                            start: text.start(i),
                            end: text.end(j),
                            with: "mc_rows_from".into(),
                        });
                    }
                }
            }
        }
        Dialect::MySql => {
            for i in 0..tokens.len() {
                // `a MOD b` → `a % b` (`MOD(a, b)`, a call, parses as it is).
                if is_word(tokens.get(i), "mod") {
                    let j = skip_ws(tokens, i + 1);
                    if !matches!(tokens.get(j).map(|t| &t.token), Some(Token::LParen)) {
                        blank(&mut edits, i, "%");
                    }
                }
                if is_kw(tokens.get(i), Keyword::WITH) {
                    let j = skip_ws(tokens, i + 1);
                    if is_kw(tokens.get(j), Keyword::ROLLUP) {
                        edits.push(Edit {
                            start: text.start(i),
                            end: text.end(j),
                            with: " ".into(),
                        });
                    }
                }
            }
        }
        Dialect::Sqlite => {
            for i in 0..tokens.len() {
                if is_word(tokens.get(i), "glob") {
                    let j = skip_ws(tokens, i + 1);
                    // `glob(pattern, text)` is a function call, which parses as it is.
                    if !matches!(tokens.get(j).map(|t| &t.token), Some(Token::LParen)) {
                        blank(&mut edits, i, "LIKE");
                    }
                }
            }
        }
        _ => {}
    }
    // Token positions are trusted only where the text there is the token's own word: a shim
    // that would land elsewhere is dropped (the parser then refuses what it cannot read).
    edits.retain(|e| {
        let word: String = tokens
            .iter()
            .zip(&text.starts)
            .find(|(_, s)| **s == e.start)
            .and_then(|(t, _)| match &t.token {
                Token::Word(w) => Some(w.value.clone()),
                _ => None,
            })
            .unwrap_or_default();
        !word.is_empty()
            && sql
                .get(e.start..e.start + word.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(&word))
    });
    edits.sort_by_key(|e| e.start);
    edits
}

/// `PRAGMA [schema.]name(table)` / `PRAGMA name('table')` / `PRAGMA table_list` for the
/// read-only PRAGMAs; the described table's name (empty for `table_list`).
fn read_only_pragma(tokens: &[TokenWithSpan]) -> Option<String> {
    let words: Vec<&Token> = tokens
        .iter()
        .filter(|t| !is_ws(t))
        .map(|t| &t.token)
        .collect();
    let Some(Token::Word(first)) = words.first() else {
        return None;
    };
    if first.keyword != Keyword::PRAGMA || first.quote_style.is_some() {
        return None;
    }
    // Optional `schema .` before the pragma's name.
    let rest: &[&Token] = match &words[1..] {
        [Token::Word(_), Token::Period, tail @ ..] => tail,
        tail => tail,
    };
    let (name, arg) = match rest {
        [Token::Word(name)] => (name, None),
        [Token::Word(name), Token::LParen, arg, Token::RParen] => (name, Some(*arg)),
        _ => return None,
    };
    if name.quote_style.is_some()
        || !SQLITE_READ_PRAGMAS.contains(&name.value.to_ascii_lowercase().as_str())
    {
        return None;
    }
    match arg {
        None if name.value.eq_ignore_ascii_case("table_list") => Some(String::new()),
        None => None,
        Some(Token::Word(w)) => Some(w.value.clone()),
        Some(Token::SingleQuotedString(s) | Token::DoubleQuotedString(s)) => Some(s.clone()),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn unicode_identifiers_are_decoded_in_the_text_that_runs() {
        let l = lex(r#"SELECT U&"\0070g_sleep"(1)"#, Dialect::Postgres).unwrap();
        assert_eq!(l.run, r#"SELECT "pg_sleep"(1)"#);
        let l = lex(
            r#"SELECT u&"!0070g_s!+00006Cee!!p" UESCAPE '!' (1)"#,
            Dialect::Postgres,
        )
        .unwrap();
        assert_eq!(l.run, r#"SELECT "pg_slee!p" (1)"#);
        assert!(lex(r#"SELECT U&"\00zz""#, Dialect::Postgres).is_err());
        // Elsewhere `U & "x"` is a bitwise AND and stays as written.
        let l = lex(r#"SELECT U&"x" FROM t"#, Dialect::MySql).unwrap();
        assert_eq!(l.run, r#"SELECT U&"x" FROM t"#);
    }

    #[test]
    fn executable_and_nested_comments_are_refused() {
        for sql in [
            "SELECT 1 /*! INTO OUTFILE '/tmp/x' */",
            "SELECT 1 /*!50000 , LOAD_FILE('/etc/passwd') */",
            "SELECT 1 /*M!100000 INTO DUMPFILE '/tmp/x' */",
            "SELECT 1 /*m! , sleep(5) */",
        ] {
            assert!(lex(sql, Dialect::Postgres).is_err(), "{sql}");
            assert!(lex(sql, Dialect::MySql).is_err(), "{sql}");
        }
        assert!(lex("SELECT 1 /* /* */ , 2 */", Dialect::MySql).is_err());
        assert!(lex("SELECT 1 /* /* */ , 2 */", Dialect::Postgres).is_ok());
        assert!(lex("SELECT 1 /* a comment */", Dialect::MySql).is_ok());
        assert!(lex("SELECT 1 --x\n", Dialect::Generic).is_err());
        assert!(lex("SELECT 1 -- x\n", Dialect::Generic).is_ok());
    }

    #[test]
    fn shims_change_only_the_checked_copy() {
        let l = lex("TABLE orders", Dialect::Postgres).unwrap();
        assert_eq!(
            (l.run.as_str(), l.check.as_str()),
            ("TABLE orders", "SELECT * FROM orders")
        );
        assert!(l.shimmed);
        let l = lex("SELECT a FROM t GROUP BY a WITH ROLLUP", Dialect::MySql).unwrap();
        assert_eq!(l.check, "SELECT a FROM t GROUP BY a  ");
        let l = lex("SELECT * FROM t WHERE a NOT GLOB 'x*'", Dialect::Sqlite).unwrap();
        assert_eq!(l.check, "SELECT * FROM t WHERE a NOT LIKE 'x*'");
        let l = lex(
            "SELECT * FROM ROWS FROM (f(1), g(2)) AS x(a, b)",
            Dialect::Postgres,
        )
        .unwrap();
        assert_eq!(
            l.check,
            "SELECT * FROM mc_rows_from (f(1), g(2)) AS x(a, b)"
        );
        let l = lex("SELECT 'WITH ROLLUP'", Dialect::MySql).unwrap();
        assert!(!l.shimmed);
    }

    #[test]
    fn positions_hold_on_a_long_single_line() {
        let sql = format!(
            "SELECT {} FROM t",
            (0..20_000)
                .map(|i| format!("c{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let l = lex(&sql, Dialect::Postgres).unwrap();
        assert_eq!(l.run, sql);
        let l = lex(&format!("{sql} WHERE x = U&\"\\0061\""), Dialect::Postgres).unwrap();
        assert!(
            l.run.ends_with("WHERE x = \"a\""),
            "{}",
            &l.run[l.run.len() - 30..]
        );
    }

    #[test]
    fn read_only_pragmas_name_their_table() {
        let p = |s: &str| lex(s, Dialect::Sqlite).unwrap().pragma;
        assert_eq!(p("PRAGMA table_info(orders)"), Some("orders".into()));
        assert_eq!(
            p("PRAGMA main.table_xinfo('orders')"),
            Some("orders".into())
        );
        assert_eq!(p("PRAGMA table_list"), Some(String::new()));
        assert_eq!(p("PRAGMA journal_mode = delete"), None);
        assert_eq!(p("PRAGMA writable_schema(1)"), None);
        assert_eq!(p("PRAGMA table_info"), None);
    }
}
