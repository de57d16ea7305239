//! Schema-recall evaluation of the context hub's table selection on Spider-format data.
//!
//! ```text
//! cargo run --release --example schema_recall -- \
//!     --tables tables.json[.gz] --questions dev.json [--budget 4000] [--max-tables 20] \
//!     [--merged] [--baseline] [--verbose]
//! ```
//!
//! `tables.json` is Spider's format (`db_id`, `table_names_original`, `column_names_original`,
//! `column_types`, `foreign_keys`, `primary_keys`; optional `table_descriptions` and
//! `column_descriptions` as in Spider 2.0's conversion). Each question has `db_id`,
//! `question`, and either `gold_tables` or a gold `query` whose tables are parsed from the SQL.
//!
//! For every question the hub selects tables within `--budget` tokens (cl100k_base) and at
//! most `--max-tables` tables; the tool prints the mean recall of the gold tables, the share of
//! questions with every gold table selected, and the tokens and tables used. By default each
//! question sees its own database; `--merged` puts every database in one hub, as one large
//! warehouse. A table that stands for a family of date-sharded tables with the same columns
//! (`events_20240101`…) covers its members ("recall"); "strict recall" counts only tables
//! described by name. `--baseline` also prints plain single-field BM25 over names, columns and
//! descriptions, top `--max-tables`, for comparison in the same run.
#![allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::time::Instant;

use metricchat_core::connector::{
    Capabilities, ColumnInfo, ConnectorInfo, Dialect, ForeignKey, TableRef, TableSchema,
};
use metricchat_core::context::search::{FieldSpec, TextIndex};
use metricchat_core::context::tokens::BpeCounter;
use metricchat_core::context::{ContextConfig, ContextHub};
use serde::Deserialize;

#[derive(Deserialize)]
struct Db {
    db_id: String,
    table_names_original: Vec<String>,
    column_names_original: Vec<(i64, String)>,
    #[serde(default)]
    column_types: Vec<String>,
    #[serde(default)]
    foreign_keys: Vec<(usize, usize)>,
    #[serde(default)]
    primary_keys: Vec<serde_json::Value>,
    #[serde(default)]
    table_descriptions: Vec<String>,
    #[serde(default)]
    column_descriptions: Vec<String>,
}

#[derive(Deserialize)]
struct Question {
    db_id: String,
    question: String,
    #[serde(default)]
    gold_tables: Option<Vec<String>>,
    #[serde(default)]
    query: Option<String>,
}

struct Args {
    tables: String,
    questions: String,
    budget: usize,
    max_tables: usize,
    merged: bool,
    baseline: bool,
    verbose: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        tables: String::new(),
        questions: String::new(),
        budget: 4_000,
        max_tables: 20,
        merged: false,
        baseline: false,
        verbose: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--tables" => a.tables = value("--tables")?,
            "--questions" => a.questions = value("--questions")?,
            "--budget" => a.budget = value("--budget")?.parse().map_err(|e| format!("{e}"))?,
            "--max-tables" => {
                a.max_tables = value("--max-tables")?.parse().map_err(|e| format!("{e}"))?;
            }
            "--merged" => a.merged = true,
            "--baseline" => a.baseline = true,
            "--verbose" => a.verbose = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.tables.is_empty() || a.questions.is_empty() {
        return Err("usage: schema_recall --tables tables.json --questions dev.json [--budget N] [--max-tables K] [--merged] [--baseline] [--verbose]".into());
    }
    Ok(a)
}

fn read_text(path: &str) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    if path.ends_with(".gz") {
        let mut s = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut s)
            .map_err(|e| format!("{path}: {e}"))?;
        Ok(s)
    } else {
        String::from_utf8(bytes).map_err(|e| format!("{path}: {e}"))
    }
}

fn table_ref(name: &str) -> TableRef {
    TableRef::parse(name)
}

fn schemas(db: &Db) -> Vec<TableSchema> {
    let mut out: Vec<TableSchema> = db
        .table_names_original
        .iter()
        .enumerate()
        .map(|(i, t)| TableSchema {
            table: table_ref(t),
            kind: Default::default(),
            columns: Vec::new(),
            comment: db
                .table_descriptions
                .get(i)
                .filter(|d| !d.trim().is_empty())
                .cloned(),
            primary_key: Vec::new(),
            foreign_keys: Vec::new(),
            row_estimate: None,
        })
        .collect();
    for (ci, (ti, name)) in db.column_names_original.iter().enumerate() {
        let Ok(ti) = usize::try_from(*ti) else {
            continue; // the `*` pseudo-column
        };
        if let Some(t) = out.get_mut(ti) {
            t.columns.push(ColumnInfo {
                name: name.clone(),
                data_type: db.column_types.get(ci).cloned().unwrap_or_default(),
                nullable: true,
                comment: db
                    .column_descriptions
                    .get(ci)
                    .filter(|d| !d.trim().is_empty())
                    .cloned(),
            });
        }
    }
    let col = |ci: usize| -> Option<(usize, String)> {
        let (ti, n) = db.column_names_original.get(ci)?;
        Some((usize::try_from(*ti).ok()?, n.clone()))
    };
    for &(from, to) in &db.foreign_keys {
        if let (Some((ft, fc)), Some((tt, tc))) = (col(from), col(to))
            && let Some(target) = db.table_names_original.get(tt)
        {
            out[ft].foreign_keys.push(ForeignKey {
                columns: vec![fc],
                references: table_ref(target),
                referenced_columns: vec![tc],
            });
        }
    }
    for pk in &db.primary_keys {
        let cols: Vec<usize> = match pk {
            serde_json::Value::Number(n) => n.as_u64().into_iter().map(|v| v as usize).collect(),
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_u64().map(|v| v as usize))
                .collect(),
            _ => Vec::new(),
        };
        for ci in cols {
            if let Some((ti, n)) = col(ci)
                && let Some(t) = out.get_mut(ti)
            {
                t.primary_key.push(n);
            }
        }
    }
    out
}

/// Tables a gold SQL query reads.
fn tables_of_sql(sql: &str) -> Vec<String> {
    let dialect = sqlparser::dialect::GenericDialect {};
    let Ok(statements) = sqlparser::parser::Parser::parse_sql(&dialect, sql) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let _ = sqlparser::ast::visit_relations(&statements, |r| {
        out.push(
            r.0.iter()
                .map(|p| {
                    p.to_string()
                        .trim_matches('"')
                        .trim_matches('`')
                        .to_string()
                })
                .collect::<Vec<_>>()
                .join("."),
        );
        std::ops::ControlFlow::<()>::Continue(())
    });
    out
}

fn same_table(gold: &str, t: &TableRef) -> bool {
    let g = TableRef::parse(gold);
    g.name.eq_ignore_ascii_case(&t.name)
        && match (&g.schema, &t.schema) {
            (Some(a), Some(b)) => a
                .rsplit('.')
                .next()
                .is_some_and(|a| a.eq_ignore_ascii_case(b)),
            _ => true,
        }
}

fn info(name: &str) -> ConnectorInfo {
    ConnectorInfo {
        name: name.to_string(),
        backend: "spider".into(),
        dialect: Dialect::Generic,
        capabilities: Capabilities::none(),
    }
}

#[derive(Default)]
struct Tally {
    n: usize,
    recall: f64,
    strict: f64,
    full: usize,
    tokens: usize,
    tables: usize,
    millis: f64,
}

impl Tally {
    fn print(&self, label: &str) {
        let n = self.n.max(1) as f64;
        println!(
            "{label:<34} recall {:.3}  strict {:.3}  all-gold {:.3}  tables {:.1}  tokens {:.0}  select {:.2} ms",
            self.recall / n,
            self.strict / n,
            self.full as f64 / n,
            self.tables as f64 / n,
            self.tokens as f64 / n,
            self.millis / n
        );
    }
}

fn main() -> Result<(), String> {
    let args = parse_args()?;
    let dbs: Vec<Db> = serde_json::from_str(&read_text(&args.tables)?)
        .map_err(|e| format!("{}: {e}", args.tables))?;
    let questions: Vec<Question> = serde_json::from_str(&read_text(&args.questions)?)
        .map_err(|e| format!("{}: {e}", args.questions))?;
    let counter = std::sync::Arc::new(BpeCounter::cl100k());
    let mut config = ContextConfig::default();
    config.max_full_tables = args.max_tables;
    config.schema_tokens = args.budget;

    let by_db: BTreeMap<&str, &Db> = dbs.iter().map(|d| (d.db_id.as_str(), d)).collect();
    let total_tables: usize = dbs.iter().map(|d| d.table_names_original.len()).sum();
    let total_columns: usize = dbs.iter().map(|d| d.column_names_original.len()).sum();
    println!(
        "{} databases, {total_tables} tables, {total_columns} columns; {} questions; budget {} tokens, at most {} tables; {}",
        dbs.len(),
        questions.len(),
        args.budget,
        args.max_tables,
        if args.merged {
            "merged catalog"
        } else {
            "per-database catalogs"
        }
    );

    let started = Instant::now();
    let mut hubs: BTreeMap<String, ContextHub> = BTreeMap::new();
    if args.merged {
        let hub = ContextHub::builder()
            .config(config.clone())
            .token_counter(counter.clone())
            .build();
        for db in &dbs {
            hub.add_catalog(info(&db.db_id), schemas(db))
                .map_err(|e| e.to_string())?;
        }
        hubs.insert(String::new(), hub);
    } else {
        for db in &dbs {
            let hub = ContextHub::builder()
                .config(config.clone())
                .token_counter(counter.clone())
                .build();
            hub.add_catalog(info(&db.db_id), schemas(db))
                .map_err(|e| e.to_string())?;
            hubs.insert(db.db_id.clone(), hub);
        }
    }
    // Build the indexes now so the timing below is selection only.
    for hub in hubs.values() {
        let _ = hub.select_tables("warm up", 1);
    }
    println!(
        "index build: {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );

    let mut hub_tally = Tally::default();
    let mut base_tally = Tally::default();
    let mut skipped = 0;
    for q in &questions {
        let gold: Vec<String> = match (&q.gold_tables, &q.query) {
            (Some(g), _) if !g.is_empty() => g.clone(),
            (_, Some(sql)) => tables_of_sql(sql),
            _ => Vec::new(),
        };
        let gold: Vec<String> = gold
            .into_iter()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let Some(db) = by_db.get(q.db_id.as_str()) else {
            skipped += 1;
            continue;
        };
        if gold.is_empty() {
            skipped += 1;
            continue;
        }
        let hub = if args.merged {
            &hubs[""]
        } else {
            &hubs[&q.db_id]
        };
        let t0 = Instant::now();
        let sel = hub.select_tables(&q.question, args.budget);
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        let on_db: Vec<_> = sel.iter().filter(|s| s.connection == q.db_id).collect();
        let covered = |g: &String, strict: bool| {
            on_db.iter().any(|s| {
                same_table(g, &s.table)
                    || (!strict
                        && s.family
                            .as_ref()
                            .is_some_and(|f| f.tables.iter().any(|m| same_table(g, m))))
            })
        };
        let hit = gold.iter().filter(|g| covered(g, false)).count();
        let hit_strict = gold.iter().filter(|g| covered(g, true)).count();
        hub_tally.n += 1;
        hub_tally.recall += hit as f64 / gold.len() as f64;
        hub_tally.strict += hit_strict as f64 / gold.len() as f64;
        hub_tally.full += usize::from(hit == gold.len());
        hub_tally.tokens += sel.iter().map(|s| s.tokens).sum::<usize>();
        hub_tally.tables += sel.len();
        hub_tally.millis += ms;
        if args.verbose && hit < gold.len() {
            println!(
                "MISS {} | gold {:?} | chose {:?}",
                q.question,
                gold,
                on_db
                    .iter()
                    .map(|s| s.table.to_string())
                    .collect::<Vec<_>>()
            );
        }
        if args.baseline {
            // Plain BM25, one field: names, columns, descriptions; top K tables.
            let mut idx = TextIndex::new(vec![FieldSpec::new(1.0)]);
            let tables = schemas(db);
            for t in &tables {
                let mut text = t.table.to_string();
                for c in &t.columns {
                    text.push(' ');
                    text.push_str(&c.name);
                    if let Some(d) = &c.comment {
                        text.push(' ');
                        text.push_str(d);
                    }
                }
                if let Some(d) = &t.comment {
                    text.push(' ');
                    text.push_str(d);
                }
                idx.add(&[text]);
            }
            let top = idx.search(&q.question, args.max_tables);
            let chosen: Vec<&TableRef> = top.iter().map(|(i, _)| &tables[*i].table).collect();
            let hit = gold
                .iter()
                .filter(|g| chosen.iter().any(|t| same_table(g, t)))
                .count();
            base_tally.n += 1;
            base_tally.recall += hit as f64 / gold.len() as f64;
            base_tally.strict += hit as f64 / gold.len() as f64;
            base_tally.full += usize::from(hit == gold.len());
            base_tally.tables += chosen.len();
        }
    }
    if skipped > 0 {
        println!("{skipped} question(s) skipped (unknown db_id or no gold tables)");
    }
    hub_tally.print("context hub (BM25F + FK + families)");
    if args.baseline {
        base_tally.print(&format!("plain BM25 top-{}", args.max_tables));
    }
    Ok(())
}
