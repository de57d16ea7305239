//! LookML: views, explores and models from `*.lkml` files.
//!
//! A real parser for the LookML syntax — `key: value`, `key: "string"`, `key: [a, b]`,
//! `key: name { … }` and `key: { … }` blocks, `;;`-terminated SQL and HTML bodies that span
//! lines, and `#` comments — then a pass that turns the parsed files into [`Resource`]s:
//!
//! - a `view` becomes a [`ResourceKind::View`] on its `sql_table_name` (or, for a
//!   `derived_table`, with its SQL and the tables that SQL reads), with `dimension`s, `measure`s
//!   and `dimension_group`s expanded into one field per timeframe (`created_date`,
//!   `created_month`…) or interval (`days_enrolled`…). `extends` and refinements
//!   (`view: +orders`) are merged.
//! - an `explore` becomes a [`ResourceKind::Explore`] related to its base and joined views, on
//!   their tables, with the joins (`type`, `relationship`, `sql_on`) as a `FROM … JOIN …` sketch
//!   in [`Resource::sql`] and one `join.<name>` entry each in [`Resource::meta`].
//! - a `*.model.lkml` file becomes a [`ResourceKind::Other`] resource (`lookml:model.<name>`)
//!   related to its explores, with its `connection` and `include`s in `meta`.
//!
//! Syntax errors are [`Error::InvalidInput`] with `path:line:` in the message.

use std::collections::HashMap;
use std::path::Path;

use super::{
    FieldKind, Resource, ResourceField, ResourceKind, ResourceSource, has_ext, non_empty,
    push_unique, read_text, tables_in_sql, unquote_relation, walk,
};
use crate::error::{Error, Result};

/// Parses one LookML file. `path` names it in resources and error messages; a file named
/// `<model>.model.lkml` is a model whose explores get ids `lookml:explore.<model>.<name>`.
pub fn parse(text: &str, path: &str) -> Result<Vec<Resource>> {
    let file = parse_file(text, path)?;
    Ok(assemble(vec![file]))
}

/// Parses every `*.lkml` file below `dir` (hidden folders skipped), resolving `extends` and
/// refinements across files. Resource paths are relative to `dir`.
pub fn load_dir(dir: &Path) -> Result<Vec<Resource>> {
    let mut files = Vec::new();
    for path in walk(dir)?.into_iter().filter(|p| has_ext(p, &["lkml"])) {
        let rel = path.strip_prefix(dir).unwrap_or(&path);
        let rel = rel.to_string_lossy().replace('\\', "/");
        files.push(parse_file(&read_text(&path)?, &rel)?);
    }
    Ok(assemble(files))
}

// ---------------------------------------------------------------------------------------------
// Syntax.

/// A parsed LookML value.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    /// `"quoted"`.
    Str(String),
    /// `bare_word`, `yes`, `orders.id`, `set*`.
    Bare(String),
    /// A `;;`-terminated body (`sql`, `sql_*`, `html`, `expression`…), trimmed.
    Sql(String),
    /// `[a, "b", key: value]`.
    List(Vec<Value>),
    /// `key: value` inside a list (`filters: [status: "complete"]`).
    Entry(String, Box<Value>),
    /// `{ … }`, named or not (the name is on the [`Pair`]).
    Block(Vec<Pair>),
}

/// `key: value` or `key: name { … }`.
#[derive(Debug, Clone, PartialEq)]
struct Pair {
    key: String,
    name: Option<String>,
    value: Value,
    line: usize,
}

impl Value {
    fn text(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Bare(s) | Value::Sql(s) => Some(s),
            _ => None,
        }
    }
    fn block(&self) -> &[Pair] {
        match self {
            Value::Block(b) => b,
            _ => &[],
        }
    }
    fn items(&self) -> Vec<String> {
        match self {
            Value::List(items) => items
                .iter()
                .filter_map(|i| match i {
                    Value::Entry(k, v) => Some(match v.text() {
                        Some(t) => format!("{k}: {t}"),
                        None => k.clone(),
                    }),
                    other => other.text().map(str::to_owned),
                })
                .collect(),
            other => other.text().map(|t| vec![t.to_owned()]).unwrap_or_default(),
        }
    }
}

fn get<'a>(pairs: &'a [Pair], key: &str) -> Option<&'a Value> {
    pairs.iter().rev().find(|p| p.key == key).map(|p| &p.value)
}

fn text(pairs: &[Pair], key: &str) -> Option<String> {
    non_empty(get(pairs, key).and_then(Value::text))
}

fn is_yes(pairs: &[Pair], key: &str) -> bool {
    text(pairs, key).is_some_and(|v| v.eq_ignore_ascii_case("yes"))
}

/// Keys whose value runs to `;;`.
fn is_sql_key(key: &str) -> bool {
    key == "sql"
        || key.starts_with("sql_")
        || key == "html"
        || key == "expression"
        || key.starts_with("expression_")
        || key.ends_with("_sql")
}

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    path: &'a str,
}

impl<'a> Parser<'a> {
    fn new(text: &str, path: &'a str) -> Self {
        Parser {
            chars: text.chars().collect(),
            pos: 0,
            line: 1,
            path,
        }
    }

    fn err(&self, line: usize, message: impl std::fmt::Display) -> Error {
        Error::invalid_input(format!("{}:{line}: {message}", self.path))
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn skip_trivia(&mut self) {
        while let Some(c) = self.peek() {
            if c == '#' {
                while let Some(c) = self.peek() {
                    if c == '\n' {
                        break;
                    }
                    self.bump();
                }
            } else if c.is_whitespace() {
                self.bump();
            } else {
                break;
            }
        }
    }

    fn at(&self, s: &str) -> bool {
        s.chars()
            .enumerate()
            .all(|(i, c)| self.chars.get(self.pos + i) == Some(&c))
    }

    /// Pairs up to the end of input, or up to the `}` closing a block opened on `open_line`.
    fn pairs(&mut self, open_line: Option<usize>) -> Result<Vec<Pair>> {
        let mut out = Vec::new();
        loop {
            self.skip_trivia();
            match (self.peek(), open_line) {
                (None, None) => return Ok(out),
                (None, Some(l)) => {
                    return Err(self.err(
                        self.line,
                        format!("`{{` opened on line {l} is never closed"),
                    ));
                }
                (Some('}'), Some(_)) => {
                    self.bump();
                    return Ok(out);
                }
                (Some('}'), None) => return Err(self.err(self.line, "unexpected `}`")),
                _ => out.push(self.pair()?),
            }
        }
    }

    fn ident(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek() {
            if c.is_alphanumeric() || c == '_' {
                s.push(c);
                self.bump();
            } else {
                break;
            }
        }
        s
    }

    fn pair(&mut self) -> Result<Pair> {
        let line = self.line;
        let key = self.ident();
        if key.is_empty() {
            let found = self.peek().map(String::from).unwrap_or_default();
            return Err(self.err(line, format!("expected a key, found `{found}`")));
        }
        self.skip_trivia();
        if self.peek() != Some(':') {
            return Err(self.err(self.line, format!("expected `:` after `{key}`")));
        }
        self.bump();
        self.skip_trivia();
        if is_sql_key(&key) {
            let value = self.sql_body(&key, line)?;
            return Ok(Pair {
                key,
                name: None,
                value,
                line,
            });
        }
        let (name, value) = match self.peek() {
            Some('"') => (None, self.string()?),
            Some('[') => (None, self.list()?),
            Some('{') => {
                self.bump();
                (None, Value::Block(self.pairs(Some(line))?))
            }
            _ => {
                let word = self.bare();
                if word.is_empty() {
                    return Err(self.err(self.line, format!("expected a value after `{key}:`")));
                }
                self.skip_trivia();
                if self.peek() == Some('{') {
                    let open = self.line;
                    self.bump();
                    (Some(word), Value::Block(self.pairs(Some(open))?))
                } else {
                    (None, Value::Bare(word))
                }
            }
        };
        // A stray `;;` after a plain value is tolerated, as Looker does.
        let save = (self.pos, self.line);
        self.skip_trivia();
        if self.at(";;") {
            self.bump();
            self.bump();
        } else {
            (self.pos, self.line) = save;
        }
        Ok(Pair {
            key,
            name,
            value,
            line,
        })
    }

    fn sql_body(&mut self, key: &str, line: usize) -> Result<Value> {
        let mut s = String::new();
        loop {
            if self.at(";;") {
                self.bump();
                self.bump();
                return Ok(Value::Sql(s.trim().to_owned()));
            }
            match self.bump() {
                Some(c) => s.push(c),
                None => {
                    return Err(self.err(
                        line,
                        format!("`{key}:` is not terminated by `;;` before the end of the file"),
                    ));
                }
            }
        }
    }

    fn string(&mut self) -> Result<Value> {
        let line = self.line;
        self.bump();
        let mut s = String::new();
        loop {
            match self.bump() {
                Some('"') => return Ok(Value::Str(s)),
                Some('\\') => match self.bump() {
                    Some('n') => s.push('\n'),
                    Some('t') => s.push('\t'),
                    Some(c) => s.push(c),
                    None => break,
                },
                Some(c) => s.push(c),
                None => break,
            }
        }
        Err(self.err(line, "string is not closed (missing `\"`)"))
    }

    fn bare(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace() || ",[]{}:#\";".contains(c) {
                break;
            }
            s.push(c);
            self.bump();
        }
        s
    }

    fn list(&mut self) -> Result<Value> {
        let open = self.line;
        self.bump();
        let mut items = Vec::new();
        loop {
            self.skip_trivia();
            match self.peek() {
                None => {
                    return Err(self.err(
                        self.line,
                        format!("`[` opened on line {open} is never closed"),
                    ));
                }
                Some(']') => {
                    self.bump();
                    return Ok(Value::List(items));
                }
                Some('"') => items.push(self.string()?),
                Some(_) => {
                    let word = self.bare();
                    if word.is_empty() {
                        let found = self.peek().map(String::from).unwrap_or_default();
                        return Err(self.err(self.line, format!("unexpected `{found}` in a list")));
                    }
                    self.skip_trivia();
                    if self.peek() == Some(':') {
                        self.bump();
                        self.skip_trivia();
                        let value = if self.peek() == Some('"') {
                            self.string()?
                        } else {
                            Value::Bare(self.bare())
                        };
                        items.push(Value::Entry(word, Box::new(value)));
                    } else {
                        items.push(Value::Bare(word));
                    }
                }
            }
            self.skip_trivia();
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some(']') | None => {}
                Some(c) => {
                    return Err(self.err(
                        self.line,
                        format!("expected `,` or `]` in a list, found `{c}`"),
                    ));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Semantics.

struct ViewDef {
    resource: Resource,
    extends: Vec<String>,
    refinement: bool,
}

struct ExploreDef {
    model: Option<String>,
    name: String,
    base_view: String,
    body: Vec<Pair>,
    path: String,
}

struct ParsedFile {
    views: Vec<ViewDef>,
    explores: Vec<ExploreDef>,
    model: Option<Resource>,
}

fn parse_file(source: &str, path: &str) -> Result<ParsedFile> {
    let pairs = Parser::new(source, path).pairs(None)?;
    let file_name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let model_name = file_name.strip_suffix(".model.lkml").map(str::to_owned);
    let mut out = ParsedFile {
        views: Vec::new(),
        explores: Vec::new(),
        model: None,
    };
    let mut model = model_name.as_ref().map(|m| {
        let mut r = Resource::new(
            format!("lookml:model.{m}"),
            ResourceSource::LookMl,
            ResourceKind::Other,
            m,
        );
        r.path = Some(path.to_owned());
        r.meta.insert("lookml_type".into(), "model".into());
        r
    });
    let mut includes = Vec::new();
    for pair in &pairs {
        let block_name = || {
            pair.name.clone().ok_or_else(|| {
                Error::invalid_input(format!("{path}:{}: `{}` needs a name", pair.line, pair.key))
            })
        };
        match pair.key.as_str() {
            "view" => out
                .views
                .push(view(&block_name()?, pair.value.block(), path)?),
            "explore" => {
                let name = block_name()?;
                let body = pair.value.block();
                let base_view = text(body, "from")
                    .or_else(|| text(body, "view_name"))
                    .unwrap_or_else(|| name.trim_start_matches('+').to_owned());
                out.explores.push(ExploreDef {
                    model: model_name.clone(),
                    name,
                    base_view,
                    body: body.to_vec(),
                    path: path.to_owned(),
                });
            }
            "include" => includes.extend(pair.value.items()),
            "connection" | "label" | "persist_for" | "week_start_day" => {
                if let (Some(m), Some(v)) = (model.as_mut(), pair.value.text()) {
                    m.meta.insert(pair.key.clone(), v.to_owned());
                    if pair.key == "label" {
                        m.label = Some(v.to_owned());
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(m) = model.as_mut()
        && !includes.is_empty()
    {
        m.meta.insert("include".into(), includes.join(", "));
    }
    out.model = model;
    Ok(out)
}

fn view(name: &str, body: &[Pair], path: &str) -> Result<ViewDef> {
    let refinement = name.starts_with('+');
    let name = name.trim_start_matches('+');
    let mut r = Resource::new(
        format!("lookml:view.{name}"),
        ResourceSource::LookMl,
        ResourceKind::View,
        name,
    );
    r.path = Some(path.to_owned());
    r.label = text(body, "label");
    r.description = text(body, "description");
    r.tags = get(body, "tags").map(Value::items).unwrap_or_default();
    if let Some(table) = text(body, "sql_table_name")
        && !is_templated(&table)
    {
        r.tables.push(unquote_relation(&table));
    }
    if let Some(dt) = get(body, "derived_table") {
        let dt = dt.block();
        if let Some(sql) = text(dt, "sql") {
            for t in tables_in_sql(&sql) {
                push_unique(&mut r.tables, t);
            }
            for v in view_refs(&sql) {
                push_unique(&mut r.related, format!("lookml:view.{v}"));
            }
            r.sql = Some(sql);
        }
        if let Some(explore) = dt
            .iter()
            .find(|p| p.key == "explore_source")
            .and_then(|p| p.name.as_ref())
        {
            r.meta.insert("explore_source".into(), explore.clone());
        }
        for key in ["datagroup_trigger", "persist_for", "sql_trigger_value"] {
            if let Some(v) = text(dt, key) {
                r.meta.insert(key.into(), v);
            }
        }
    }
    if is_yes(body, "extension") || text(body, "extension").as_deref() == Some("required") {
        r.meta.insert("extension".into(), "required".into());
    }
    for pair in body {
        let is_field = matches!(
            pair.key.as_str(),
            "dimension" | "measure" | "dimension_group" | "filter" | "parameter"
        );
        let Some(field_name) = &pair.name else {
            if is_field {
                return Err(Error::invalid_input(format!(
                    "{path}:{}: `{}` needs a name",
                    pair.line, pair.key
                )));
            }
            continue;
        };
        let fb = pair.value.block();
        match pair.key.as_str() {
            "dimension" => r
                .fields
                .push(field(field_name, FieldKind::Dimension, fb, "string")),
            "measure" => r
                .fields
                .push(field(field_name, FieldKind::Measure, fb, "count")),
            "dimension_group" => r.fields.extend(dimension_group(field_name, fb)),
            _ => {}
        }
    }
    let extends = get(body, "extends").map(Value::items).unwrap_or_default();
    Ok(ViewDef {
        resource: r,
        extends,
        refinement,
    })
}

fn field(name: &str, kind: FieldKind, body: &[Pair], default_type: &str) -> ResourceField {
    let mut f = ResourceField::new(name, kind);
    f.label = text(body, "label");
    f.description = text(body, "description");
    f.data_type = Some(text(body, "type").unwrap_or_else(|| default_type.to_owned()));
    f.expression = text(body, "sql");
    f.column = f.expression.as_deref().and_then(table_column);
    if is_yes(body, "primary_key") {
        f.tests.push("primary_key".into());
    }
    if let Some(filters) = get(body, "filters") {
        let filters = filters.items();
        if !filters.is_empty() {
            f.tests.push(format!("filters: [{}]", filters.join(", ")));
        }
    }
    f
}

const DEFAULT_TIMEFRAMES: &[&str] = &["raw", "time", "date", "week", "month", "quarter", "year"];
const DEFAULT_INTERVALS: &[&str] = &[
    "day", "hour", "minute", "month", "quarter", "second", "week", "year",
];

/// One field per timeframe (`created_date`, …) or, for `type: duration`, per interval
/// (`days_enrolled`, …), as Looker names them.
fn dimension_group(name: &str, body: &[Pair]) -> Vec<ResourceField> {
    let label = text(body, "label");
    let description = text(body, "description");
    let kind = text(body, "type").unwrap_or_else(|| "time".into());
    let (names, expression, column): (Vec<(String, String)>, Option<String>, Option<String>) =
        if kind == "duration" {
            let intervals = get(body, "intervals")
                .map(Value::items)
                .unwrap_or_else(|| DEFAULT_INTERVALS.iter().map(|s| s.to_string()).collect());
            let start = text(body, "sql_start").unwrap_or_default();
            let end = text(body, "sql_end").unwrap_or_default();
            (
                intervals
                    .into_iter()
                    .map(|i| (format!("{i}s_{name}"), format!("{i}s")))
                    .collect(),
                Some(format!("({end}) - ({start})")),
                None,
            )
        } else {
            let timeframes = get(body, "timeframes")
                .map(Value::items)
                .unwrap_or_else(|| DEFAULT_TIMEFRAMES.iter().map(|s| s.to_string()).collect());
            let sql = text(body, "sql");
            let column = sql.as_deref().and_then(table_column);
            (
                timeframes
                    .into_iter()
                    .map(|t| (format!("{name}_{t}"), t))
                    .collect(),
                sql,
                column,
            )
        };
    names
        .into_iter()
        .map(|(field_name, frame)| {
            let mut f = ResourceField::new(field_name, FieldKind::Dimension);
            f.label = label.as_ref().map(|l| format!("{l} {}", title(&frame)));
            f.description = description.clone();
            f.data_type = Some(match kind.as_str() {
                "duration" => "duration".into(),
                _ => format!("{kind} ({frame})"),
            });
            f.expression = expression.clone();
            f.column = column.clone();
            f
        })
        .collect()
}

fn title(s: &str) -> String {
    s.split('_')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `${TABLE}.col` (or a bare `col`) → `col`.
fn table_column(sql: &str) -> Option<String> {
    let sql = sql.trim();
    let col = sql.strip_prefix("${TABLE}.").unwrap_or(sql);
    let col = col.trim_matches(|c| c == '"' || c == '`');
    super::is_identifier(col).then(|| col.to_owned())
}

fn is_templated(s: &str) -> bool {
    s.contains("${") || s.contains("{{") || s.contains("{%")
}

/// Views referenced as `${name.SQL_TABLE_NAME}` in derived-table SQL.
fn view_refs(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = sql;
    while let Some(i) = rest.find("${") {
        rest = &rest[i + 2..];
        let Some(end) = rest.find('}') else { break };
        if let Some(view) = rest[..end].strip_suffix(".SQL_TABLE_NAME") {
            push_unique(&mut out, view.trim().to_owned());
        }
        rest = &rest[end..];
    }
    out
}

fn assemble(files: Vec<ParsedFile>) -> Vec<Resource> {
    // Views by name, refinements merged in file order.
    let mut views: Vec<ViewDef> = Vec::new();
    let mut refinements = Vec::new();
    let mut explores = Vec::new();
    let mut models = Vec::new();
    for file in files {
        for v in file.views {
            if v.refinement {
                refinements.push(v);
            } else {
                views.push(v);
            }
        }
        for e in file.explores {
            // An explore refinement (`explore: +orders`) adds to the explore it refines.
            let base = e.name.strip_prefix('+').and_then(|name| {
                explores
                    .iter_mut()
                    .find(|b: &&mut ExploreDef| b.name == name && b.model == e.model)
            });
            match base {
                Some(b) => b.body.extend(e.body),
                None => explores.push(e),
            }
        }
        models.extend(file.model);
    }
    for refinement in refinements {
        match views
            .iter_mut()
            .find(|v| v.resource.name == refinement.resource.name)
        {
            Some(base) => {
                overlay(&mut base.resource, refinement.resource);
                base.extends.extend(refinement.extends);
            }
            None => views.push(refinement),
        }
    }
    let by_name: HashMap<String, usize> = views
        .iter()
        .enumerate()
        .map(|(i, v)| (v.resource.name.clone(), i))
        .collect();
    let resolved: Vec<Resource> = (0..views.len())
        .map(|i| resolve_extends(i, &views, &by_name, 0))
        .collect();

    let mut out: Vec<Resource> = Vec::new();
    let mut explore_resources = Vec::new();
    for e in explores {
        let explore = explore(&e, &resolved);
        if let Some(m) = models
            .iter_mut()
            .find(|m: &&mut Resource| Some(&m.name) == e.model.as_ref())
        {
            push_unique(&mut m.related, explore.id.clone());
        }
        explore_resources.push(explore);
    }
    out.extend(resolved);
    out.extend(explore_resources);
    out.extend(models);
    out
}

/// The view at `i` with the views it `extends` underneath it.
fn resolve_extends(
    i: usize,
    views: &[ViewDef],
    by_name: &HashMap<String, usize>,
    depth: usize,
) -> Resource {
    let def = &views[i];
    if def.extends.is_empty() || depth > 16 {
        return def.resource.clone();
    }
    let mut merged: Option<Resource> = None;
    for base in &def.extends {
        let Some(&j) = by_name.get(base) else {
            continue;
        };
        let base = resolve_extends(j, views, by_name, depth + 1);
        merged = Some(match merged {
            None => base,
            Some(mut m) => {
                overlay(&mut m, base);
                m
            }
        });
    }
    let mut own = def.resource.clone();
    for base in &def.extends {
        push_unique(&mut own.related, format!("lookml:view.{base}"));
    }
    match merged {
        None => own,
        Some(mut m) => {
            m.meta.remove("extension");
            let (id, name, path) = (own.id.clone(), own.name.clone(), own.path.clone());
            if own.tables.is_empty() && own.sql.is_none() {
                own.tables = m.tables.clone();
                own.sql = m.sql.clone();
            } else {
                m.tables.clear();
                m.sql = None;
            }
            m.related.clear();
            overlay(&mut m, own);
            m.id = id;
            m.name = name;
            m.path = path;
            m
        }
    }
}

/// Lays `top` over `base`: fields replace same-named ones or are added; set values win.
fn overlay(base: &mut Resource, top: Resource) {
    for f in top.fields {
        match base.fields.iter_mut().find(|b| b.name == f.name) {
            Some(b) => *b = f,
            None => base.fields.push(f),
        }
    }
    if top.label.is_some() {
        base.label = top.label;
    }
    if top.description.is_some() {
        base.description = top.description;
    }
    if !top.tables.is_empty() || top.sql.is_some() {
        base.tables = top.tables;
        base.sql = top.sql;
    }
    for x in top.related {
        push_unique(&mut base.related, x);
    }
    for x in top.tags {
        push_unique(&mut base.tags, x);
    }
    base.meta.extend(top.meta);
}

fn explore(e: &ExploreDef, views: &[Resource]) -> Resource {
    let name = e.name.trim_start_matches('+');
    let id = match &e.model {
        Some(m) => format!("lookml:explore.{m}.{name}"),
        None => format!("lookml:explore.{name}"),
    };
    let mut r = Resource::new(id, ResourceSource::LookMl, ResourceKind::Explore, name);
    r.path = Some(e.path.clone());
    r.label = text(&e.body, "label");
    r.description = text(&e.body, "description");
    r.tags = get(&e.body, "tags").map(Value::items).unwrap_or_default();
    for key in ["sql_always_where", "sql_always_having", "always_filter"] {
        if let Some(v) = text(&e.body, key) {
            r.meta.insert(key.into(), v);
        }
    }
    let view_sql = |view: &str| {
        views
            .iter()
            .find(|v| v.name == view)
            .and_then(|v| {
                v.tables
                    .first()
                    .cloned()
                    .filter(|_| v.sql.is_none())
                    .or_else(|| v.sql.as_ref().map(|s| format!("({s})")))
            })
            .unwrap_or_else(|| view.to_owned())
    };
    let link = |r: &mut Resource, view: &str| {
        push_unique(&mut r.related, format!("lookml:view.{view}"));
        if let Some(v) = views.iter().find(|v| v.name == view) {
            for t in &v.tables {
                push_unique(&mut r.tables, t.clone());
            }
        }
    };
    link(&mut r, &e.base_view);
    let mut sql = format!("FROM {} AS {name}", view_sql(&e.base_view));
    for join in e.body.iter().filter(|p| p.key == "join") {
        let Some(alias) = &join.name else { continue };
        let jb = join.value.block();
        let view = text(jb, "from").unwrap_or_else(|| alias.clone());
        link(&mut r, &view);
        let kind = text(jb, "type").unwrap_or_else(|| "left_outer".into());
        let relationship = text(jb, "relationship").unwrap_or_else(|| "many_to_one".into());
        let on = text(jb, "sql_on").or_else(|| {
            text(jb, "foreign_key").map(|k| format!("${{{k}}} = ${{{alias}.primary_key}}"))
        });
        let keyword = match kind.as_str() {
            "inner" => "INNER JOIN",
            "full_outer" => "FULL OUTER JOIN",
            "cross" => "CROSS JOIN",
            _ => "LEFT JOIN",
        };
        sql.push_str(&format!("\n{keyword} {} AS {alias}", view_sql(&view)));
        if let Some(on) = &on {
            sql.push_str(&format!(" ON {on}"));
        }
        sql.push_str(&format!(" -- {relationship}"));
        let mut desc = format!("{kind} join of view {view}, {relationship}");
        if let Some(on) = on {
            desc.push_str(&format!(", on {on}"));
        }
        r.meta.insert(format!("join.{alias}"), desc);
    }
    r.sql = Some(sql);
    r
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Vec<Pair> {
        Parser::new(text, "t.lkml").pairs(None).unwrap()
    }

    #[test]
    fn values_lists_blocks_and_sql() {
        let d = doc(concat!(
            "# comment\nview: orders {  # trailing\n",
            "  sql_table_name: public.orders ;;\n",
            "  label: \"Orders \\\"all\\\"\"\n",
            "  drill_fields: [id, detail*, \"x\"]\n",
            "  measure: n { type: count filters: [status: \"-NULL\", id: \">0\"] }\n",
            "  derived_table: {\n    sql: SELECT 1 # not a comment\n      FROM t ;;\n  }\n",
            "  html: <b>{{ value }}</b> ;;\n",
            "}\n",
        ));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].name.as_deref(), Some("orders"));
        let body = d[0].value.block();
        assert_eq!(
            text(body, "sql_table_name").as_deref(),
            Some("public.orders")
        );
        assert_eq!(text(body, "label").as_deref(), Some("Orders \"all\""));
        assert_eq!(
            get(body, "drill_fields").map(Value::items),
            Some(vec!["id".into(), "detail*".into(), "x".into()])
        );
        let dt = get(body, "derived_table")
            .map(Value::block)
            .unwrap_or_default();
        assert_eq!(
            text(dt, "sql").as_deref(),
            Some("SELECT 1 # not a comment\n      FROM t")
        );
        assert_eq!(text(body, "html").as_deref(), Some("<b>{{ value }}</b>"));
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let cases = [
            ("view: a {\n  dimension: b {\n    sql: x ;;\n", "t.lkml:4:"),
            ("view: a {\n  sql_table_name: x\n}\n", "t.lkml:2:"),
            ("view: a {\n\n  label \"x\"\n}", "t.lkml:3:"),
            ("view: a {\n  label: \"x\n}", "t.lkml:2:"),
            ("}", "t.lkml:1:"),
            ("view: a { tags: [a b] }", "t.lkml:1:"),
        ];
        for (text, loc) in cases {
            let e = Parser::new(text, "t.lkml").pairs(None).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
            assert!(e.to_string().contains(loc), "{text:?}: {e}");
        }
    }

    #[test]
    fn explore_refinements_add_joins() {
        let text = "view: a { sql_table_name: s.a ;; }\nview: b { sql_table_name: s.b ;; }\n\
                    explore: a {}\nexplore: +a { join: b { sql_on: ${a.id} = ${b.id} ;; } }";
        let all = parse(text, "m.model.lkml").unwrap();
        let explores: Vec<&Resource> = all
            .iter()
            .filter(|r| r.kind == ResourceKind::Explore)
            .collect();
        assert_eq!(explores.len(), 1);
        assert_eq!(explores[0].id, "lookml:explore.m.a");
        assert_eq!(explores[0].tables, vec!["s.a", "s.b"]);
    }

    #[test]
    fn table_columns() {
        assert_eq!(table_column("${TABLE}.status"), Some("status".into()));
        assert_eq!(table_column("${TABLE}.\"Status\""), Some("Status".into()));
        assert_eq!(table_column("${amount} * 2"), None);
        assert_eq!(view_refs("FROM ${orders.SQL_TABLE_NAME} o"), vec!["orders"]);
    }
}
