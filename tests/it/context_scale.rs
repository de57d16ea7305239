//! The context hub on the flights data hidden among 400 decoy tables: `explain_context` picks
//! the flights tables, the prompt stays within budget, and a run answers from them.

use metricchat::Agent;
use metricchat::llm::{ScriptedLlm, ScriptedTurn};
use serde_json::json;

use crate::common::*;

#[tokio::test]
#[ignore = "scale tier: 400 decoy tables (run with --include-ignored scale, or scripts/test.sh --scale)"]
async fn explain_context_finds_the_flights_tables_among_400_decoys() {
    let conn = flights_among_decoys(400);
    let agent = Agent::builder()
        .llm(ScriptedLlm::new(Vec::<ScriptedTurn>::new(), false))
        .connection(conn)
        .rule("Delays are in minutes.")
        .build()
        .unwrap();
    let plan = agent
        .explain_context("Which airline carrier had the worst average departure delay?")
        .await
        .unwrap();
    let names: Vec<String> = plan.tables.iter().map(|t| t.table.to_string()).collect();
    assert!(names.len() < 20, "{names:?}");
    assert!(names[..3].contains(&"flights".to_string()), "{names:?}");
    assert!(names.contains(&"airlines".to_string()), "{names:?}");
    let schema = plan.section("schema");
    assert!(schema.contains("dep_delay"), "{schema}");
    assert!(
        schema.contains("(e.g. "),
        "sample values are shown: {schema}"
    );
    let index = plan.section("table_index");
    assert!(index.starts_with("Other tables"), "{index}");
    let system = plan.system_prompt.as_deref().unwrap();
    assert!(system.contains("Delays are in minutes."));
    assert!(plan.total_tokens() < 8_000, "{}", plan.explain());
    let explain = plan.explain();
    assert!(
        explain.contains("Tables described:") && explain.contains("flights"),
        "{explain}"
    );
    println!("{explain}");
}

#[tokio::test]
#[ignore = "scale tier: 400 decoy tables (run with --include-ignored scale, or scripts/test.sh --scale)"]
async fn a_run_among_decoys_answers_from_the_flights_table() {
    let conn = flights_among_decoys(400);
    let (carrier, avg) = worst_carrier(&flights()).await;
    let sql = "SELECT carrier, AVG(dep_delay) AS avg_delay FROM flights GROUP BY carrier \
               ORDER BY avg_delay DESC LIMIT 1";
    let llm = ScriptedLlm::new(
        [
            ScriptedTurn::text(
                json!({"reasoning": "average delay per carrier",
                       "action": {"tool": "create_data",
                                  "arguments": {"title": "Worst carrier", "sql": sql}}})
                .to_string(),
            ),
            ScriptedTurn::text(
                json!({"reasoning": "done", "analysis_complete": true,
                       "final_answer": format!("{carrier}: {avg:.2} minutes")})
                .to_string(),
            ),
        ],
        false,
    );
    let agent = Agent::builder()
        .llm(llm.clone())
        .connection(conn)
        .generate_title(false)
        .build()
        .unwrap();
    let result = agent
        .ask("Which carrier had the worst average departure delay?")
        .await
        .unwrap();
    assert!(result.answer.as_deref().unwrap().contains(&carrier));
    // The model was shown the flights table in full and the decoys only by name.
    let first = &llm.requests()[0];
    let system = &first.messages[0].content;
    assert!(system.contains("Table flights"), "{system}");
    assert!(
        !system.contains("Table marketing_campaign_0\n"),
        "decoys are not described"
    );
    assert!(system.contains("marketing_campaign_0") || system.contains("… and"));
}
