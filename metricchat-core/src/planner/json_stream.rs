//! Incremental parsing of a JSON decision while the model is still writing it.
//!
//! Models write the decision as one JSON object, sometimes inside a Markdown code fence and
//! sometimes with prose around it. [`parse_partial`] turns any prefix of such output into the
//! JSON value it is becoming (open strings closed, open containers closed, dangling keys
//! dropped), so the reasoning can be streamed to the user token by token. [`parse_complete`]
//! extracts the first complete object from the final text.

use serde_json::Value;

/// Where the JSON object starts in `text` (after any fence or prose), if anywhere.
pub fn json_start(text: &str) -> Option<usize> {
    let search_from = match text.find("```") {
        Some(fence) => fence + 3,
        None => 0,
    };
    text[search_from..]
        .find('{')
        .map(|i| i + search_from)
        .or_else(|| text.find('{'))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Frame {
    Object,
    Array,
}

struct Scan {
    stack: Vec<Frame>,
    in_string: bool,
    escape: bool,
    /// Byte offsets where the text may be cut and closed: before a `,`, after `{`/`[`.
    cuts: Vec<(usize, Vec<Frame>)>,
    /// Byte offset just past the first complete top-level value.
    end: Option<usize>,
}

fn scan(s: &str) -> Scan {
    let mut st = Scan {
        stack: Vec::new(),
        in_string: false,
        escape: false,
        cuts: Vec::new(),
        end: None,
    };
    for (i, ch) in s.char_indices() {
        if st.in_string {
            if st.escape {
                st.escape = false;
            } else if ch == '\\' {
                st.escape = true;
            } else if ch == '"' {
                st.in_string = false;
            }
            continue;
        }
        match ch {
            '"' => st.in_string = true,
            '{' | '[' => {
                st.stack.push(if ch == '{' {
                    Frame::Object
                } else {
                    Frame::Array
                });
                st.cuts.push((i + 1, st.stack.clone()));
            }
            '}' | ']' => {
                st.stack.pop();
                if st.stack.is_empty() {
                    st.end = Some(i + 1);
                    return st;
                }
            }
            ',' => st.cuts.push((i, st.stack.clone())),
            _ => {}
        }
    }
    st
}

fn close(mut text: String, stack: &[Frame]) -> String {
    for f in stack.iter().rev() {
        text.push(if *f == Frame::Object { '}' } else { ']' });
    }
    text
}

/// Parses the JSON object that `text` (a prefix of model output) is becoming.
///
/// Returns `None` until an object has started.
///
/// ```
/// use metricchat_core::planner::json_stream::parse_partial;
/// let v = parse_partial("```json\n{\"reasoning\": \"Group flights by car").unwrap();
/// assert_eq!(v["reasoning"], "Group flights by car");
/// ```
pub fn parse_partial(text: &str) -> Option<Value> {
    let start = json_start(text)?;
    let s = &text[start..];
    let st = scan(s);
    if let Some(end) = st.end {
        return serde_json::from_str(&s[..end]).ok();
    }
    // First try: close the open string and containers as they are.
    let mut direct = s.trim_end().to_string();
    if st.in_string {
        if st.escape {
            direct.pop();
        }
        direct.push('"');
    }
    let trimmed = direct
        .trim_end_matches([',', ' ', '\n', '\r', '\t'])
        .to_string();
    for candidate in [
        trimmed.clone(),
        format!("{trimmed}null"),
        format!("{trimmed}:null"),
    ] {
        if let Ok(v) = serde_json::from_str::<Value>(&close(candidate, &st.stack)) {
            return Some(v);
        }
    }
    // Otherwise cut back to the last safe point and close there.
    for (pos, stack) in st.cuts.iter().rev() {
        let candidate = close(s[..*pos].to_string(), stack);
        if let Ok(v) = serde_json::from_str::<Value>(&candidate) {
            return Some(v);
        }
    }
    None
}

/// Extracts and parses the first complete JSON object in `text`.
///
/// Tolerates code fences, prose around the object, and a missing final brace or two.
pub fn parse_complete(text: &str) -> Result<Value, String> {
    let Some(start) = json_start(text) else {
        return Err("the reply contains no JSON object".into());
    };
    let s = &text[start..];
    let st = scan(s);
    match st.end {
        Some(end) => serde_json::from_str(&s[..end]).map_err(|e| format!("invalid JSON: {e}")),
        None => {
            // A reply cut short of its closing braces is common with small models.
            if st.in_string {
                return Err("the JSON object is incomplete (an unterminated string)".into());
            }
            let closed = close(s.trim_end().to_string(), &st.stack);
            serde_json::from_str(&closed).map_err(|e| format!("the JSON object is incomplete: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_prefixes_parse_as_they_grow() {
        let full = r#"```json
{"reasoning": "Average \"dep_delay\" by carrier", "action": {"tool": "create_data", "arguments": {"title": "Delay", "sql": "SELECT 1"}}}
```"#;
        let mut last_reasoning_len = 0;
        let mut seen_tool = false;
        for end in 1..=full.len() {
            if !full.is_char_boundary(end) {
                continue;
            }
            if let Some(v) = parse_partial(&full[..end]) {
                assert!(v.is_object(), "prefix {end} gave {v}");
                if let Some(r) = v.get("reasoning").and_then(Value::as_str) {
                    assert!(r.len() >= last_reasoning_len, "reasoning shrank at {end}");
                    last_reasoning_len = r.len();
                }
                if v.pointer("/action/tool").and_then(Value::as_str) == Some("create_data") {
                    seen_tool = true;
                }
            }
        }
        assert_eq!(last_reasoning_len, "Average \"dep_delay\" by carrier".len());
        assert!(seen_tool);
        let v = parse_complete(full).unwrap_or_default();
        assert_eq!(v["action"]["arguments"]["sql"], "SELECT 1");
    }

    #[test]
    fn complete_handles_prose_and_missing_braces() {
        let v = parse_complete("Sure! {\"a\": {\"b\": [1, 2]}} hope that helps {\"c\":1}")
            .unwrap_or_default();
        assert_eq!(v["a"]["b"][1], 2);
        let v = parse_complete("{\"a\": {\"b\": 1}").unwrap_or_default();
        assert_eq!(v["a"]["b"], 1);
        assert!(parse_complete("no json here").is_err());
        assert!(parse_complete("{\"a\": \"unterminated").is_err());
        assert!(parse_complete("{\"a\": tru}").is_err());
    }

    #[test]
    fn dangling_keys_and_literals_are_dropped() {
        let v = parse_partial("{\"a\": 1, \"b\"").unwrap_or_default();
        assert_eq!(v["a"], 1);
        let v = parse_partial("{\"a\": 1, \"b\": tr").unwrap_or_default();
        assert_eq!(v["a"], 1);
        let v = parse_partial("{\"a\": [1, 2").unwrap_or_default();
        assert_eq!(v["a"][1], 2);
        let v = parse_partial("{\"a\": \"x\\").unwrap_or_default();
        assert_eq!(v["a"], "x");
        assert!(parse_partial("thinking...").is_none());
    }
}
