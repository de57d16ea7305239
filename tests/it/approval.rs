//! Cost preflight and approval (issue 15, item 5), end to end: the OpenAI client against the fake
//! provider over HTTP, a real PostgreSQL whose `EXPLAIN (FORMAT JSON)` gives the estimate. A
//! statement above the policy's threshold waits for the host (`Run::approve` / `Run::deny`) or
//! the approval handler; a timeout denies it; a denial reaches the model as the tool's error and
//! the audit log as `denied`; with no threshold nothing is asked.
#![cfg(feature = "postgres")]

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use metricchat::approval::{
    ApprovalDecision, ApprovalPolicy, ApprovalRequest, Approver, FnApprovalHandler,
};
use metricchat::events::{Event, EventKind};
use metricchat::llm::{OpenAiClient, OpenAiConfig};
use metricchat::planner::DecisionProtocol;
use metricchat::store::{AuditFilter, AuditOutcome, MemoryStore, Store};
use metricchat::{Agent, AgentBuilder, Run};
use metricchat_testkit::{Exchange, FakeLlmServer, Matcher, Reply};
use serde_json::json;

const QUESTION: &str = "Show me every event";
/// 20,000 rows; the guard's row cap makes it `… LIMIT 10000`, which the planner expects to
/// return 10,000 rows.
const BIG_SQL: &str = "SELECT id, kind FROM events";
const SMALL_SQL: &str = "SELECT COUNT(*) AS n FROM events";

/// A fresh database holding `events` (20,000 rows, analysed); dropped by the returned guard.
struct Db {
    admin: sqlx::PgPool,
    name: String,
    url: String,
}

impl Db {
    async fn create(test: &str) -> Option<Db> {
        let url = metricchat_testkit::service_url_or_skip("MC_TEST_POSTGRES_URL", test)?;
        let name = format!("mc_approval_{test}_{}", std::process::id());
        let admin = sqlx::PgPool::connect(&url).await.unwrap();
        for stmt in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(stmt))
                .execute(&admin)
                .await
                .unwrap();
        }
        let base = url.rsplit_once('/').unwrap().0;
        let db_url = format!("{base}/{name}");
        let pool = sqlx::PgPool::connect(&db_url).await.unwrap();
        sqlx::raw_sql(
            "CREATE TABLE events (id int PRIMARY KEY, kind text NOT NULL);
             INSERT INTO events SELECT g, 'kind ' || (g % 7) FROM generate_series(1, 20000) g;
             ANALYZE events;",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
        Some(Db {
            admin,
            name,
            // The test server's login is a superuser.
            url: format!("{db_url}?allow_privileged_login=true&name=wh"),
        })
    }

    async fn drop(self) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&self.admin)
        .await
        .unwrap();
    }
}

fn planner() -> Matcher {
    Matcher::body_contains("You are metricchat")
}

fn builder(server: &FakeLlmServer, db: &Db, store: &Arc<MemoryStore>) -> AgentBuilder {
    let llm = OpenAiClient::new(OpenAiConfig::new("gpt-4.1-mini").with_base_url(server.base_url()))
        .unwrap();
    Agent::builder()
        .llm(llm)
        .connection(metricchat::connect(&db.url).unwrap())
        .store(store.clone())
        .protocol(DecisionProtocol::NativeTools)
        .generate_title(false)
        .answer_checks(false)
}

/// The model asks for the big query, then answers whatever it is told.
async fn script(after: Matcher) -> FakeLlmServer {
    FakeLlmServer::start(vec![
        Exchange::when(
            planner(),
            Reply::tool_call(
                "create_data",
                json!({"title": "Every event", "sql": BIG_SQL}),
            ),
        ),
        Exchange::when(after, Reply::text("Here is what I found.")),
    ])
    .await
}

/// Reads the run to its end, deciding each `approval.requested` with `decide` (`None`: leave it
/// to the timeout).
async fn drive(mut run: Run, decide: impl Fn(&Run, uuid::Uuid)) -> (Vec<Event>, Run) {
    let mut events = Vec::new();
    while let Some(ev) = run.next().await {
        if let EventKind::ApprovalRequested { approval_id, .. } = &ev.kind {
            decide(&run, *approval_id);
        }
        events.push(ev);
    }
    (events, run)
}

fn requested(events: &[Event]) -> Vec<&EventKind> {
    events
        .iter()
        .map(|e| &e.kind)
        .filter(|k| matches!(k, EventKind::ApprovalRequested { .. }))
        .collect()
}

fn resolved(events: &[Event]) -> Vec<(bool, Approver, Option<String>)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ApprovalResolved {
                approved,
                by,
                reason,
                ..
            } => Some((*approved, *by, reason.clone())),
            _ => None,
        })
        .collect()
}

fn policy() -> ApprovalPolicy {
    ApprovalPolicy::new()
        .max_rows(1_000)
        .timeout(Duration::from_secs(30))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_approves_a_statement_above_the_threshold() {
    let Some(db) = Db::create("approve").await else {
        return;
    };
    let server = script(planner()).await;
    let store = Arc::new(MemoryStore::new());
    let agent = builder(&server, &db, &store)
        .approval(policy())
        .build()
        .unwrap();
    let (events, run) = drive(agent.stream(QUESTION), |run, id| {
        run.approve(id).unwrap();
        // Decided once: a second decision finds nothing waiting.
        assert!(run.deny(id, "late").is_err());
    })
    .await;
    let result = run.finish().await.unwrap();
    server.verify().unwrap();

    let asked = requested(&events);
    assert_eq!(asked.len(), 1, "{asked:?}");
    let EventKind::ApprovalRequested {
        sql,
        estimate,
        reason,
        connection,
        timeout_ms,
        ..
    } = asked[0]
    else {
        unreachable!()
    };
    assert_eq!(connection, "wh");
    assert!(sql.starts_with(BIG_SQL) && sql.contains("LIMIT"), "{sql}");
    let estimate = estimate.as_ref().unwrap();
    assert_eq!(estimate.source, "postgres EXPLAIN");
    assert!(estimate.rows.unwrap() > 1_000, "{estimate:?}");
    assert!(
        estimate.bytes.is_some() && estimate.cost.is_some(),
        "{estimate:?}"
    );
    assert!(reason.contains("exceeds max_rows 1000"), "{reason}");
    assert_eq!(*timeout_ms, 30_000);
    assert_eq!(resolved(&events), vec![(true, Approver::Host, None)]);
    // The statement ran: its rows are the run's dataset.
    assert_eq!(result.dataset().unwrap().num_rows(), 10_000);
    // Audited as run, with who approved it.
    let audit = store.audit_log(&AuditFilter::new()).await.unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].outcome, AuditOutcome::Success);
    assert!(
        audit[0].policy.iter().any(|p| p == "approved by host"),
        "{:?}",
        audit[0].policy
    );
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denial_reaches_the_model_and_the_audit_log() {
    let Some(db) = Db::create("deny").await else {
        return;
    };
    // The model's next request must carry the denial as the tool's error.
    let server = script(Matcher::body_contains(
        "not approved: too expensive, aggregate instead",
    ))
    .await;
    let store = Arc::new(MemoryStore::new());
    let agent = builder(&server, &db, &store)
        .approval(policy())
        .build()
        .unwrap();
    let (events, run) = drive(agent.stream(QUESTION), |run, id| {
        assert_eq!(run.approvals().pending().len(), 1);
        run.deny(id, "too expensive, aggregate instead").unwrap();
    })
    .await;
    let result = run.finish().await.unwrap();
    server.verify().unwrap();
    assert_eq!(result.answer.as_deref(), Some("Here is what I found."));
    assert!(result.datasets.is_empty(), "nothing ran");
    assert_eq!(
        resolved(&events),
        vec![(
            false,
            Approver::Host,
            Some("too expensive, aggregate instead".into())
        )]
    );
    let finished = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::ToolFinished { tool, error, .. } if tool == "create_data" => error.clone(),
            _ => None,
        })
        .unwrap();
    assert!(
        finished.contains("not approved: too expensive"),
        "{finished}"
    );
    let denied = store
        .audit_log(&AuditFilter::new().outcome(AuditOutcome::Denied))
        .await
        .unwrap();
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert!(denied[0].sql.starts_with(BIG_SQL));
    assert_eq!(
        denied[0].error.as_deref(),
        Some("not approved: too expensive, aggregate instead (by host)")
    );
    assert_eq!(store.audit_log(&AuditFilter::new()).await.unwrap().len(), 1);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_decision_in_time_denies() {
    let Some(db) = Db::create("timeout").await else {
        return;
    };
    let server = script(Matcher::body_contains(
        "not approved: no decision within 0.5s",
    ))
    .await;
    let store = Arc::new(MemoryStore::new());
    let agent = builder(&server, &db, &store)
        .approval(policy().timeout(Duration::from_millis(500)))
        .build()
        .unwrap();
    let (events, run) = drive(agent.stream(QUESTION), |_, _| {}).await;
    run.finish().await.unwrap();
    server.verify().unwrap();
    assert_eq!(requested(&events).len(), 1);
    assert_eq!(
        resolved(&events),
        vec![(
            false,
            Approver::Timeout,
            Some("no decision within 0.5s".into())
        )]
    );
    let denied = store
        .audit_log(&AuditFilter::new().outcome(AuditOutcome::Denied))
        .await
        .unwrap();
    assert_eq!(denied.len(), 1);
    assert!(
        denied[0]
            .error
            .as_deref()
            .unwrap()
            .ends_with("(by timeout)"),
        "{:?}",
        denied[0].error
    );
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handler_decides_and_cheap_or_unpoliced_statements_just_run() {
    let Some(db) = Db::create("handler").await else {
        return;
    };
    // 1. The agent's handler denies; the host does nothing.
    let server = script(Matcher::body_contains("not approved: over budget for wh")).await;
    let store = Arc::new(MemoryStore::new());
    let seen: Arc<std::sync::Mutex<Vec<ApprovalRequest>>> = Arc::default();
    let log = seen.clone();
    let handler = FnApprovalHandler(move |req: ApprovalRequest| {
        let log = log.clone();
        async move {
            let reason = format!("over budget for {}", req.connection);
            log.lock().unwrap().push(req);
            Ok(ApprovalDecision::deny(reason))
        }
    });
    let agent = builder(&server, &db, &store)
        .approval(policy())
        .approval_handler(Arc::new(handler))
        .build()
        .unwrap();
    let mut run = agent.stream(QUESTION);
    let events = run.collect_events().await;
    run.finish().await.unwrap();
    server.verify().unwrap();
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(
        resolved(&events),
        vec![(false, Approver::Handler, Some("over budget for wh".into()))]
    );

    // 2. Under the threshold: estimated, not asked.
    let server = FakeLlmServer::start(vec![
        Exchange::when(
            planner(),
            Reply::tool_call("create_data", json!({"title": "Events", "sql": SMALL_SQL})),
        ),
        Exchange::when(planner(), Reply::text("Counted.")),
    ])
    .await;
    let agent = builder(&server, &db, &store)
        .approval(policy())
        .build()
        .unwrap();
    let mut run = agent.stream(QUESTION);
    let events = run.collect_events().await;
    assert_eq!(run.finish().await.unwrap().datasets.len(), 1);
    server.verify().unwrap();
    assert!(requested(&events).is_empty() && resolved(&events).is_empty());

    // 3. No threshold (today's behaviour): the big statement runs without a word.
    let server = script(planner()).await;
    let store = Arc::new(MemoryStore::new());
    let agent = builder(&server, &db, &store).build().unwrap();
    assert_eq!(agent.config().approval, None);
    let mut run = agent.stream(QUESTION);
    let events = run.collect_events().await;
    let result = run.finish().await.unwrap();
    server.verify().unwrap();
    assert_eq!(result.dataset().unwrap().num_rows(), 10_000);
    assert!(requested(&events).is_empty() && resolved(&events).is_empty());
    assert!(
        events
            .iter()
            .all(|e| !e.type_name().starts_with("approval.")),
        "no approval events"
    );
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_the_run_while_it_waits_ends_it_as_cancelled() {
    let Some(db) = Db::create("cancel").await else {
        return;
    };
    let server = FakeLlmServer::start(vec![Exchange::when(
        planner(),
        Reply::tool_call(
            "create_data",
            json!({"title": "Every event", "sql": BIG_SQL}),
        ),
    )])
    .await;
    let store = Arc::new(MemoryStore::new());
    let agent = builder(&server, &db, &store)
        .approval(policy())
        .build()
        .unwrap();
    let (events, run) = drive(agent.stream(QUESTION), |run, _| run.cancel()).await;
    let err = run.finish().await.unwrap_err();
    assert_eq!(err.kind(), metricchat::ErrorKind::Cancelled, "{err}");
    assert_eq!(
        resolved(&events)
            .into_iter()
            .map(|(ok, by, _)| (ok, by))
            .collect::<Vec<_>>(),
        vec![(false, Approver::Cancelled)]
    );
    db.drop().await;
}
