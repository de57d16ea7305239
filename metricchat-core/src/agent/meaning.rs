//! Meaning checks: before an answer is accepted, does the result mean what the question asks?
//!
//! Small models write SQL that runs and is wrong: a superlative sorted the wrong way, a code
//! where a name was asked, NULL as the "top" value, a filter on a value spelled differently in
//! the data, an integer division. Each check here compares
//! the question's words with the final dataset (its SQL and rows) and, when they disagree, says
//! what to fix; the agent sends that back to the model once per kind of problem. The checks
//! read only the question, the SQL and the result, never a particular schema, so they hold for
//! any database.

use std::collections::BTreeSet;

use arrow::array::Array;
use arrow::datatypes::DataType;

use crate::run::Dataset;

/// Kinds of problems; each is raised at most once per run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Problem {
    /// Figures in the answer with no query behind them.
    NoData,
    /// The final query returned no rows.
    Empty,
    /// The top row ranks a NULL.
    NullTop,
    /// ASC for "most/highest/worst …", DESC for "least/lowest/best …".
    Direction,
    /// A division of integers that came out 0.
    IntegerDivision,
    /// The question asks for an average and the query computes none.
    NoAverage,
    /// Codes where the question asks for names.
    CodesNotNames,
    /// A clarifying question although a result already answers.
    ClarifyAfterData,
}

/// What the question asks for, read from its words.
#[derive(Debug, Default)]
struct Wants {
    /// `Some(true)`: the largest first; `Some(false)`: the smallest first.
    descending: Option<bool>,
    /// One thing ("which airline …", "who …").
    one: bool,
    /// A name rather than a code.
    name: bool,
    /// The question itself asks for codes.
    codes_ok: bool,
    /// "oldest / earliest" (`Some(false)`) or "newest / latest / youngest / most recent"
    /// (`Some(true)`): which way a date or an age sorts depends on the column.
    recent: Option<bool>,
    /// The question asks for an average.
    average: bool,
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

const MORE: &[&str] = &[
    "most",
    "highest",
    "largest",
    "biggest",
    "longest",
    "maximum",
    "max",
    "busiest",
    "greatest",
    "top",
    "heaviest",
    "farthest",
    "furthest",
    "costliest",
    "priciest",
];
const LESS: &[&str] = &[
    "least", "lowest", "smallest", "shortest", "minimum", "min", "fewest", "bottom", "lightest",
    "closest", "nearest", "cheapest",
];
// Not here: oldest/newest, earliest/latest, fastest/slowest — which way they sort depends on
// whether the column is a date, an age, a speed or a duration.

/// Measures where a bigger value is worse: "worst" ranks them descending, "best" ascending.
const BAD_WHEN_BIG: &[&str] = &[
    "delay",
    "delays",
    "delayed",
    "late",
    "lateness",
    "cancellation",
    "cancellations",
    "cancelled",
    "canceled",
    "error",
    "errors",
    "complaints",
    "churn",
    "cost",
    "costs",
];

fn wants(question: &str) -> Wants {
    let w = words(question);
    let has = |list: &[&str]| w.iter().any(|x| list.contains(&x.as_str()));
    let mut out = Wants::default();
    let (more, less) = (has(MORE), has(LESS));
    if more != less {
        out.descending = Some(more);
    }
    if out.descending.is_none() && has(BAD_WHEN_BIG) {
        let (worst, best) = (has(&["worst", "poorest"]), has(&["best"]));
        if worst != best {
            out.descending = Some(worst);
        }
    }
    // "Which airline …", "What airport …", "Who …": one thing, unless the noun is plural or
    // a number of things is asked for.
    let first = w.first().map(String::as_str).unwrap_or_default();
    let second = w.get(1).map(String::as_str).unwrap_or_default();
    let counted = w.iter().any(|x| {
        x.parse::<u32>().is_ok_and(|n| n > 1)
            || [
                "two", "three", "four", "five", "ten", "each", "every", "all", "per", "list",
                "top", "by",
            ]
            .contains(&x.as_str())
    });
    let plural = second.ends_with('s') && !second.ends_with("ss");
    out.one = !counted
        && ((first == "which" && !plural && !second.is_empty())
            || (first == "who" && second != "are"));
    out.name = w
        .iter()
        .any(|x| x == "name" || x == "names" || x == "called");
    out.codes_ok = w
        .iter()
        .any(|x| x.starts_with("code") || x == "abbreviation" || x == "id" || x == "ids");
    let (old, new) = (
        has(&["oldest", "earliest"]),
        has(&["newest", "latest", "youngest", "recent"]),
    );
    if old != new {
        out.recent = Some(new);
    }
    out.average = has(&["average", "averages", "avg"]);
    out
}

/// How a sort key reads time: a date, time or year (`Some(Time)`), an age (`Some(Age)`), or
/// neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeKey {
    /// Larger is more recent (a date, a timestamp, a year).
    Time,
    /// Larger is older (an age in years).
    Age,
}

fn time_key(key: &str, result: &arrow::datatypes::Schema) -> Option<TimeKey> {
    let name = key
        .rsplit('.')
        .next()
        .unwrap_or(key)
        .trim_matches(|c| c == '"' || c == '`')
        .to_lowercase();
    if name == "age" || name.starts_with("age_") || name.ends_with("_age") {
        return Some(TimeKey::Age);
    }
    let temporal_type = result.fields().iter().any(|f| {
        f.name().eq_ignore_ascii_case(&name)
            && matches!(
                f.data_type(),
                DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)
            )
    });
    let temporal_name = [
        "date", "year", "time", "day", "month", "created", "built", "founded", "born", "birth",
    ]
    .iter()
    .any(|k| name.contains(k))
        || name.ends_with("_at")
        || name.ends_with("_on");
    (temporal_type || temporal_name).then_some(TimeKey::Time)
}

/// The direction of the outermost ORDER BY's first key (`Some(true)` = DESC) and whether a
/// LIMIT follows.
#[cfg(test)]
fn ordering(sql: &str) -> (Option<bool>, bool) {
    let (desc, limited, _) = ordering_key(sql);
    (desc, limited)
}

/// [`ordering`], with the first key's first word (`P.YEAR`), when there is one.
fn ordering_key(sql: &str) -> (Option<bool>, bool, Option<String>) {
    let o = crate::text::outermost_query(sql);
    let toks: Vec<&str> = o.split_whitespace().collect();
    let Some(at) = toks
        .windows(2)
        .rposition(|w| w[0] == "ORDER" && w[1] == "BY")
    else {
        return (None, toks.contains(&"LIMIT"), None);
    };
    let rest = &toks[at + 2..];
    let mut first_key: Vec<&str> = Vec::new();
    for t in rest {
        if t.starts_with(',') || ["LIMIT", "OFFSET", "FETCH"].contains(t) {
            break;
        }
        first_key.push(t.trim_end_matches(','));
        if t.ends_with(',') {
            break;
        }
    }
    let desc = first_key.contains(&"DESC");
    let key = first_key.first().map(|k| (*k).to_string());
    (Some(desc), rest.contains(&"LIMIT"), key)
}

fn is_code(s: &str) -> bool {
    let s = s.trim();
    (1..=4).contains(&s.chars().count())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && s.chars().any(|c| c.is_ascii_uppercase())
}

/// Text values of column `i` (first `n` rows).
fn texts(q: &Dataset, i: usize, n: usize) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for b in &q.data.batches {
        let col = b.column(i);
        if !matches!(
            col.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ) {
            return Vec::new();
        }
        let Ok(s) = arrow::compute::cast(col, &DataType::Utf8) else {
            return Vec::new();
        };
        let Some(s) = s.as_any().downcast_ref::<arrow::array::StringArray>() else {
            return Vec::new();
        };
        for r in 0..s.len() {
            if out.len() >= n {
                return out;
            }
            out.push((!s.is_null(r)).then(|| s.value(r).to_string()));
        }
    }
    out
}

/// The first row's values as floats (numeric columns only).
fn first_row_numbers(q: &Dataset) -> Vec<f64> {
    let Some(b) = q.data.batches.iter().find(|b| b.num_rows() > 0) else {
        return Vec::new();
    };
    b.columns()
        .iter()
        .filter(|c| c.data_type().is_numeric())
        .filter_map(|c| {
            let f = arrow::compute::cast(c, &DataType::Float64).ok()?;
            let f = f.as_any().downcast_ref::<arrow::array::Float64Array>()?;
            (!f.is_null(0)).then(|| f.value(0))
        })
        .collect()
}

/// Reviews the final dataset against the question; the first problem not raised before, with
/// what to do about it. `answer` is the model's answer text when it is answering.
pub(crate) fn review(
    question: &str,
    answer: Option<&str>,
    queries: &[Dataset],
    raised: &BTreeSet<Problem>,
    other_sources: bool,
    values: bool,
) -> Option<(Problem, String)> {
    let fresh = |p: Problem| !raised.contains(&p);
    let last = queries.iter().rev().find(|q| q.title.is_some());
    let Some(q) = last else {
        let figures = answer.is_some_and(|a| {
            crate::agent::grounding::numbers_in(a)
                .iter()
                .any(|(_, v)| v.abs() > 31.0)
        });
        // Figures may come from a host's own tool or an earlier turn (`other_sources`).
        return (figures && queries.is_empty() && !other_sources && fresh(Problem::NoData)).then(
            || {
                (
                    Problem::NoData,
                    "the answer gives figures but no query has run: call create_data with SQL \
                 that computes them, then answer from its rows"
                        .to_string(),
                )
            },
        );
    };
    let w = wants(question);
    let rows = q.data.num_rows();
    // No rows, or one row of zeros/NULLs (COUNT, SUM, AVG over nothing) behind a text filter.
    // `values`: whether the model may see the dataset's values; a check that reads them would
    // tell it something about them.
    let nothing = rows == 0
        || (values
            && rows == 1
            && q.data
                .schema
                .fields()
                .iter()
                .all(|f| f.data_type().is_numeric())
            && first_row_numbers(q).iter().all(|v| *v == 0.0)
            && !literal_filters(&q.sql).is_empty());
    if nothing && fresh(Problem::Empty) {
        return Some((
            Problem::Empty,
            "the last query matched no rows (no rows, or only zeros/NULLs). If it filters on a \
             text value, the value is probably written differently in the data (case, spelling, a code instead of a \
             name): look at the values below, fix the filter and run create_data again. Answer \
             that nothing matches only if the filter is right"
                .to_string(),
        ));
    }
    if rows == 0 {
        return None;
    }
    let (desc, limited, key) = ordering_key(&q.sql);
    let fields = q.data.schema.fields();
    let grouped_by = crate::text::outermost_query(&q.sql)
        .split_once("GROUP BY")
        .map(|(_, g)| g.to_string())
        .unwrap_or_default();
    if values && desc.is_some() && fresh(Problem::NullTop) {
        for (i, f) in fields.iter().enumerate() {
            let v = texts(q, i, 1);
            let key = grouped_by.contains(&f.name().to_uppercase());
            if key && v.first().is_some_and(Option::is_none) && rows > 1 {
                return Some((
                    Problem::NullTop,
                    format!(
                        "the top row has NULL in `{}`: NULL is a missing value, not a real one. \
                         Add `WHERE {} IS NOT NULL` (or filter NULLs of the measure you rank) \
                         and run create_data again",
                        f.name(),
                        f.name()
                    ),
                ));
            }
        }
    }
    if let (Some(wanted), Some(got)) = (w.descending, desc)
        && wanted != got
        && limited
        && fresh(Problem::Direction)
    {
        return Some((
            Problem::Direction,
            if wanted {
                "the question asks for the largest (most / highest / worst), but the query sorts \
                 ascending, smallest first. Use ORDER BY … DESC and run create_data again"
                    .to_string()
            } else {
                "the question asks for the smallest (least / lowest / best), but the query sorts \
                 descending, largest first. Use ORDER BY … ASC and run create_data again"
                    .to_string()
            },
        ));
    }
    if let (Some(recent), Some(got), Some(key)) = (w.recent, desc, key.as_deref())
        && limited
        && fresh(Problem::Direction)
        && let Some(kind) = time_key(key, &q.data.schema)
    {
        // A date or year: the most recent is the largest. An age: the oldest is the largest.
        let wanted = match kind {
            TimeKey::Time => recent,
            TimeKey::Age => !recent,
        };
        if wanted != got {
            let (asked, order) = match (recent, wanted) {
                (true, true) => ("the most recent", "DESC (largest first)"),
                (true, false) => ("the youngest", "ASC (smallest age first)"),
                (false, true) => ("the oldest", "DESC (largest age first)"),
                (false, false) => ("the oldest / earliest", "ASC (earliest first)"),
            };
            return Some((
                Problem::Direction,
                format!(
                    "the question asks for {asked}, but the query sorts by `{}` {}. Use ORDER BY \
                     … {order} and run create_data again",
                    key.to_lowercase(),
                    if got { "descending" } else { "ascending" }
                ),
            ));
        }
    }
    if w.average && fresh(Problem::NoAverage) {
        let upper = q.sql.to_uppercase();
        if !upper.contains("AVG") && !upper.contains("MEAN") && !upper.contains('/') {
            return Some((
                Problem::NoAverage,
                "the question asks for an average, but the query computes none: it ranks or \
                 lists single rows. Use AVG(…) (grouped by what the question compares) and run \
                 create_data again"
                    .to_string(),
            ));
        }
    }
    if values && rows == 1 && q.sql.contains('/') && fresh(Problem::IntegerDivision) {
        let nums = first_row_numbers(q);
        if !nums.is_empty() && nums.iter().all(|v| *v == 0.0) {
            return Some((
                Problem::IntegerDivision,
                "the result is 0, which is what an integer division gives (7 / 10 = 0). \
                 Multiply by 100.0 or 1.0 before dividing (100.0 * part / total) and run \
                 create_data again"
                    .to_string(),
            ));
        }
    }
    if values && !w.codes_ok && fresh(Problem::CodesNotNames) {
        let text_cols: Vec<usize> = (0..fields.len())
            .filter(|&i| !texts(q, i, 1).is_empty())
            .collect();
        let all_codes = !text_cols.is_empty()
            && text_cols.iter().all(|&i| {
                texts(q, i, 20)
                    .iter()
                    .all(|v| v.as_deref().is_none_or(is_code))
            });
        let named = fields
            .iter()
            .any(|f| f.name().to_lowercase().contains("name"));
        if all_codes && !named && w.name {
            return Some((
                Problem::CodesNotNames,
                "the result shows codes (like the first value) where the question asks for \
                 the thing itself: join the table that holds its full name and return the \
                 name, then run create_data again"
                    .to_string(),
            ));
        }
    }
    None
}

/// A clarifying question after a result is in hand: raised once.
pub(crate) fn clarify_after_data(
    queries: &[Dataset],
    raised: &BTreeSet<Problem>,
) -> Option<(Problem, String)> {
    let has_rows = queries
        .iter()
        .any(|q| q.title.is_some() && q.data.num_rows() > 0);
    (has_rows && !raised.contains(&Problem::ClarifyAfterData)).then(|| {
        (
            Problem::ClarifyAfterData,
            "a result is already in hand: answer the question from it (state the assumption \
             you made) instead of asking"
                .to_string(),
        )
    })
}

/// Columns compared with a text literal in `sql` (`col = 'x'`, `col IN ('x', …)`,
/// `col LIKE 'x'`), with the literal: for probing the values the data really holds.
pub(crate) fn literal_filters(sql: &str) -> Vec<(String, String)> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '\'' {
            i += 1;
            continue;
        }
        // A literal: read it, then look back for `<ident> <op>`.
        let start = i;
        let mut j = i + 1;
        let mut lit = String::new();
        while j < chars.len() {
            if chars[j] == '\'' {
                if chars.get(j + 1) == Some(&'\'') {
                    lit.push('\'');
                    j += 2;
                    continue;
                }
                break;
            }
            lit.push(chars[j]);
            j += 1;
        }
        i = j + 1;
        let before: String = chars[..start].iter().collect();
        let before = before.trim_end();
        let upper = before.to_uppercase();
        let cut = if let Some(b) = before
            .strip_suffix("!=")
            .or_else(|| before.strip_suffix("<>"))
        {
            Some(b)
        } else if let Some(b) = before.strip_suffix('=') {
            Some(b)
        } else if upper.ends_with(" LIKE") || upper.ends_with(" ILIKE") {
            before.rsplit_once(char::is_whitespace).map(|(b, _)| b)
        } else if upper.ends_with("IN (") || upper.ends_with("IN(") {
            upper.rfind("IN").map(|k| &before[..k])
        } else {
            None
        };
        let Some(cut) = cut else { continue };
        let t = cut.trim_end();
        let ident: String = match t.chars().last() {
            Some(q @ ('"' | '`')) => {
                let inner = &t[..t.len() - 1];
                inner
                    .rfind(q)
                    .map_or_else(String::new, |k| inner[k + 1..].to_string())
            }
            _ => t
                .chars()
                .rev()
                .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '.'))
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect(),
        };
        let col = if t.ends_with(['"', '`']) {
            ident
        } else {
            ident.rsplit('.').next().unwrap_or_default().to_string()
        };
        if !col.is_empty()
            && !col.chars().all(|c| c.is_ascii_digit())
            && !out.iter().any(|(c, l)| c == &col && l == &lit)
        {
            out.push((col, lit));
        }
    }
    out.truncate(4);
    out
}

/// The words of a literal (letters and digits, at least 3 long, longest first, at most 4),
/// lower-cased, for a `LIKE` probe.
pub(crate) fn literal_words(lit: &str) -> Vec<String> {
    let mut w: Vec<String> = lit
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase)
        .collect();
    w.sort_by_key(|x| std::cmp::Reverse(x.chars().count()));
    w.dedup();
    w.truncate(4);
    w
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn questions_say_which_way_to_sort_and_how_many() {
        assert_eq!(
            wants("Which carrier had the most flights?").descending,
            Some(true)
        );
        assert_eq!(
            wants("Which airport has the fewest departures?").descending,
            Some(false)
        );
        assert_eq!(
            wants("Which airline has the worst average departure delay?").descending,
            Some(true)
        );
        assert_eq!(
            wants("Which airline has the best on-time record by arrival delay?").descending,
            Some(false)
        );
        assert_eq!(wants("Which genre is the best?").descending, None);
        assert!(wants("Which airline had the worst delay?").one);
        assert!(!wants("Which airlines flew to ATL?").one);
        assert!(!wants("Which 3 carriers flew most?").one);
        assert!(!wants("How many flights left JFK?").one);
        assert!(wants("What is the name of the busiest airport?").name);
        assert!(wants("Which carrier code is most common?").codes_ok);
    }

    #[test]
    fn the_outermost_order_is_read() {
        assert_eq!(
            ordering("SELECT a FROM t ORDER BY b DESC LIMIT 1"),
            (Some(true), true)
        );
        assert_eq!(
            ordering("SELECT a FROM t ORDER BY b LIMIT 1"),
            (Some(false), true)
        );
        assert_eq!(
            ordering("SELECT a FROM t ORDER BY b, c DESC"),
            (Some(false), false)
        );
        assert_eq!(
            ordering("SELECT * FROM (SELECT a FROM t ORDER BY a DESC LIMIT 3) s ORDER BY a"),
            (Some(false), false)
        );
        assert_eq!(ordering("SELECT 'order by x desc' FROM t"), (None, false));
    }

    fn one_row(sql: &str) -> Dataset {
        use std::sync::Arc;
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("tailnum", DataType::Utf8, true),
        ]));
        let batch = arrow::array::RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(arrow::array::StringArray::from(vec!["N14558"]))],
        )
        .unwrap();
        Dataset {
            query_id: uuid::Uuid::now_v7(),
            title: Some("t".into()),
            connection: "c".into(),
            sql: sql.into(),
            data: crate::connector::QueryData {
                schema,
                batches: vec![batch],
            },
            truncated: false,
            duration: std::time::Duration::ZERO,
        }
    }

    #[test]
    fn oldest_and_newest_sort_by_what_the_key_is() {
        let review_of = |question: &str, sql: &str| {
            review(
                question,
                None,
                &[one_row(sql)],
                &BTreeSet::new(),
                false,
                true,
            )
        };
        // A year: the oldest is the smallest.
        let (p, m) = review_of(
            "What is the tail number of the oldest plane?",
            "SELECT tailnum FROM planes ORDER BY year DESC LIMIT 1",
        )
        .unwrap();
        assert_eq!(p, Problem::Direction);
        assert!(m.contains("ASC"), "{m}");
        assert!(
            review_of(
                "What is the tail number of the oldest plane?",
                "SELECT tailnum FROM planes p WHERE year IS NOT NULL ORDER BY p.year LIMIT 1",
            )
            .is_none()
        );
        assert!(
            review_of(
                "Which plane is the newest?",
                "SELECT tailnum FROM planes ORDER BY year DESC LIMIT 1",
            )
            .is_none()
        );
        // An age: the oldest is the largest.
        let (_, m) = review_of(
            "Who is the oldest employee?",
            "SELECT tailnum FROM staff ORDER BY age ASC LIMIT 1",
        )
        .unwrap();
        assert!(m.contains("DESC"), "{m}");
        // Neither a date nor an age: no opinion.
        assert!(
            review_of(
                "Which is the oldest route?",
                "SELECT tailnum FROM routes ORDER BY distance DESC LIMIT 1",
            )
            .is_none()
        );
    }

    #[test]
    fn an_average_question_needs_an_average() {
        let review_of = |question: &str, sql: &str| {
            review(
                question,
                None,
                &[one_row(sql)],
                &BTreeSet::new(),
                false,
                true,
            )
            .map(|(p, _)| p)
        };
        assert_eq!(
            review_of(
                "Which airline had the worst average departure delay?",
                "SELECT a.name FROM flights f JOIN airlines a ON f.carrier = a.carrier \
                 ORDER BY dep_delay DESC LIMIT 1",
            ),
            Some(Problem::NoAverage)
        );
        for sql in [
            "SELECT carrier FROM flights GROUP BY carrier ORDER BY AVG(dep_delay) DESC LIMIT 1",
            "SELECT carrier FROM flights GROUP BY carrier ORDER BY SUM(dep_delay) / COUNT(*) DESC LIMIT 1",
        ] {
            assert_eq!(
                review_of("Which airline had the worst average departure delay?", sql),
                None
            );
        }
    }

    #[test]
    fn literal_filters_are_found() {
        let f = literal_filters(
            "SELECT * FROM flights f JOIN airlines a ON a.carrier = f.carrier \
             WHERE a.name = 'United Airlines' AND f.dest IN ('ATL', 'ORD') AND x LIKE '%boe%' \
             AND \"Billing Country\" <> 'usa'",
        );
        assert_eq!(
            f,
            vec![
                ("name".to_string(), "United Airlines".to_string()),
                ("dest".to_string(), "ATL".to_string()),
                ("x".to_string(), "%boe%".to_string()),
                ("Billing Country".to_string(), "usa".to_string()),
            ]
        );
        assert_eq!(literal_words("%boe%"), vec!["boe"]);
        assert_eq!(literal_words("United Airlines"), vec!["airlines", "united"]);
    }

    #[test]
    fn codes_look_like_codes() {
        assert!(is_code("UA") && is_code("LGA") && is_code("9E") && is_code("F9"));
        assert!(!is_code("United Air Lines Inc.") && !is_code("2013") && !is_code("Boeing"));
    }
}
