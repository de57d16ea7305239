//! `create_data`: SQL for a data need, run through the guard, repaired on error (bounded),
//! returned as Arrow with a chart.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::create_visualization::chart_for;
use super::{Tool, ToolCategory, ToolContext, ToolError, ToolPolicy};
use crate::data;
use crate::error::{Error, ErrorKind};
use crate::guard::clean::sql_from_reply;
use crate::guard::extract_sql;
use crate::llm::{ChatMessage, ChatRequest};
use crate::prompts;
use crate::viz::{ChartHint, ChartSpec};

/// SQL attempts per call: the first plus two repairs.
pub const MAX_SQL_ATTEMPTS: u32 = 3;
/// Rows of the result the model sees.
const PREVIEW_ROWS: usize = 20;

/// Produces a dataset: writes (or takes) SQL, runs it, repairs it on error, charts it.
#[derive(Debug, Clone, Copy, Default)]
pub struct CreateData;

/// Arguments of [`CreateData`].
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateDataArgs {
    /// Short title of the dataset, e.g. "Average departure delay by carrier" (taken from the
    /// description or the question when left out).
    #[serde(default)]
    pub title: String,
    /// One read-only SELECT answering the need. Omit to have it written from `description`.
    #[serde(default)]
    pub sql: Option<String>,
    /// The data need in words (used to write or repair the SQL).
    #[serde(default)]
    pub description: Option<String>,
    /// Connection name; omit when there is one connection.
    #[serde(default)]
    pub connection: Option<String>,
    /// Optional chart preferences; omitted fields are inferred from the data.
    #[serde(default)]
    pub chart: Option<ChartHint>,
}

/// Output of [`CreateData`]: what the model sees of the dataset.
#[derive(Debug, Serialize)]
pub struct CreateDataOutput {
    /// Id for `create_visualization`.
    pub query_id: Uuid,
    /// Title.
    pub title: String,
    /// The SQL that ran.
    pub sql: String,
    /// Rows returned.
    pub row_count: usize,
    /// Column names and types.
    pub columns: Vec<crate::data::ColumnMeta>,
    /// The first rows.
    pub rows: Vec<serde_json::Value>,
    /// Whether the row cap (or the preview) cut the rows shown.
    pub truncated: bool,
    /// SQL attempts used.
    pub attempts: u32,
    /// The chart proposed.
    pub chart: Option<ChartSpec>,
    /// Set when the data exposure withholds this result's values from the model (`rows` is
    /// then empty): how to refer to them in the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values_withheld: Option<String>,
}

fn sql_system_prompt(ctx: &ToolContext, dialect: &str, connection: &str) -> String {
    prompts::sql_writer(
        dialect,
        &ctx.plan()
            .map(|p| p.sql_schema_for(connection))
            .unwrap_or_else(|| ctx.hub().schema_text(Some(connection))),
        &ctx.plan()
            .map(|p| format!("{}{}", p.section("rules"), p.section("memories")))
            .unwrap_or_else(|| ctx.hub().rules_text()),
    )
}

async fn write_sql(
    ctx: &ToolContext,
    system: &str,
    user: String,
    purpose: &str,
    temperature: f32,
) -> Result<String, ToolError> {
    let req = ChatRequest {
        temperature: Some(temperature),
        ..ChatRequest::new(vec![ChatMessage::system(system), ChatMessage::user(user)])
    }
    .with_purpose(purpose);
    let resp = ctx.complete(req.clone()).await?;
    let sql = sql_from_reply(&resp.text);
    if !sql.is_empty() {
        return Ok(sql);
    }
    // Small models sometimes answer in prose or ask back instead of writing the query: ask
    // once more in the same conversation, told so, a little warmer.
    ctx.progress("the model wrote no SQL; asking again");
    let mut messages = req.messages;
    messages.push(ChatMessage::assistant(resp.text));
    messages.push(ChatMessage::user(prompts::SQL_ONLY));
    let again = ChatRequest {
        temperature: Some(temperature.max(0.3)),
        ..ChatRequest::new(messages)
    }
    .with_purpose(purpose);
    let sql = sql_from_reply(&ctx.complete(again).await?.text);
    if sql.is_empty() {
        return Err(ToolError::retryable("the model returned no SQL, twice"));
    }
    Ok(sql)
}

/// SQL compared for sameness: case and whitespace ignored.
fn normalize_sql(sql: &str) -> String {
    sql.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Whether feeding the error back to the model can fix the SQL. A statement denied approval is
/// not: the planner reads the denial and decides what cheaper question to ask, rather than the
/// SQL writer trying variations that each wait for another decision.
fn repairable(e: &Error) -> bool {
    if matches!(e, Error::NotApproved { .. }) {
        return false;
    }
    matches!(e, Error::SqlRefused { .. } | Error::Query { .. })
        || matches!(e.kind(), ErrorKind::InvalidInput | ErrorKind::QueryFailed)
            && !matches!(e, Error::Connection { .. })
}

impl Tool for CreateData {
    const NAME: &'static str = "create_data";
    type Args = CreateDataArgs;
    type Output = CreateDataOutput;

    fn description(&self) -> String {
        prompts::CREATE_DATA.into()
    }

    fn category(&self) -> ToolCategory {
        ToolCategory::Action
    }

    fn policy(&self) -> ToolPolicy {
        ToolPolicy::default()
            .with_attempts(1)
            .with_idle_timeout(std::time::Duration::from_secs(180))
            .with_hard_timeout(std::time::Duration::from_secs(600))
    }

    async fn call(
        &self,
        ctx: &ToolContext,
        args: CreateDataArgs,
    ) -> Result<CreateDataOutput, ToolError> {
        let mut args = args;
        if args.title.trim().is_empty() {
            // Small models leave the title out; a missing title must not cost a step.
            let from = args.description.as_deref().unwrap_or(ctx.question());
            args.title = crate::text::one_line(from, 80);
        }
        let conn = ctx.connection(args.connection.as_deref())?.clone();
        let info = conn.info();
        let need = args
            .description
            .clone()
            .unwrap_or_else(|| args.title.clone());
        let system = sql_system_prompt(ctx, info.dialect.display_name(), &info.name);
        let given = args
            .sql
            .as_deref()
            .map(extract_sql)
            .filter(|s| !s.is_empty());
        let write_prompt = prompts::sql_write(ctx.question(), &need);
        let candidates = if given.is_some() {
            1
        } else {
            ctx.sql_candidates()
        };
        let mut sql = match given {
            Some(sql) => sql,
            None => {
                ctx.progress("writing SQL");
                write_sql(ctx, &system, write_prompt.clone(), "sql_write", 0.0).await?
            }
        };
        // With candidates, the first run is the vote's: its winner, or the first candidate's
        // failure for the repair below.
        let mut first = if candidates > 1 {
            let ballot = Ballot {
                ctx,
                connection: &info.name,
                system: &system,
                prompt: &write_prompt,
                title: &args.title,
            };
            Some(ballot.vote(&sql, candidates).await?)
        } else {
            None
        };
        let mut attempt = 1;
        let mut failed: Vec<String> = Vec::new();
        let outcome = loop {
            let result = match first.take() {
                Some(voted) => voted,
                None => {
                    ctx.run_sql(Some(&info.name), &sql, attempt, Some(&args.title))
                        .await
                }
            };
            match result {
                Ok(o) => break o,
                Err(e) if attempt < MAX_SQL_ATTEMPTS && repairable(&e) => {
                    ctx.progress(format!("attempt {attempt} failed; repairing SQL"));
                    failed.push(normalize_sql(&sql));
                    let prompt = prompts::sql_repair(ctx.question(), &need, &sql, &e);
                    let mut repaired =
                        write_sql(ctx, &system, prompt.clone(), "sql_repair", 0.0).await?;
                    if failed.contains(&normalize_sql(&repaired)) {
                        // Small models often hand the failing query back unchanged; running it
                        // again would fail the same way. Ask once more, warmer and told so.
                        ctx.progress("the correction repeated the failing SQL; asking again");
                        repaired = write_sql(
                            ctx,
                            &system,
                            prompts::sql_repair_repeated(&prompt),
                            "sql_repair",
                            0.7,
                        )
                        .await?;
                    }
                    if failed.contains(&normalize_sql(&repaired)) {
                        return Err(ToolError::failed(format!(
                            "{e} (the SQL could not be repaired: every correction repeated the \
                             failing query; change the query yourself, using the error's hint)"
                        )));
                    }
                    sql = repaired;
                    attempt += 1;
                }
                Err(e) => {
                    let attempts = attempt;
                    let mut err = ToolError::from(e);
                    if attempts > 1 {
                        err.message = format!("{} (after {attempts} SQL attempts)", err.message);
                    }
                    return Err(err);
                }
            }
        };
        let chart = chart_for(ctx, Some(outcome.query_id), args.chart.as_ref())
            .map(|(_, _, spec)| spec)
            .ok();
        let row_count = outcome.data.num_rows();
        let withheld = ctx.withheld_note(outcome.query_id);
        Ok(CreateDataOutput {
            query_id: outcome.query_id,
            title: args.title,
            sql: outcome.sql,
            row_count,
            columns: data::columns_meta(&outcome.data.schema),
            rows: match withheld {
                Some(_) => Vec::new(),
                None => data::batches_to_json_rows(&outcome.data.batches, PREVIEW_ROWS)?,
            },
            truncated: outcome.truncated || (withheld.is_none() && row_count > PREVIEW_ROWS),
            attempts: attempt,
            chart,
            values_withheld: withheld,
        })
    }
}

/// Temperature of the sampled SQL candidates (the first is greedy).
const CANDIDATE_TEMPERATURE: f32 = 0.6;

/// One SQL candidate of a vote: its (normalised) SQL, how many candidates wrote it, and what
/// running it gave.
struct Candidate {
    normalized: String,
    weight: u32,
    result: crate::error::Result<crate::run::Dataset>,
    table: Option<crate::compare::Table>,
}

/// Self-consistency over SQL candidates ([`crate::agent::AgentConfig::sql_candidates`]).
struct Ballot<'a> {
    ctx: &'a ToolContext,
    connection: &'a str,
    system: &'a str,
    prompt: &'a str,
    title: &'a str,
}

impl Ballot<'_> {
    /// Writes up to `n` candidates (the greedy `first` and sampled ones), runs each distinct
    /// one as an exploratory query, and adopts the result most candidates agree with as the
    /// dataset; stops once a majority agrees. Ties go to the earliest (the greedy one). When
    /// no candidate ran, the first one's error comes back for the repair.
    async fn vote(
        &self,
        first: &str,
        n: u32,
    ) -> Result<crate::error::Result<crate::run::Dataset>, ToolError> {
        let mut all: Vec<Candidate> = Vec::new();
        for i in 0..n {
            let sql = if i == 0 {
                first.to_string()
            } else {
                if majority(&all, n).is_some() {
                    break;
                }
                self.ctx
                    .progress(format!("writing SQL candidate {} of {n}", i + 1));
                match write_sql(
                    self.ctx,
                    self.system,
                    self.prompt.to_string(),
                    "sql_candidate",
                    CANDIDATE_TEMPERATURE,
                )
                .await
                {
                    Ok(sql) => sql,
                    // A candidate the model could not write is no vote.
                    Err(_) => continue,
                }
            };
            let normalized = normalize_sql(&sql);
            if let Some(same) = all.iter_mut().find(|c| c.normalized == normalized) {
                same.weight += 1;
                continue;
            }
            let result = self.ctx.run_sql(Some(self.connection), &sql, 1, None).await;
            if matches!(&result, Err(Error::Cancelled)) {
                return Err(ToolError::from(Error::Cancelled));
            }
            let table = result
                .as_ref()
                .ok()
                .map(|d| {
                    crate::compare::Table::from_batches(
                        d.data
                            .schema
                            .fields()
                            .iter()
                            .map(|f| f.name().clone())
                            .collect(),
                        &d.data.batches,
                    )
                })
                .filter(|t| !t.is_nothing());
            all.push(Candidate {
                normalized,
                weight: 1,
                result,
                table,
            });
        }
        let winner = majority(&all, n)
            .or_else(|| plurality(&all))
            // No rows anywhere: the first candidate that ran (the meaning checks say "no rows").
            .or_else(|| all.iter().position(|c| c.result.is_ok()));
        let Some(winner) = winner else {
            let first = all.into_iter().next().map(|c| c.result);
            return Ok(first.unwrap_or_else(|| Err(Error::Internal("no SQL candidate ran".into()))));
        };
        let agreeing = votes(&all, winner);
        let losers: Vec<Uuid> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != winner)
            .filter_map(|(_, c)| c.result.as_ref().ok().map(|d| d.query_id))
            .collect();
        let mut chosen = all.swap_remove(winner).result;
        if let Ok(d) = &mut chosen {
            self.ctx
                .adopt_candidate(d.query_id, self.title, &losers)
                .map_err(ToolError::from)?;
            d.title = Some(self.title.to_string());
            self.ctx
                .progress(format!("{agreeing} of {n} SQL candidates agree"));
        }
        Ok(chosen)
    }
}

/// Candidates (weighted by how many wrote the same SQL) whose result agrees with candidate
/// `i`'s, itself included; 0 when `i` returned nothing (no rows, or one row of zeros and
/// NULLs: what a filter that matched nothing gives a COUNT or a SUM).
fn votes(all: &[Candidate], i: usize) -> u32 {
    let Some(t) = &all[i].table else {
        return 0;
    };
    all.iter()
        .filter(|c| {
            c.table
                .as_ref()
                .is_some_and(|u| crate::compare::tables_agree(t, u, 1e-6))
        })
        .map(|c| c.weight)
        .sum()
}

/// The candidate a majority of `n` agrees with, if there is one yet.
fn majority(all: &[Candidate], n: u32) -> Option<usize> {
    (0..all.len()).find(|&i| votes(all, i) * 2 > n)
}

/// The candidate with the most agreement (the earliest on a tie), among those with rows.
fn plurality(all: &[Candidate]) -> Option<usize> {
    (0..all.len())
        .map(|i| (i, votes(all, i)))
        .filter(|(_, v)| *v > 0)
        .fold(None, |best: Option<(usize, u32)>, (i, v)| match best {
            Some((_, bv)) if bv >= v => best,
            _ => Some((i, v)),
        })
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;
    use crate::compare::Table;

    fn table(names: &[&str], counts: &[i64]) -> Table {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(names.to_vec())),
            Arc::new(Int64Array::from(counts.to_vec())),
        ];
        let schema = Schema::new(vec![
            Field::new("name", cols[0].data_type().clone(), true),
            Field::new("n", cols[1].data_type().clone(), true),
        ]);
        let batch = RecordBatch::try_new(Arc::new(schema), cols).unwrap();
        Table::from_batches(vec!["name".into(), "n".into()], &[batch])
    }

    fn candidate(sql: &str, table: Option<Table>) -> Candidate {
        Candidate {
            normalized: normalize_sql(sql),
            weight: 1,
            result: Err(Error::Internal("not run in this test".into())),
            table,
        }
    }

    #[test]
    fn the_result_most_candidates_agree_on_wins() {
        let greedy = candidate("a", Some(table(&["UA"], &[1])));
        let b = candidate("b", Some(table(&["United"], &[5])));
        let c = candidate("c", Some(table(&["United"], &[5])));
        let all = vec![greedy, b, c];
        assert_eq!(votes(&all, 0), 1);
        assert_eq!(votes(&all, 1), 2);
        assert_eq!(majority(&all, 3), Some(1));
    }

    #[test]
    fn a_tie_goes_to_the_greedy_candidate_and_failures_get_no_vote() {
        let all = vec![
            candidate("a", Some(table(&["x"], &[1]))),
            candidate("b", Some(table(&["y"], &[2]))),
            candidate("c", None),
        ];
        assert_eq!(majority(&all, 3), None);
        assert_eq!(plurality(&all), Some(0));
        assert_eq!(votes(&all, 2), 0);
        let nothing = vec![candidate("a", None), candidate("b", None)];
        assert_eq!(plurality(&nothing), None);
    }

    #[test]
    fn the_same_sql_twice_is_two_votes_and_ends_the_vote() {
        let mut first = candidate("SELECT 1", Some(table(&["x"], &[1])));
        first.weight = 2;
        assert_eq!(majority(&[first], 3), Some(0));
    }
}
