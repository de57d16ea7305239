//! Grounding check: numbers in a final answer must come from the results (or the question).
//!
//! Small models misquote figures ("586,655" for 58,665). Before a model-written answer is
//! accepted, its numbers are compared with every value of this run's results; a number found
//! nowhere earns the model one request to rewrite the answer.

use serde_json::Value;

use crate::data::batches_to_json_rows;
use crate::run::Dataset;

/// Numbers written in `text`: `58,665`, `20.22`, `-3.5`, `12%` (as 12).
pub(crate) fn numbers_in(text: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i].is_ascii_digit()
            && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_'));
        if !starts {
            i += 1;
            continue;
        }
        let begin = i;
        while i < chars.len()
            && (chars[i].is_ascii_digit()
                || ((chars[i] == ',' || chars[i] == '.')
                    && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
        {
            i += 1;
        }
        // Identifiers like `F9` or `9E` are not figures.
        if i < chars.len() && chars[i].is_alphabetic() {
            continue;
        }
        let raw: String = chars[begin..i].iter().collect();
        let negative = begin > 0 && chars[begin - 1] == '-';
        if let Ok(v) = raw.replace(',', "").parse::<f64>() {
            out.push((raw, if negative { -v } else { v }));
        }
    }
    out
}

fn collect_values(v: &Value, out: &mut Vec<f64>) {
    match v {
        Value::Number(n) => out.extend(n.as_f64()),
        // Numbers inside text values count too: dates (`2021-01-01`), model codes
        // (`737-824`), versions — an answer may quote them.
        Value::String(s) => {
            out.extend(s.trim().parse::<f64>().ok());
            out.extend(numbers_in(s).into_iter().map(|(_, v)| v));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_values(x, out)),
        Value::Object(o) => o.values().for_each(|x| collect_values(x, out)),
        _ => {}
    }
}

/// Whether `quoted` is `value` as a person would write it: equal within 0.5%, or equal after
/// rounding `value` to 0–4 decimals.
fn matches(quoted: f64, value: f64) -> bool {
    if (quoted - value).abs() <= value.abs() * 0.005 {
        return true;
    }
    (0..=4).any(|d| {
        let f = 10f64.powi(d);
        ((value * f).round() / f - quoted).abs() < 1e-9
            || ((value * f).trunc() / f - quoted).abs() < 1e-9
    })
}

/// The numbers of `answer` that appear neither in the question nor in any result (first 200
/// rows of each). Small integers (≤ 31: days, months, ranks, counts of rows) are not checked.
pub(crate) fn stray_numbers(answer: &str, question: &str, results: &[Dataset]) -> Vec<String> {
    stray_numbers_seen(answer, question, results, &|_| true)
}

/// [`stray_numbers`] against what the model could see: the row count of every result, the
/// values only of those `shown` (a data exposure withholds the others; comparing with them
/// would tell the model whether a guess was right).
pub(crate) fn stray_numbers_seen(
    answer: &str,
    question: &str,
    results: &[Dataset],
    shown: &dyn Fn(&Dataset) -> bool,
) -> Vec<String> {
    if results.is_empty() {
        return Vec::new();
    }
    let mut known: Vec<f64> = numbers_in(question).into_iter().map(|(_, v)| v).collect();
    for q in results {
        known.push(q.data.num_rows() as f64);
        if !shown(q) {
            continue;
        }
        if let Ok(rows) = batches_to_json_rows(&q.data.batches, 200) {
            for r in &rows {
                collect_values(r, &mut known);
            }
        }
    }
    numbers_in(answer)
        .into_iter()
        .filter(|(_, v)| v.abs() > 31.0)
        .filter(|(_, v)| !known.iter().any(|k| matches(*v, *k)))
        .map(|(raw, _)| raw)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_as_written() {
        let n: Vec<f64> = numbers_in("F9 had 20.22 min over 58,665 flights in 2013 (-3.5, 12%).")
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        assert_eq!(n, vec![20.22, 58665.0, 2013.0, -3.5, 12.0]);
        assert!(numbers_in("carriers 9E and B6").is_empty());
    }

    #[test]
    fn quoted_values_match_rounded_results() {
        assert!(matches(20.22, 20.215_542_521_994_134));
        assert!(matches(20.2, 20.215_542_521_994_134));
        assert!(matches(58_665.0, 58_665.0));
        assert!(!matches(586_655.0, 58_665.0));
        assert!(matches(16.71, 16.711_306_683_631_992));
    }

    #[test]
    fn numbers_inside_text_values_are_known() {
        let mut known = Vec::new();
        collect_values(
            &serde_json::json!({"model": "737-824", "first": "2021-01-01"}),
            &mut known,
        );
        for (_, v) in numbers_in("The 737-824 flew first on 2021-01-01.") {
            assert!(
                known.iter().any(|k| matches(v, *k)),
                "{v} unknown in {known:?}"
            );
        }
    }
}
