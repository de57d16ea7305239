//! The team's instructions and memories through the agent, with the scripted in-process model
//! and a small in-test warehouse: what reaches the prompt (status and scope), how a suggestion
//! stays a draft until a person approves it, what `remember` records, and the typed errors of
//! the handles.
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use async_trait::async_trait;
use metricchat_core::connector::{
    Capabilities, ColumnInfo, ConnectorInfo, RecordBatchStreamAdapter, TableKind, TableRef,
    TableSchema,
};
use metricchat_core::events::{EventKind, RunStatus, ToolStatus};
use metricchat_core::instructions::{
    InstructionFilter, InstructionStatus, InstructionUpdate, MemoryFilter, NewInstruction,
    NewMemory, Origin, Scope,
};
use metricchat_core::llm::{ScriptedLlm, ScriptedTurn};
use metricchat_core::store::{MemoryStore, Store};
use metricchat_core::{
    Agent, Connector, ConnectorRef, Dialect, ErrorKind, QueryOptions, Result,
    SendableRecordBatchStream,
};
use serde_json::json;
use uuid::Uuid;

/// A warehouse named `warehouse` with `public.accounts` and `public.orders`; queries return no
/// rows (these tests never need data).
#[derive(Debug)]
struct Warehouse;

#[async_trait]
impl Connector for Warehouse {
    fn info(&self) -> ConnectorInfo {
        ConnectorInfo {
            name: "warehouse".into(),
            backend: "test".into(),
            dialect: Dialect::Postgres,
            capabilities: Capabilities::none(),
        }
    }

    async fn list_tables(&self) -> Result<Vec<TableRef>> {
        Ok(vec![
            TableRef::qualified("public", "accounts"),
            TableRef::qualified("public", "orders"),
        ])
    }

    async fn table_schema(&self, table: &TableRef) -> Result<TableSchema> {
        let col = |name: &str, data_type: &str| ColumnInfo {
            name: name.into(),
            data_type: data_type.into(),
            nullable: false,
            comment: None,
        };
        Ok(TableSchema {
            table: table.clone(),
            kind: TableKind::Table,
            columns: vec![col("id", "BIGINT"), col("is_test", "BOOLEAN")],
            comment: None,
            primary_key: vec!["id".into()],
            foreign_keys: vec![],
            row_estimate: Some(10),
        })
    }

    async fn query(&self, _sql: &str, _opts: QueryOptions) -> Result<SendableRecordBatchStream> {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            schema,
            futures::stream::empty(),
        )))
    }
}

fn agent(llm: &ScriptedLlm, store: Arc<dyn Store>) -> Agent {
    Agent::builder()
        .llm(llm.clone())
        .connection(Arc::new(Warehouse) as ConnectorRef)
        .store(store)
        .rule("CONFIG-RULE: answer in English")
        .generate_title(false)
        .build()
        .unwrap()
}

fn answer(text: &str) -> ScriptedTurn {
    ScriptedTurn::text(
        json!({"reasoning": "done", "analysis_complete": true, "final_answer": text}).to_string(),
    )
}

fn call(tool: &str, arguments: serde_json::Value) -> ScriptedTurn {
    ScriptedTurn::text(
        json!({"reasoning": format!("use {tool}"), "action": {"tool": tool, "arguments": arguments}})
            .to_string(),
    )
}

/// The system prompt of the model's `n`th request.
fn prompt(llm: &ScriptedLlm, n: usize) -> String {
    llm.requests()[n].messages[0].content.clone()
}

#[tokio::test]
async fn approved_instructions_in_scope_reach_the_prompt_and_count_their_use() {
    let llm = ScriptedLlm::new([answer("Done.")], false);
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let agent = agent(&llm, store.clone());
    let book = agent.instructions();
    let add = |new: NewInstruction| {
        let book = book.clone();
        async move { book.add(new).await.unwrap() }
    };
    let tables = |ts: &[&str]| Scope::Tables {
        connection: None,
        tables: ts.iter().map(|t| t.to_string()).collect(),
    };
    let global = add(NewInstruction::new("GLOBAL-RULE: round to two decimals")).await;
    let on_conn = add(
        NewInstruction::new("CONN-RULE: amounts are in cents").scope(Scope::Connection {
            connection: "WAREHOUSE".into(),
        }),
    )
    .await;
    let on_table = add(
        NewInstruction::new("TABLE-RULE: exclude test accounts (is_test)")
            .scope(tables(&["ACCOUNTS"])),
    )
    .await;
    let other_conn = add(
        NewInstruction::new("OTHER-CONN-RULE").scope(Scope::Connection {
            connection: "crm".into(),
        }),
    )
    .await;
    let other_table =
        add(NewInstruction::new("MISSING-TABLE-RULE").scope(tables(&["invoices"]))).await;
    let other_schema =
        add(NewInstruction::new("OTHER-SCHEMA-RULE").scope(tables(&["sales.accounts"]))).await;
    let draft = add(NewInstruction::new("DRAFT-RULE").status(InstructionStatus::Draft)).await;
    let archived = add(NewInstruction::new("ARCHIVED-RULE")).await;
    book.archive(archived.id).await.unwrap();
    assert_eq!(
        global.status,
        InstructionStatus::Approved,
        "a user's rule is approved"
    );

    let result = agent
        .ask("How many accounts placed orders last month?")
        .await
        .unwrap();
    assert_eq!(result.status, RunStatus::Completed);
    let p = prompt(&llm, 0);
    for carried in [
        "CONFIG-RULE",
        "GLOBAL-RULE",
        "CONN-RULE",
        "TABLE-RULE: exclude test accounts",
    ] {
        assert!(p.contains(carried), "{carried} missing from:\n{p}");
    }
    for left_out in [
        "OTHER-CONN-RULE",
        "MISSING-TABLE-RULE",
        "OTHER-SCHEMA-RULE",
        "DRAFT-RULE",
        "ARCHIVED-RULE",
    ] {
        assert!(!p.contains(left_out), "{left_out} must not be in:\n{p}");
    }

    // The carried ones counted a use; the rest did not.
    for (i, uses) in [
        (&global, 1),
        (&on_conn, 1),
        (&on_table, 1),
        (&other_conn, 0),
        (&other_table, 0),
        (&other_schema, 0),
        (&draft, 0),
        (&archived, 0),
    ] {
        let stored = store.get_instruction(i.id).await.unwrap().unwrap();
        assert_eq!(stored.usage_count, uses, "{}", stored.text);
    }
    assert_eq!(
        book.list(&InstructionFilter::approved())
            .await
            .unwrap()
            .len(),
        6
    );
}

#[tokio::test]
async fn a_suggestion_stays_a_draft_until_approved_then_reaches_the_next_prompt() {
    const RULE: &str = "Revenue excludes refunded orders (status = 'refunded')";
    let llm = ScriptedLlm::new(
        [
            call(
                "suggest_instruction",
                json!({"text": RULE, "labels": ["finance"],
                       "scope": {"kind": "tables", "tables": ["orders"]},
                       "reason": "The user said refunds never count as revenue."}),
            ),
            answer("Noted."),
            answer("Second run."),
            answer("Third run."),
        ],
        false,
    );
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let agent = agent(&llm, store.clone());

    let mut run = agent.stream("What was revenue from orders? Refunds never count.");
    let run_id = run.run_id();
    let events = run.collect_events().await;
    run.finish().await.unwrap();
    let suggested: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::InstructionsSuggested {
                instruction,
                reason,
            } => Some((instruction.clone(), reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(suggested.len(), 1, "{events:?}");
    let (draft, reason) = &suggested[0];
    assert_eq!(draft.text, RULE);
    assert_eq!(reason, "The user said refunds never count as revenue.");
    assert_eq!(
        (draft.status, draft.source, draft.run_id),
        (InstructionStatus::Draft, Origin::Agent, Some(run_id))
    );
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::ToolFinished { tool, status: ToolStatus::Success, observation, .. }
            if tool == "suggest_instruction"
                && observation["instruction_id"] == json!(draft.id)
                && observation["status"] == "draft"
    )));
    // Stored as it was announced, and the event is in the run's stored record.
    assert_eq!(
        store.get_instruction(draft.id).await.unwrap().as_ref(),
        Some(draft)
    );
    assert!(
        store
            .events(run_id)
            .await
            .unwrap()
            .iter()
            .any(|e| e.type_name() == "instructions.suggested")
    );
    assert_eq!(
        agent
            .instructions()
            .list(
                &InstructionFilter::all()
                    .status(InstructionStatus::Draft)
                    .run_id(run_id)
            )
            .await
            .unwrap(),
        vec![draft.clone()]
    );

    // Not in the prompts while it is a draft: neither this run's nor the next one's.
    assert!(!prompt(&llm, 0).contains(RULE));
    assert!(!prompt(&llm, 1).contains(RULE));
    agent.ask("Revenue from orders by month?").await.unwrap();
    assert!(!prompt(&llm, 2).contains(RULE));

    let approved = agent.instructions().approve(draft.id).await.unwrap();
    assert_eq!(approved.status, InstructionStatus::Approved);
    agent.ask("Revenue from orders by month?").await.unwrap();
    assert!(prompt(&llm, 3).contains(RULE), "{}", prompt(&llm, 3));
    assert_eq!(
        store
            .get_instruction(draft.id)
            .await
            .unwrap()
            .unwrap()
            .usage_count,
        1
    );
    assert_eq!(llm.remaining(), 0);
}

#[tokio::test]
async fn remember_records_a_memory_with_the_run_id_for_later_runs() {
    let llm = ScriptedLlm::new(
        [
            call(
                "remember",
                json!({"text": "revenue means net_revenue, not gross"}),
            ),
            answer("Noted."),
            answer("Later."),
        ],
        false,
    );
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let agent = agent(&llm, store.clone());
    let first = agent
        .ask("Remember: revenue is net revenue.")
        .await
        .unwrap();

    let memories = store.list_memories(&MemoryFilter::all()).await.unwrap();
    assert_eq!(memories.len(), 1);
    let m = &memories[0];
    assert_eq!(m.text, "revenue means net_revenue, not gross");
    assert_eq!((m.source, m.run_id), (Origin::Agent, Some(first.run_id)));
    assert_eq!(m.scope, Scope::Global);
    assert_eq!(
        agent
            .memories()
            .list(&MemoryFilter::all().run_id(first.run_id))
            .await
            .unwrap(),
        memories
    );
    let found = agent
        .memories()
        .search("what is revenue?", 3)
        .await
        .unwrap();
    assert_eq!(found, memories);
    assert!(
        agent
            .memories()
            .search("weather", 3)
            .await
            .unwrap()
            .is_empty()
    );

    agent.ask("Total revenue of orders?").await.unwrap();
    assert!(
        prompt(&llm, 2).contains("revenue means net_revenue"),
        "{}",
        prompt(&llm, 2)
    );

    // A user's memory joins it; deleting one removes it from later listings.
    let mine = agent
        .memories()
        .add(NewMemory::new("fiscal year starts in April"))
        .await
        .unwrap();
    assert_eq!(mine.source, Origin::User);
    agent.memories().delete(m.id).await.unwrap();
    assert_eq!(
        agent.memories().list(&MemoryFilter::all()).await.unwrap(),
        vec![mine]
    );
}

#[tokio::test]
async fn handles_and_tools_refuse_bad_input_with_typed_errors() {
    let llm = ScriptedLlm::new(
        [
            call(
                "suggest_instruction",
                json!({"text": "   ", "reason": "none"}),
            ),
            answer("Could not save that."),
        ],
        false,
    );
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let agent = agent(&llm, store.clone());
    let book = agent.instructions();
    let ghost = Uuid::new_v4();
    for err in [
        book.approve(ghost).await.unwrap_err(),
        book.archive(ghost).await.unwrap_err(),
        book.get(ghost).await.unwrap_err(),
        book.delete(ghost).await.unwrap_err(),
        book.update(ghost, InstructionUpdate::new().text("x"))
            .await
            .unwrap_err(),
        agent.memories().delete(ghost).await.unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    }
    let rule = book.add(NewInstruction::new("Keep it")).await.unwrap();
    for err in [
        book.add(NewInstruction::new("  ")).await.unwrap_err(),
        book.update(rule.id, InstructionUpdate::new().text(""))
            .await
            .unwrap_err(),
        agent.memories().add(NewMemory::new("")).await.unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    }
    assert_eq!(book.get(rule.id).await.unwrap().text, "Keep it");

    // The model's empty suggestion is an argument error it sees; nothing is stored.
    let mut run = agent.stream("Save a rule");
    let events = run.collect_events().await;
    run.finish().await.unwrap();
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::ToolFinished { tool, status: ToolStatus::Error, error: Some(msg), .. }
            if tool == "suggest_instruction" && msg.contains("empty")
    )));
    let stored = book.list(&InstructionFilter::all()).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].id, stored[0].usage_count), (rule.id, 1));
}

#[cfg(feature = "sqlite-store")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_through_one_agent_reaches_another_agent_on_the_same_store() {
    use metricchat_core::store::SqliteStore;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("team.db");
    let admin_llm = ScriptedLlm::new([], false);
    let admin = agent(
        &admin_llm,
        Arc::new(SqliteStore::open(&path).await.unwrap()),
    );
    let llm = ScriptedLlm::new([answer("one"), answer("two")], false);
    let analyst = agent(&llm, Arc::new(SqliteStore::open(&path).await.unwrap()));

    let draft = admin
        .instructions()
        .add(NewInstruction::new("SHARED-RULE: weeks start on Monday").source(Origin::Agent))
        .await
        .unwrap();
    assert_eq!(draft.status, InstructionStatus::Draft);
    analyst.ask("Orders per week?").await.unwrap();
    assert!(!prompt(&llm, 0).contains("SHARED-RULE"));
    admin.instructions().approve(draft.id).await.unwrap();
    analyst.ask("Orders per week?").await.unwrap();
    assert!(
        prompt(&llm, 1).contains("SHARED-RULE"),
        "{}",
        prompt(&llm, 1)
    );
}
