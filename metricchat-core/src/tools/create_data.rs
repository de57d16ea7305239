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
            .map(|p| p.schema_for(Some(connection)))
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
        let mut sql = match args
            .sql
            .as_deref()
            .map(extract_sql)
            .filter(|s| !s.is_empty())
        {
            Some(sql) => sql,
            None => {
                ctx.progress("writing SQL");
                write_sql(
                    ctx,
                    &system,
                    prompts::sql_write(ctx.question(), &need),
                    "sql_write",
                    0.0,
                )
                .await?
            }
        };
        let mut attempt = 1;
        let mut failed: Vec<String> = Vec::new();
        let outcome = loop {
            match ctx
                .run_sql(Some(&info.name), &sql, attempt, Some(&args.title))
                .await
            {
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
