//! Text helpers shared across the crate (a leaf module: it imports nothing from the crate).

/// Splits identifiers and text into lowercase words (snake_case, camelCase, digits).
///
/// Public as [`crate::context::words`].
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in text.chars() {
        if ch.is_alphanumeric() {
            if ch.is_uppercase() && prev_lower && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = ch.is_lowercase() || ch.is_ascii_digit();
            cur.extend(ch.to_lowercase());
        } else {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `text` on one line (runs of whitespace become one space), cut to `max_chars` characters
/// with `…` when longer.
pub(crate) fn one_line(text: &str, max_chars: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max_chars {
        flat
    } else {
        format!("{}…", flat.chars().take(max_chars).collect::<String>())
    }
}

/// `s` cut to `max_chars` characters, with `…` when cut.
pub(crate) fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The outermost query of `sql`, upper-cased, for keyword checks: quoted text becomes ` X `,
/// `--` comments are dropped, and what stands inside parentheses is left out (the parentheses
/// stay, as ` ( ` and ` ) `), so `ORDER BY` in a subquery or a string is not seen.
pub(crate) fn outermost_query(sql: &str) -> String {
    let mut depth = 0i32;
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' | '`' => {
                for d in chars.by_ref() {
                    if d == c {
                        break;
                    }
                }
                if depth == 0 {
                    out.push_str(" X ");
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
                out.push(' ');
            }
            '(' => {
                if depth == 0 {
                    out.push_str(" ( ");
                }
                depth += 1;
            }
            ')' => {
                depth -= 1;
                if depth == 0 {
                    out.push_str(" ) ");
                }
            }
            _ if depth == 0 => out.push(c.to_ascii_uppercase()),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outermost_query_leaves_out_subqueries_strings_and_comments() {
        assert_eq!(
            outermost_query(
                "select a from (select b from t order by b) s -- order by\nwhere x = 'order by'"
            )
            .split_whitespace()
            .collect::<Vec<_>>(),
            ["SELECT", "A", "FROM", "(", ")", "S", "WHERE", "X", "=", "X"]
        );
    }

    #[test]
    fn words_split_identifiers() {
        assert_eq!(words("depDelay_minutes2"), vec!["dep", "delay", "minutes2"]);
        assert_eq!(words("Which carrier?"), vec!["which", "carrier"]);
        assert_eq!(words("HTTPServer v2"), vec!["httpserver", "v2"]);
        assert_eq!(words("naïve_Ünïcode"), vec!["naïve", "ünïcode"]);
        assert!(words("").is_empty());
    }

    #[test]
    fn truncate_counts_characters() {
        assert_eq!(truncate("abcdef", 3), "abc…");
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("ééé", 2), "éé…");
    }
}
