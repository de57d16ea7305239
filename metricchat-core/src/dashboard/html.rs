//! [`Dashboard::to_html`]: one self-contained page.
//!
//! Everything is inside the file: ECharts (`assets/echarts/echarts.min.js`, Apache-2.0, from the
//! `echarts` npm package), the page's style and script, and the blocks' data as a JSON island. A
//! Content-Security-Policy forbids every network request, so the page works offline and a
//! hostile value in the data cannot call out. Text blocks are Markdown rendered here with raw
//! HTML escaped; every other string reaches the page escaped.

use std::fmt::Write as _;

use pulldown_cmark::{Event, Options, Parser};
use serde_json::{Map, Value, json};

use super::{Block, BlockContent, Dashboard, Kpi};

/// Apache ECharts 6 (see `assets/echarts/README.md`).
const ECHARTS_JS: &str = include_str!("../../assets/echarts/echarts.min.js");
/// The page's style.
const PAGE_CSS: &str = include_str!("../../assets/dashboard/page.css");
/// The page's script: charts, sorting, CSV, theme changes.
const PAGE_JS: &str = include_str!("../../assets/dashboard/page.js");

/// `s` escaped for HTML text and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Markdown to HTML; raw HTML in the Markdown is shown as text, links keep only safe schemes.
fn markdown(md: &str) -> String {
    let parser =
        Parser::new_ext(md, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH).map(|ev| {
            match ev {
                Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
                Event::Start(pulldown_cmark::Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    id,
                }) => {
                    let safe = ["http://", "https://", "mailto:", "#"]
                        .iter()
                        .any(|p| dest_url.to_ascii_lowercase().starts_with(p));
                    Event::Start(pulldown_cmark::Tag::Link {
                        link_type,
                        dest_url: if safe { dest_url } else { "#".into() },
                        title,
                        id,
                    })
                }
                Event::Start(pulldown_cmark::Tag::Image { .. })
                | Event::End(pulldown_cmark::TagEnd::Image) => Event::Text("".into()),
                other => other,
            }
        });
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, parser);
    out
}

/// JSON safe inside a `<script>` element.
fn script_json(v: &Value) -> String {
    serde_json::to_string(v)
        .unwrap_or_else(|_| "null".into())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// Adds `,` between thousands of the integer part of a decimal string (`-1234.5` → `-1,234.5`).
fn group_digits(text: &str) -> String {
    let (sign, rest) = text.strip_prefix('-').map_or(("", text), |r| ("-", r));
    let (int, frac) = rest
        .split_once('.')
        .map_or((rest, None), |(i, f)| (i, Some(f)));
    if !int.chars().all(|c| c.is_ascii_digit()) {
        return text.to_string();
    }
    let mut grouped = String::with_capacity(text.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// `v` with exactly `decimals` decimals, digits grouped; no `-0`.
fn format_fixed(v: f64, decimals: usize) -> String {
    let text = format!("{v:.decimals$}");
    let text = match text.strip_prefix('-') {
        Some(r) if r.chars().all(|c| c == '0' || c == '.') => r.to_string(),
        _ => text,
    };
    group_digits(&text)
}

/// Decimals `v` needs: up to two, up to four below 1 (so `0.0042` is not `0`).
fn decimals_needed(v: f64) -> usize {
    let max = if v != 0.0 && v.abs() < 1.0 { 4 } else { 2 };
    (0..max)
        .find(|&d| {
            let scale = 10_f64.powi(i32::try_from(d).unwrap_or(0));
            ((v * scale).round() - v * scale).abs() < 1e-9 * scale.max(1.0)
        })
        .unwrap_or(max)
}

/// A number for people: digits grouped (`1,234`), at most two decimals (four below 1), trailing
/// zeros dropped.
pub(crate) fn format_number(v: f64) -> String {
    format_fixed(v, decimals_needed(v))
}

/// Whether a column holds codes rather than amounts (`year`, `id`, `flight_id`, `zip`…):
/// their digits are shown as stored, ungrouped.
fn is_code_column(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "id"
        || n == "year"
        || n.ends_with("_id")
        || n.ends_with("_year")
        || n.ends_with("_code")
        || matches!(
            n.as_str(),
            "code" | "zip" | "zipcode" | "postcode" | "flight" | "faa"
        )
}

/// How a table column's numbers are shown: `None` as stored (codes), otherwise the decimals
/// every number of the column gets (the most any of them needs), so a column reads aligned.
fn column_decimals(name: &str, rows: &[Vec<Value>], col: usize) -> Option<usize> {
    if is_code_column(name) {
        return None;
    }
    Some(
        rows.iter()
            .filter_map(|r| r.get(col).and_then(Value::as_f64))
            .filter(|v| v.is_finite())
            .map(decimals_needed)
            .max()
            .unwrap_or(0),
    )
}

/// One table cell's number as text.
fn number_cell(n: &serde_json::Number, decimals: Option<usize>) -> String {
    match decimals {
        None => n.to_string(),
        // Integers stay exact (an i64 above 2^53 is not rounded through f64).
        Some(0) if n.is_i64() || n.is_u64() => group_digits(&n.to_string()),
        Some(d) => n
            .as_f64()
            .map_or_else(|| n.to_string(), |v| format_fixed(v, d)),
    }
}

/// An inline SVG sparkline of `points` (nulls skipped).
fn sparkline(points: &[Option<f64>]) -> String {
    let vals: Vec<(usize, f64)> = points
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.filter(|x| x.is_finite()).map(|x| (i, x)))
        .collect();
    if vals.len() < 2 {
        return String::new();
    }
    let (w, h) = (120.0_f64, 32.0_f64);
    let min = vals.iter().map(|v| v.1).fold(f64::INFINITY, f64::min);
    let max = vals.iter().map(|v| v.1).fold(f64::NEG_INFINITY, f64::max);
    let span = if max > min { max - min } else { 1.0 };
    let last = points.len().saturating_sub(1).max(1) as f64;
    let mut path = String::new();
    for (n, (i, v)) in vals.iter().enumerate() {
        let x = (*i as f64) / last * w;
        let y = h - 2.0 - (v - min) / span * (h - 4.0);
        let _ = write!(path, "{}{x:.1},{y:.1}", if n == 0 { "" } else { " " });
    }
    format!(
        "<svg class=\"spark\" viewBox=\"0 0 {w} {h}\" preserveAspectRatio=\"none\" role=\"img\" \
         aria-label=\"trend\"><polyline points=\"{path}\" fill=\"none\" stroke=\"currentColor\" \
         stroke-width=\"2\" vector-effect=\"non-scaling-stroke\"/></svg>"
    )
}

fn kpi_html(k: &Kpi) -> String {
    let unit = k
        .unit
        .as_deref()
        .map(|u| format!("<span class=\"unit\">{}</span>", esc(u)))
        .unwrap_or_default();
    let value = k.value.map_or_else(|| "—".to_string(), format_number);
    let raw = k.value.map(|v| v.to_string()).unwrap_or_default();
    let delta = match (k.delta, k.previous) {
        (Some(d), Some(p)) => {
            let class = if d > 0.0 {
                "up"
            } else if d < 0.0 {
                "down"
            } else {
                "flat"
            };
            let arrow = match class {
                "up" => "▲",
                "down" => "▼",
                _ => "■",
            };
            let pct = k
                .delta_ratio
                .map(|r| {
                    format!(
                        " ({}{}%)",
                        if r > 0.0 { "+" } else { "" },
                        format_number(r * 100.0)
                    )
                })
                .unwrap_or_default();
            format!(
                "<div class=\"delta {class}\">{arrow} {}{}{pct} <span class=\"vs\">vs {}</span></div>",
                if d > 0.0 { "+" } else { "" },
                format_number(d),
                format_number(p)
            )
        }
        _ => String::new(),
    };
    format!(
        "<div class=\"kpi\"><div class=\"kpi-value\" data-kpi-value=\"{}\">{}{unit}</div>\
         <div class=\"kpi-label\">{}</div>{delta}{}</div>",
        esc(&raw),
        esc(&value),
        esc(&k.label),
        sparkline(&k.sparkline)
    )
}

fn table_html(columns: &[String], rows: &[Vec<Value>]) -> String {
    let decimals: Vec<Option<usize>> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| column_decimals(c, rows, i))
        .collect();
    // A column of numbers is right-aligned, its header too.
    let numeric: Vec<bool> = (0..columns.len())
        .map(|i| {
            let mut values = rows
                .iter()
                .filter_map(|r| r.get(i))
                .filter(|v| !v.is_null());
            let first = values.next();
            first.is_some_and(Value::is_number) && values.all(Value::is_number)
        })
        .collect();
    let mut out = String::from("<div class=\"table-wrap\"><table class=\"sortable\"><thead><tr>");
    for (i, c) in columns.iter().enumerate() {
        let _ = write!(
            out,
            "<th scope=\"col\" tabindex=\"0\" aria-sort=\"none\"{}>{}</th>",
            if numeric[i] { " class=\"num\"" } else { "" },
            esc(c)
        );
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for (i, v) in r.iter().enumerate() {
            let (text, num) = match v {
                Value::Null => (String::new(), false),
                Value::Number(n) => (number_cell(n, decimals.get(i).copied().flatten()), true),
                Value::String(s) => (s.clone(), false),
                other => (other.to_string(), false),
            };
            let sort = match v {
                Value::Number(n) => format!(" data-sort=\"{n}\""),
                _ => String::new(),
            };
            let _ = write!(
                out,
                "<td{}{sort}>{}</td>",
                if num { " class=\"num\"" } else { "" },
                esc(&text)
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    out
}

fn block_html(b: &Block, data: &mut Map<String, Value>) -> String {
    let kind = b.content.kind();
    let width = if matches!(b.content, BlockContent::Heading { .. }) {
        12
    } else {
        b.width
    };
    let mut body = String::new();
    let mut meta = String::new();
    let mut csv = false;
    match (&b.content, &b.result) {
        (BlockContent::Heading { text }, _) => {
            return format!(
                "<h2 class=\"section w-12\" id=\"block-{}\">{}</h2>\n",
                esc(&b.id),
                esc(text)
            );
        }
        (BlockContent::Text { markdown: md }, _) => {
            body = format!("<div class=\"md\">{}</div>", markdown(md));
        }
        (_, None) => {
            body = "<div class=\"empty\">Not refreshed yet.</div>".into();
        }
        (_, Some(r)) if r.error.is_some() => {
            let _ = write!(
                body,
                "<div class=\"error\" role=\"alert\"><strong>This block failed to refresh.</strong>\
                 <pre class=\"error-message\">{}</pre></div>",
                esc(r.error.as_deref().unwrap_or_default())
            );
        }
        (content, Some(r)) => {
            csv = true;
            data.insert(
                b.id.clone(),
                json!({"columns": r.columns, "rows": r.rows, "echarts": r.echarts}),
            );
            let chart_kind = r
                .echarts
                .as_ref()
                .and_then(|o| o.pointer("/metricchat/kind"))
                .and_then(Value::as_str);
            match content {
                BlockContent::Kpi { .. } => {
                    if let Some(k) = &r.kpi {
                        body = kpi_html(k);
                    }
                }
                BlockContent::Chart { .. } if chart_kind != Some("table") => {
                    let _ = write!(
                        body,
                        "<div class=\"chart\" data-chart=\"{}\" data-kind=\"{}\" role=\"img\" aria-label=\"{}\"></div>",
                        esc(&b.id),
                        esc(chart_kind.unwrap_or("chart")),
                        esc(b.title.as_deref().unwrap_or("chart"))
                    );
                }
                _ => body = table_html(&r.columns, &r.rows),
            }
        }
    }
    if let Some(r) = &b.result {
        let _ = write!(
            meta,
            "<footer class=\"block-meta\"><time datetime=\"{0}\">refreshed {1}</time>",
            r.refreshed_at.to_rfc3339(),
            r.refreshed_at.format("%Y-%m-%d %H:%M UTC")
        );
        if r.error.is_none() {
            let _ = write!(
                meta,
                " · {} row{}{} · {} ms",
                format_number(r.row_count as f64),
                if r.row_count == 1 { "" } else { "s" },
                if r.truncated { " (truncated)" } else { "" },
                r.duration_ms
            );
        }
        if let Some(sql) = &r.sql {
            let _ = write!(
                meta,
                "<details><summary>SQL</summary><pre>{}</pre></details>",
                esc(sql)
            );
        }
        meta.push_str("</footer>");
    }
    let head = match (&b.title, csv) {
        (None, false) => String::new(),
        (title, csv) => format!(
            "<div class=\"block-head\"><h3>{}</h3>{}</div>",
            esc(title.as_deref().unwrap_or("")),
            if csv {
                format!(
                    "<button type=\"button\" class=\"csv\" data-csv=\"{}\" title=\"Download CSV\">CSV</button>",
                    esc(&b.id)
                )
            } else {
                String::new()
            }
        ),
    };
    format!(
        "<section class=\"block w-{width} kind-{kind}{}\" id=\"block-{}\" data-block=\"{}\">{head}{body}{meta}</section>\n",
        if b.result.as_ref().is_some_and(|r| r.error.is_some()) {
            " failed"
        } else {
            ""
        },
        esc(&b.id),
        esc(&b.id),
    )
}

fn parameter_text(d: &Dashboard) -> String {
    let items: Vec<String> = d
        .parameters
        .iter()
        .filter(|p| !p.value.is_null())
        .map(|p| {
            let value = match &p.value {
                Value::String(s) => s.clone(),
                Value::Object(o) => format!(
                    "{} – {}",
                    o.get("start").and_then(Value::as_str).unwrap_or(""),
                    o.get("end").and_then(Value::as_str).unwrap_or("")
                ),
                v => v.to_string(),
            };
            format!(
                "<span class=\"param\"><b>{}</b> {}</span>",
                esc(p.label.as_deref().unwrap_or(&p.name)),
                esc(&value)
            )
        })
        .collect();
    items.join(" ")
}

pub(super) fn render(d: &Dashboard) -> String {
    let mut data = Map::new();
    let blocks: String = d.blocks.iter().map(|b| block_html(b, &mut data)).collect();
    let description = d
        .description
        .as_deref()
        .map(|t| format!("<div class=\"description md\">{}</div>", markdown(t)))
        .unwrap_or_default();
    let refreshed = d
        .refreshed_at
        .map(|t| {
            format!(
                "<time datetime=\"{}\">Refreshed {}</time>",
                t.to_rfc3339(),
                t.format("%Y-%m-%d %H:%M UTC")
            )
        })
        .unwrap_or_else(|| "Not refreshed yet".into());
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"color-scheme\" content=\"light dark\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; connect-src 'none'; form-action 'none'; base-uri 'none'\">\
<meta name=\"generator\" content=\"metricchat {version}\">\
<title>{title}</title><style>{css}</style></head>\n<body>\
<header class=\"page-head\"><h1>{title}</h1>{description}<p class=\"page-meta\">{refreshed} {params}</p></header>\n\
<main class=\"grid\">\n{blocks}</main>\n\
<footer class=\"page-foot\">Made with metricchat · charts by Apache ECharts</footer>\n\
<script type=\"application/json\" id=\"mc-data\">{data}</script>\n\
<script>{echarts}</script>\n<script>{js}</script>\n</body></html>\n",
        version = env!("CARGO_PKG_VERSION"),
        title = esc(&d.title),
        css = PAGE_CSS,
        params = parameter_text(d),
        data = script_json(&Value::Object(data)),
        echarts = ECHARTS_JS,
        js = PAGE_JS,
    )
}
