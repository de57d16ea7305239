//! Every text metricchat sends to a model, in one place so they can be found and compared: the
//! run's system prompt, the title prompt, the built-in tools' descriptions and inner prompts,
//! and the JSON-in-text decision format of the planner.
//!
//! `tests/it/evals.rs` replays a recorded model run: a change to any of these texts changes the
//! requests and fails the replay. Re-record the run when a prompt changes on purpose.

use std::fmt::Display;

use crate::context::ContextPlan;

/// The system prompt of a run: the role, then the plan's sections (connections, schema, table
/// index, knowledge, rules, memories), then how to work and the embedder's instructions.
pub(crate) fn system_prompt(
    plan: &ContextPlan,
    extra: Option<&str>,
    sql_rules: bool,
    exposure: crate::exposure::DataExposure,
) -> String {
    let mut p = String::from(
        "You are metricchat, a careful data analyst. You answer the user's question about \
         their data by running read-only SQL with the tools, then you answer in plain words \
         with the exact numbers from the results. Never invent numbers.\n\n",
    );
    p.push_str("Connections:\n");
    p.push_str(plan.section("connections"));
    p.push_str("\nSchema:\n");
    p.push_str(plan.section("schema"));
    p.push_str(plan.section("table_index"));
    for name in ["knowledge", "rules", "memories"] {
        let s = plan.section(name);
        if !s.is_empty() {
            p.push('\n');
            p.push_str(s);
        }
    }
    p.push_str(
        "\nHow to work: use create_data with one SQL SELECT that computes what the question \
         asks (use only the tables and columns above; use describe_tables or inspect_data \
         first only if you are unsure). Look at the rows it returns, then finish with the \
         answer. If a tool reports an error, fix the cause and try again.\n",
    );
    if sql_rules {
        p.push_str(SQL_RULES);
        p.push_str(
            "- Ask a clarifying question only when the question can mean very different things \
             and no query can settle it.\n",
        );
    }
    if !exposure.is_full() {
        p.push_str(&crate::exposure::prompt_note(exposure));
    }
    if let Some(extra) = extra {
        p.push('\n');
        p.push_str(extra);
        p.push('\n');
    }
    p
}

/// The follow-up when the SQL writer answered without a query.
pub(crate) const SQL_ONLY: &str = "That reply has no SQL query. Reply with exactly one SQL \
     query that answers the request, in a ```sql block, and nothing else.";

/// Rules for writing SQL that means what the question asks (the run's system prompt carries
/// them when answer checks are on; the SQL-first protocol hands them to `create_data`).
pub(crate) const SQL_RULES: &str = "SQL rules:\n\
     - most/highest/worst delay: ORDER BY … DESC; least/lowest/best: ORDER BY … ASC. \
     For \"which …\" or \"who …\" questions return the top row only (LIMIT 1).\n\
     - Leave out NULLs of the column you group by or rank (WHERE x IS NOT NULL).\n\
     - When the question asks which thing (a company, a place, a person, a product), return its \
     name from the table that holds names, not only its code or id.\n\
     - Filter text with values exactly as the data writes them (see the sample values; case and \
     spelling matter).\n\
     - Percentages: 100.0 * part / total. Averages and ratios: never integer division.\n";

/// The SQL rules the SQL-first protocol hands `create_data`: [`SQL_RULES`] without the NULL
/// rule, which small models apply to every column they touch (`dep_delay IS NOT NULL` in a
/// count of scheduled flights); a result that ranks a NULL first is caught by the meaning
/// checks instead. Superlatives over dates and years are spelled out.
pub(crate) const SQL_FIRST_RULES: &str = "SQL rules:\n\
     - most/highest/largest/worst: ORDER BY … DESC; least/lowest/fewest/best: ORDER BY … ASC; \
     oldest/earliest by a date or year: ASC, newest/latest: DESC. For \"which …\" or \"who …\" \
     questions return the top row only (LIMIT 1).\n\
     - When the question asks which thing (a company, a place, a person, a product), return its \
     name from the table that holds names, not only its code or id.\n\
     - Filter text with values exactly as the data writes them (see the sample values; case and \
     spelling matter).\n\
     - Percentages: 100.0 * part / total. Averages and ratios: never integer division.\n";

/// The system prompt of the run-title call.
pub(crate) const TITLE: &str = "Write a title of at most six words for the user's question. Reply with the \
     title only.";

/// The `create_data` tool's description.
pub(crate) const CREATE_DATA: &str = "Create the dataset that answers (part of) the question: give a title and one read-only \
         SQL SELECT. It runs, is repaired automatically if it fails, and is charted. You see the \
         first rows.";

/// The system prompt of `create_data`'s SQL writer: the dialect, the connection's tables, and
/// the rules and memories.
pub(crate) fn sql_writer(dialect: &str, tables: &str, rules: &str) -> String {
    format!(
        "You write one read-only SQL query in the {dialect} dialect. Reply with only the SQL, no \
         explanation.\n\nTables:\n{tables}\n{rules}"
    )
}

/// `create_data`'s request for SQL.
pub(crate) fn sql_write(question: &str, need: &str) -> String {
    format!("Question: {question}\nData needed: {need}")
}

/// `create_data`'s request to repair SQL that failed with `error`.
pub(crate) fn sql_repair(question: &str, need: &str, sql: &str, error: &dyn Display) -> String {
    format!(
        "Question: {question}\nData needed: {need}\n\nThis SQL failed:\n{sql}\n\n\
         Error:\n{error}\n\nFix exactly what the error names and write the corrected \
         query."
    )
}

/// `create_data`'s second repair request, when the first correction repeated the failing SQL.
pub(crate) fn sql_repair_repeated(repair: &str) -> String {
    format!(
        "{repair}\n\nYour previous correction was identical to the failing \
         query. Write a different query that avoids the error."
    )
}

/// The `answer_question` tool's description.
pub(crate) const ANSWER_QUESTION: &str =
    "Write the final answer for the user from the results gathered so far. Ends the run.";

/// The system prompt of `answer_question`'s writer.
pub(crate) const ANSWER_WRITER: &str = "You are a data analyst. Answer the user's question in a few sentences using \
                      only the results below. Quote the exact numbers. If the results do not \
                      answer the question, say so.";

/// The system prompt of `answer_question`'s writer when values may be withheld from the model
/// (a data exposure other than `full`): the answer is a template the host fills.
pub(crate) fn answer_writer_template(exposure: crate::exposure::DataExposure) -> String {
    format!(
        "You are a data analyst. Answer the user's question in a few sentences using only the \
         results below. Where a result's values are withheld you cannot see them: write each \
         value as a placeholder the host fills in, {{{{q1.column}}}} for row 1 of result q1, \
         {{{{q1.column[2]}}}} for row 2, {{{{q1}}}} for the whole table, using the exact column \
         names shown. Never guess a value. Quote the exact numbers you can see. (Data exposure: \
         {exposure}.)"
    )
}

/// `answer_question`'s request: the question and the digest of the results.
pub(crate) fn answer_user(question: &str, digest: &str) -> String {
    format!("Question: {question}\n\nResults:\n{digest}")
}

/// The planner's JSON-in-text decision format, appended to the system prompt (after the tool
/// list) when the model does not call tools natively.
pub(crate) const JSON_FORMAT: &str = r#"Reply with exactly one JSON object and nothing else, in this format:
{"reasoning": "<one short sentence: what you do next and why>", "action": {"tool": "<tool name>", "arguments": {<arguments>}}}
When the results you have answer the question, reply instead:
{"reasoning": "<short>", "analysis_complete": true, "final_answer": "<the answer for the user, with the exact numbers from the results>"}"#;

/// The planner's re-ask after an unusable reply, with native tool calling.
pub(crate) fn repair_native(problem: &str) -> String {
    format!(
        "Your reply could not be used: {problem}. Call one of the tools, or \
         answer in plain text if the results already answer the question."
    )
}

/// The planner's re-ask after an unusable reply, with JSON-in-text decisions; `tools` lists the
/// valid tool names.
pub(crate) fn repair_json_text(problem: &str, tools: &str) -> String {
    format!("Your reply could not be used: {problem}.\n{JSON_FORMAT}\nValid tools: {tools}.")
}
