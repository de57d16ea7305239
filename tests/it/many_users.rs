//! Many users on one agent (issue 15), end to end: the OpenAI client against the fake provider
//! over HTTP, the multi-tenant dataset on DataFusion, a SQLite store. Two users ask the same
//! question and get their own numbers; the prompt shows neither the denied table, the denied
//! column nor any tenant's sample values; the audit log holds both statements as executed.
#![cfg(all(
    feature = "sqlite",
    feature = "postgres",
    feature = "mysql",
    feature = "datafusion"
))]

use std::sync::Arc;

use metricchat::agent::RunOptions;
use metricchat::events::EventKind;
use metricchat::guard::UserContext;
use metricchat::llm::{OpenAiClient, OpenAiConfig};
use metricchat::planner::DecisionProtocol;
use metricchat::store::{AuditFilter, AuditOutcome, SqliteStore, Store, audit_to_arrow};
use metricchat::{Agent, Error};
use metricchat_testkit::{Exchange, FakeLlmServer, Matcher, Reply};
use serde_json::json;

use crate::policy_escape::{df_engine, policy};

const QUESTION: &str = "What is our total order amount?";
const SQL: &str = "SELECT sum(amount) AS total FROM orders";

fn planner() -> Matcher {
    Matcher::body_contains("You are metricchat")
}

fn one_run() -> Vec<Exchange> {
    vec![
        Exchange::when(
            planner(),
            Reply::tool_call(
                "create_data",
                json!({"title": "Total order amount", "sql": SQL}),
            ),
        ),
        Exchange::when(planner(), Reply::text("The total is in the table above.")),
    ]
}

fn total(result: &metricchat::AskResult) -> i64 {
    let b = &result.batches()[0];
    let col = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Int64).unwrap();
    col.as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .unwrap()
        .value(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_asking_the_same_question_get_their_own_numbers() {
    let mut script = one_run();
    script.extend(one_run());
    let server = FakeLlmServer::start(script).await;
    let llm = OpenAiClient::new(OpenAiConfig::new("gpt-4.1-mini").with_base_url(server.base_url()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(dir.path().join("runs.db")).await.unwrap());
    let agent = Agent::builder()
        .llm(llm)
        .connection(df_engine().conn)
        .store(store.clone())
        .policy(policy())
        .protocol(DecisionProtocol::NativeTools)
        .generate_title(false)
        .answer_checks(false)
        .build()
        .unwrap();
    let alice = UserContext::new("alice@acme")
        .attribute("tenant_id", 1)
        .attribute("tenant_code", "acme");
    let bob = UserContext::new("bob@globex")
        .attribute("tenant_id", 2)
        .attribute("tenant_code", "globex");

    let mut run = agent.stream_with(QUESTION, RunOptions::new().user(alice.clone()));
    let events = run.collect_events().await;
    let a = run.finish().await.unwrap();
    let b = agent
        .ask_with(QUESTION, RunOptions::new().user(bob.clone()))
        .await
        .unwrap();
    server.verify().unwrap();

    // Each user's own numbers: tenant 1 has 20 orders of 2..40, tenant 2 12 orders of 20007..
    assert_eq!(total(&a), (1..=20).map(|i| i * 2).sum::<i64>());
    assert_eq!(total(&b), (1..=12).map(|i| 20_000 + i * 7).sum::<i64>());
    assert!(
        a.sql().unwrap().contains("tenant_id = (1)"),
        "{:?}",
        a.sql()
    );
    assert!(
        b.sql().unwrap().contains("tenant_id = (2)"),
        "{:?}",
        b.sql()
    );

    // The user rides on the run's events and record.
    let EventKind::RunStarted { user, .. } = &events[0].kind else {
        panic!("first event {:?}", events[0].kind);
    };
    assert_eq!(user.as_ref().map(|u| u.id.as_str()), Some("alice@acme"));
    let stored = store.get_run(b.run_id).await.unwrap().unwrap();
    assert_eq!(
        stored.user.as_ref().map(|u| u.id.as_str()),
        Some("bob@globex")
    );

    // What the model saw: no denied table, no denied column, no tenant's sample values.
    for req in server.requests() {
        let body = req.to_string();
        assert!(body.contains("orders"), "the schema is shown");
        for hidden in ["payroll", "ssn", "-T1-", "-T2-", "-T3-", ".example"] {
            assert!(!body.contains(hidden), "the prompt shows `{hidden}`");
        }
    }

    // A conversation stays with its user.
    let err = agent
        .follow_up_with(
            a.run_id,
            "And per customer?",
            RunOptions::new().user(bob.clone()),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");

    // The audit log: both statements, as executed, with the user and the rules applied.
    let log = agent.audit_log(&AuditFilter::new()).await.unwrap();
    assert_eq!(log.len(), 2, "{log:?}");
    let by = |u: &str| {
        log.iter()
            .find(|r| r.user_id.as_deref() == Some(u))
            .unwrap()
    };
    let (ra, rb) = (by("alice@acme"), by("bob@globex"));
    assert_eq!(ra.run_id, Some(a.run_id));
    assert_eq!(rb.run_id, Some(b.run_id));
    assert!(ra.sql.contains("tenant_id = (1)") && rb.sql.contains("tenant_id = (2)"));
    for r in [ra, rb] {
        assert_eq!(r.outcome, AuditOutcome::Success);
        assert_eq!(r.rows, Some(1));
        assert!(r.bytes.unwrap_or(0) > 0);
        assert_eq!(r.source, "agent");
        assert_eq!(r.connection, "tenants");
        assert_eq!(r.policy, ["orders: rows filtered"]);
    }
    let only_bob = agent
        .audit_log(&AuditFilter::new().user("bob@globex"))
        .await
        .unwrap();
    assert_eq!(only_bob.len(), 1);
    let batch = audit_to_arrow(&log).unwrap();
    assert_eq!(batch.num_rows(), 2);
    assert_eq!(batch.schema().field(0).name(), "id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_policy_fails_the_run_at_its_start_and_nothing_runs() {
    let server = FakeLlmServer::start(one_run()).await;
    let llm = OpenAiClient::new(OpenAiConfig::new("gpt-4.1-mini").with_base_url(server.base_url()))
        .unwrap();
    let agent = Agent::builder()
        .llm(llm)
        .connection(df_engine().conn)
        .policy(policy())
        .generate_title(false)
        .build()
        .unwrap();
    // A user without the attribute the row filter needs.
    let err = agent
        .ask_with(QUESTION, RunOptions::new().user(UserContext::new("carol")))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Policy { reason } if reason.contains("tenant_id")),
        "{err}"
    );
    // No user at all: the same.
    let err = agent.ask(QUESTION).await.unwrap_err();
    assert!(matches!(err, Error::Policy { .. }), "{err}");
    assert!(server.requests().is_empty(), "the model was asked");
    assert!(
        agent
            .audit_log(&AuditFilter::new())
            .await
            .unwrap()
            .is_empty()
    );

    // `query` for a user: rewritten, run, audited; refused statements are audited too.
    let alice = UserContext::new("alice@acme")
        .attribute("tenant_id", 1)
        .attribute("tenant_code", "acme");
    let data = agent
        .query_with(None, SQL, RunOptions::new().user(alice.clone()))
        .await
        .unwrap();
    assert_eq!(data.num_rows(), 1);
    let err = agent
        .query_with(None, "SELECT * FROM payroll", RunOptions::new().user(alice))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SqlRefused { .. }), "{err}");
    let log = agent.audit_log(&AuditFilter::new()).await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].outcome, AuditOutcome::Refused);
    assert_eq!(log[1].outcome, AuditOutcome::Success);
    assert!(
        log.iter()
            .all(|r| r.source == "query" && r.run_id.is_none())
    );
}

/// Maps users to PostgreSQL roles: alice and bob to their roles, carol to a role that does not
/// exist, dave to a provider failure, no user to the login.
#[derive(Debug)]
struct RolePerUser {
    alice: String,
    bob: String,
}

#[async_trait::async_trait]
impl metricchat::connector::CredentialProvider for RolePerUser {
    async fn credentials_for(
        &self,
        user: Option<&UserContext>,
        _connection: &metricchat::connector::ConnectorInfo,
    ) -> metricchat::Result<Option<metricchat::connector::Credentials>> {
        use metricchat::connector::Credentials;
        match user.map(|u| u.id.as_str()) {
            None => Ok(None),
            Some("alice@acme") => Ok(Some(Credentials::role(&self.alice))),
            Some("bob@globex") => Ok(Some(Credentials::role(&self.bob))),
            Some("carol@initech") => Ok(Some(Credentials::role("mc_no_such_role"))),
            Some(other) => Err(Error::Policy {
                reason: format!("no database role for {other}"),
            }),
        }
    }
}

/// Per-user credentials end to end: two users ask the same question of one agent on one
/// PostgreSQL login; the provider maps each to a database role, row-level security keyed on
/// `current_user` gives each their own rows, and the audit log records the role. A provider
/// failure, an unknown role and a connection without roles are typed errors, nothing run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_user_runs_as_their_own_database_role() {
    use metricchat::ErrorKind;
    let Some(base) = metricchat_testkit::service_url_or_skip(
        "MC_TEST_POSTGRES_URL",
        "each_user_runs_as_their_own_database_role",
    ) else {
        return;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let tag = format!("mc_runas_{}_{nanos}", std::process::id());
    let (login, ra, rb) = (
        format!("{tag}_login"),
        format!("{tag}_alice"),
        format!("{tag}_bob"),
    );
    let admin = sqlx::PgPool::connect(&base).await.unwrap();
    let db: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&admin)
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA {tag};
         CREATE ROLE {login} LOGIN NOINHERIT; CREATE ROLE {ra}; CREATE ROLE {rb};
         GRANT {ra}, {rb} TO {login};
         GRANT CONNECT ON DATABASE \"{db}\" TO {login};
         GRANT USAGE ON SCHEMA {tag} TO {login}, {ra}, {rb};
         CREATE TABLE {tag}.orders (owner text, amount int);
         INSERT INTO {tag}.orders VALUES ('{ra}', 5), ('{ra}', 6), ('{rb}', 100), ('{rb}', 200), ('x', 9999);
         ALTER TABLE {tag}.orders ENABLE ROW LEVEL SECURITY;
         CREATE POLICY own_rows ON {tag}.orders USING (owner = current_user);
         GRANT SELECT ON {tag}.orders TO {ra}, {rb};"
    )))
    .execute(&admin)
    .await
    .unwrap();
    let mut url = url::Url::parse(&base).unwrap();
    url.set_username(&login).unwrap();
    url.set_password(None).unwrap();
    url.set_query(Some(&format!(
        "search_path={tag}&max_connections=2&name=shop"
    )));
    let conn = metricchat::connect(url.as_str()).unwrap();

    let mut script = one_run();
    script.extend(one_run());
    let server = FakeLlmServer::start(script).await;
    let llm = OpenAiClient::new(OpenAiConfig::new("gpt-4.1-mini").with_base_url(server.base_url()))
        .unwrap();
    let provider = Arc::new(RolePerUser {
        alice: ra.clone(),
        bob: rb.clone(),
    });
    let agent = Agent::builder()
        .llm(llm)
        .connection(conn)
        .credential_provider(provider.clone())
        .protocol(DecisionProtocol::NativeTools)
        .generate_title(false)
        .answer_checks(false)
        .build()
        .unwrap();
    let alice = UserContext::new("alice@acme");
    let bob = UserContext::new("bob@globex");

    // The same question: each their own numbers (one pool of two connections; the runs
    // follow each other because the fake model answers in script order).
    let a = agent
        .ask_with(QUESTION, RunOptions::new().user(alice.clone()))
        .await
        .unwrap();
    let b = agent
        .ask_with(QUESTION, RunOptions::new().user(bob.clone()))
        .await
        .unwrap();
    server.verify().unwrap();
    assert_eq!(total(&a), 11);
    assert_eq!(total(&b), 300);

    // `query_with` too; no user runs as the login, which may not read the table.
    let q = |user: Option<UserContext>| {
        let agent = agent.clone();
        async move {
            let opts = match user {
                Some(u) => RunOptions::new().user(u),
                None => RunOptions::new(),
            };
            agent
                .query_with(
                    None,
                    "SELECT current_user::text AS who, sum(amount) AS total FROM orders",
                    opts,
                )
                .await
        }
    };
    let d = q(Some(alice.clone())).await.unwrap();
    let who = d.batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<arrow::array::StringArray>()
        .unwrap()
        .value(0)
        .to_string();
    assert_eq!(who, ra);
    let err = q(None).await.unwrap_err();
    assert!(
        matches!(&err, Error::Query { code: Some(c), .. } if c == "42501"),
        "{err:?}"
    );
    // An unknown role and a provider failure: typed errors.
    let err = q(Some(UserContext::new("carol@initech")))
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::RunAs { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    let err = q(Some(UserContext::new("dave@hooli"))).await.unwrap_err();
    assert!(matches!(&err, Error::Policy { .. }), "{err:?}");

    // The audit log names the role each statement ran as.
    let log = agent.audit_log(&AuditFilter::new()).await.unwrap();
    let ran_as = |u: &str| -> Vec<Vec<String>> {
        log.iter()
            .filter(|r| r.user_id.as_deref() == Some(u))
            .map(|r| r.policy.clone())
            .collect()
    };
    assert_eq!(ran_as("alice@acme"), vec![vec![format!("run as {ra}")]; 2]);
    assert_eq!(ran_as("bob@globex"), vec![vec![format!("run as {rb}")]]);
    let dave: Vec<_> = log
        .iter()
        .filter(|r| r.user_id.as_deref() == Some("dave@hooli"))
        .collect();
    assert_eq!(dave.len(), 1);
    assert_eq!(dave[0].outcome, AuditOutcome::Error);
    assert!(dave[0].policy.is_empty());

    // A connection that has no roles refuses, before running anything.
    let df = Agent::builder()
        .llm(
            OpenAiClient::new(OpenAiConfig::new("gpt-4.1-mini").with_base_url(server.base_url()))
                .unwrap(),
        )
        .connection(df_engine().conn)
        .credential_provider(provider)
        .build()
        .unwrap();
    let err = df
        .query_with(None, "SELECT 1 AS one", RunOptions::new().user(alice))
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::RunAs { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    // The connector refuses on its own too (for callers that skip the agent).
    let opts = metricchat::QueryOptions::default()
        .with_run_as(Some(metricchat::connector::Credentials::role("a")));
    let err = df_engine()
        .conn
        .query("SELECT 1 AS one", opts)
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err:?}");

    drop(agent);
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{login}';
         DROP SCHEMA {tag} CASCADE;
         DROP OWNED BY {ra}, {rb}, {login}; DROP ROLE {ra}; DROP ROLE {rb}; DROP ROLE {login};"
    )))
    .execute(&admin)
    .await
    .unwrap();
    admin.close().await;
}
