//! The persistence stores, held to one behaviour: every test in `behaviour` runs against
//! `MemoryStore` (the reference semantics), a `SqliteStore` file in a temp dir, an in-memory
//! `SqliteStore` and — with the `postgres-store` feature and `MC_TEST_POSTGRES_URL` set (for
//! example `postgres://postgres@127.0.0.1:5432/test`) — a `PostgresStore` in a fresh schema that
//! is dropped afterwards. The PostgreSQL tests are ignored unless asked for (`cargo test … --test
//! it -- --ignored store::postgres`, which `scripts/test.sh` runs when the URL is set or `CI=true`),
//! so a run without the database reports them ignored, not passed; asked for without the URL,
//! they print a SKIPPED line, and under `CI=true` they fail.
//! Database-only tests then cover what only a database can show: persistence across
//! reopening, migrations, atomic rollback of a failed step, recovery after a real process crash,
//! concurrent writers on one file, and schema isolation on PostgreSQL.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use metricchat_core::error::{Error, ErrorInfo, ErrorKind};
use metricchat_core::events::{
    ColumnMeta, Event, EventKind, RunStatus, RunSummary, Timings, ToolStatus,
};
use metricchat_core::instructions::{
    Instruction, InstructionFilter, InstructionStatus, InstructionUpdate, Memory, MemoryFilter,
    NewInstruction, NewMemory, Origin, Scope,
};
use metricchat_core::llm::{ChatMessage, Usage};
use metricchat_core::planner::{DecisionMetrics, PlanType, PlannedAction, PlannerDecision};
use metricchat_core::store::{
    DecisionRecord, ExecutionStatus, MemoryStore, QueryRecord, QueryStatus, RunRecord, RunState,
    Snapshot, SqliteStore, StepWrite, Store, ToolExecutionRecord, VisualizationRecord,
};
use metricchat_core::viz::{ChartSpec, ChartType};
use serde_json::json;
use uuid::Uuid;

// ---------------------------------------------------------------------------------------------
// Fixtures

/// A fixed instant with microseconds (the finest PostgreSQL keeps), so exact timestamp
/// round-trips are checked on every store. SQLite's nanoseconds have their own test.
fn at(offset_ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_764_000_000, 123_456_000).unwrap()
        + TimeDelta::milliseconds(offset_ms)
}

fn event(run_id: Uuid, seq: u64, start: DateTime<Utc>, kind: EventKind) -> Event {
    Event {
        run_id,
        seq,
        ts: start + TimeDelta::milliseconds(i64::try_from(seq).unwrap() * 10 + 1),
        kind,
    }
}

fn chart_spec() -> ChartSpec {
    ChartSpec {
        chart_type: ChartType::Bar,
        title: Some("Delays by carrier".into()),
        x: Some("carrier".into()),
        y: vec!["avg_delay".into()],
        series: Some("year".into()),
        inferred: true,
    }
}

fn summary(status: RunStatus) -> RunSummary {
    RunSummary {
        status,
        title: Some("Average delay by carrier".into()),
        iterations: 2,
        usage: Usage {
            input_tokens: 1200,
            output_tokens: 300,
            cached_input_tokens: 800,
        },
        cost_usd: Some(0.0125),
        timings: Timings {
            first_token_ms: Some(120),
            llm_ms: 2300,
            tools_ms: 450,
            total_ms: 2900,
        },
        reason: Some("done".into()),
    }
}

/// A whole run, written in four steps, and what a store must read back afterwards.
struct Scenario {
    steps: Vec<StepWrite>,
    run: RunRecord,
    decisions: Vec<DecisionRecord>,
    executions: Vec<ToolExecutionRecord>,
    queries: Vec<QueryRecord>,
    visualizations: Vec<VisualizationRecord>,
    snapshot: Snapshot,
    events: Vec<Event>,
}

fn scenario(run_id: Uuid, start: DateTime<Utc>) -> Scenario {
    let ms = |n: i64| start + TimeDelta::milliseconds(n);
    let ev = |seq: u64, kind: EventKind| event(run_id, seq, start, kind);
    let exec_id = Uuid::new_v4();
    let query_id = Uuid::new_v4();
    let viz_id = Uuid::new_v4();
    let sql = "SELECT carrier, AVG(dep_delay) AS avg_delay FROM flights GROUP BY carrier";
    let executed = format!("{sql} LIMIT 1000");

    // Step 0: the run starts.
    let mut run = RunRecord {
        id: run_id,
        question: "Which carrier has the worst delays?".into(),
        title: None,
        status: RunStatus::Running,
        model: "gpt-test".into(),
        created_at: start,
        updated_at: start,
        finished_at: None,
        iterations: 0,
        usage: Usage::default(),
        cost_usd: None,
        answer: None,
        error: None,
        user: Some(metricchat_core::guard::UserContext::new("u-7").attribute("tenant_id", 7)),
    };
    let snapshot = |step: u32, status: RunStatus, at: DateTime<Utc>| Snapshot {
        run_id,
        step,
        status,
        state: RunState::new(
            vec![
                ChatMessage::user("Which airline?"),
                ChatMessage::assistant("UA."),
            ],
            (0..=step)
                .map(|i| ChatMessage::user(format!("Which carrier? ({i})")))
                .collect(),
        ),
        created_at: at,
    };
    let started = ev(
        0,
        EventKind::RunStarted {
            question: run.question.clone(),
            model: run.model.clone(),
            connections: vec!["flights".into(), "warehouse".into()],
            user: None,
        },
    );
    let step0 = StepWrite {
        run: run.clone(),
        decisions: vec![],
        tool_executions: vec![],
        queries: vec![],
        visualizations: vec![],
        snapshot: Some(snapshot(0, RunStatus::Running, ms(1))),
        events: vec![started.clone()],
    };

    // Step 1: a decision to run SQL; the tool and its query start.
    let d0 = DecisionRecord {
        run_id,
        iteration: 0,
        decision: PlannerDecision {
            analysis_complete: false,
            plan_type: PlanType::Action,
            reasoning_message: Some("Average the delay per carrier.".into()),
            assistant_message: Some("Let me look at the delays.".into()),
            action: Some(PlannedAction {
                tool: "execute_sql".into(),
                arguments: json!({"sql": sql, "connection": "flights"}),
                call_id: Some("call_1".into()),
            }),
            final_answer: None,
            metrics: DecisionMetrics {
                first_token_ms: Some(90),
                total_ms: 800,
                usage: Usage {
                    input_tokens: 600,
                    output_tokens: 120,
                    cached_input_tokens: 400,
                },
            },
            error: Some("repaired trailing comma".into()),
            raw_assistant: None,
        },
        created_at: ms(100),
    };
    let exec_running = ToolExecutionRecord {
        id: exec_id,
        run_id,
        iteration: 0,
        tool: "execute_sql".into(),
        arguments: json!({"sql": sql, "connection": "flights"}),
        status: ExecutionStatus::Running,
        observation: None,
        error: None,
        attempts: 1,
        started_at: ms(110),
        finished_at: None,
    };
    let query_running = QueryRecord {
        id: query_id,
        run_id,
        execution_id: Some(exec_id),
        connection: "flights".into(),
        sql: sql.into(),
        executed_sql: Some(executed.clone()),
        attempt: 1,
        status: QueryStatus::Running,
        error: None,
        row_count: None,
        duration_ms: None,
        created_at: ms(120),
    };
    run.iterations = 1;
    run.usage = d0.decision.metrics.usage;
    run.updated_at = ms(120);
    let step1_events = vec![
        ev(
            1,
            EventKind::DecisionFinal {
                iteration: 0,
                decision: d0.decision.clone(),
            },
        ),
        ev(
            2,
            EventKind::ToolStarted {
                execution_id: exec_id,
                iteration: 0,
                tool: "execute_sql".into(),
                arguments: exec_running.arguments.clone(),
            },
        ),
        ev(
            3,
            EventKind::QueryCreated {
                query_id,
                connection: "flights".into(),
                sql: executed.clone(),
                attempt: 1,
            },
        ),
    ];
    let step1 = StepWrite {
        run: run.clone(),
        decisions: vec![d0.clone()],
        tool_executions: vec![exec_running.clone()],
        queries: vec![query_running.clone()],
        visualizations: vec![],
        snapshot: Some(snapshot(1, RunStatus::Running, ms(121))),
        events: step1_events.clone(),
    };

    // Step 2: the query and the tool finish; a chart is proposed.
    let exec_done = ToolExecutionRecord {
        status: ExecutionStatus::Finished(ToolStatus::Success),
        observation: Some(json!({"row_count": 12, "columns": ["carrier", "avg_delay"]})),
        finished_at: Some(ms(300)),
        ..exec_running.clone()
    };
    let query_done = QueryRecord {
        status: QueryStatus::Success,
        row_count: Some(12),
        duration_ms: Some(34),
        ..query_running.clone()
    };
    let viz = VisualizationRecord {
        id: viz_id,
        run_id,
        query_id,
        spec: serde_json::to_value(chart_spec()).unwrap(),
        echarts: json!({"xAxis": {"type": "category", "data": ["AA", "UA"]},
                        "series": [{"type": "bar", "data": [12.5, 9.25]}]}),
        created_at: ms(310),
    };
    run.updated_at = ms(310);
    let step2_events = vec![
        ev(
            4,
            EventKind::QueryResult {
                query_id,
                columns: vec![
                    ColumnMeta {
                        name: "carrier".into(),
                        data_type: "Utf8".into(),
                    },
                    ColumnMeta {
                        name: "avg_delay".into(),
                        data_type: "Float64".into(),
                    },
                ],
                row_count: 12,
                preview: vec![json!({"carrier": "AA", "avg_delay": 12.5})],
                truncated: false,
                error: None,
                duration_ms: 34,
            },
        ),
        ev(
            5,
            EventKind::ToolFinished {
                execution_id: exec_id,
                tool: "execute_sql".into(),
                status: ToolStatus::Success,
                observation: exec_done.observation.clone().unwrap(),
                error: None,
                attempts: 1,
                duration_ms: 190,
            },
        ),
        ev(
            6,
            EventKind::VisualizationCreated {
                visualization_id: viz_id,
                query_id,
                spec: chart_spec(),
                echarts: viz.echarts.clone(),
            },
        ),
    ];
    let step2 = StepWrite {
        run: run.clone(),
        decisions: vec![],
        tool_executions: vec![exec_done.clone()],
        queries: vec![query_done.clone()],
        visualizations: vec![viz.clone()],
        snapshot: Some(snapshot(2, RunStatus::Running, ms(311))),
        events: step2_events.clone(),
    };

    // Step 3: the final answer; the run completes.
    let d1 = DecisionRecord {
        run_id,
        iteration: 1,
        decision: PlannerDecision {
            analysis_complete: true,
            plan_type: PlanType::Research,
            final_answer: Some("AA has the worst average delay (12.5 min).".into()),
            ..PlannerDecision::default()
        },
        created_at: ms(500),
    };
    run.status = RunStatus::Completed;
    run.title = Some("Average delay by carrier".into());
    run.iterations = 2;
    run.usage = Usage {
        input_tokens: 1200,
        output_tokens: 300,
        cached_input_tokens: 800,
    };
    run.cost_usd = Some(0.0125);
    run.answer = d1.decision.final_answer.clone();
    run.updated_at = ms(510);
    run.finished_at = Some(ms(510));
    let step3_events = vec![
        ev(
            7,
            EventKind::BlockUpsert {
                block_id: Uuid::new_v4(),
                text: run.answer.clone().unwrap(),
                done: true,
            },
        ),
        ev(
            8,
            EventKind::RunFinished {
                summary: summary(RunStatus::Completed),
            },
        ),
    ];
    let final_snapshot = snapshot(3, RunStatus::Completed, ms(511));
    let step3 = StepWrite {
        run: run.clone(),
        decisions: vec![d1.clone()],
        tool_executions: vec![],
        queries: vec![],
        visualizations: vec![],
        snapshot: Some(final_snapshot.clone()),
        events: step3_events.clone(),
    };

    let mut events = vec![started];
    events.extend(step1_events);
    events.extend(step2_events);
    events.extend(step3_events);
    Scenario {
        steps: vec![step0, step1, step2, step3],
        run,
        decisions: vec![d0, d1],
        executions: vec![exec_done],
        queries: vec![query_done],
        visualizations: vec![viz],
        snapshot: final_snapshot,
        events,
    }
}

/// One event of every kind, every optional field filled (and a few left empty).
fn every_event(run_id: Uuid, start: DateTime<Utc>) -> Vec<Event> {
    let exec_id = Uuid::new_v4();
    let query_id = Uuid::new_v4();
    let kinds = vec![
        EventKind::RunStarted {
            question: "Delays? — with ünïcode and \"quotes\"".into(),
            model: "gpt-test".into(),
            connections: vec!["flights".into()],
            user: Some(metricchat_core::guard::UserContext::new("u-1").attribute("tenant_id", 3)),
        },
        EventKind::DecisionPartial {
            iteration: 0,
            reasoning_message: Some("thinking".into()),
            assistant_message: Some("Looking".into()),
        },
        EventKind::DecisionPartial {
            iteration: 0,
            reasoning_message: None,
            assistant_message: None,
        },
        EventKind::DecisionFinal {
            iteration: 0,
            decision: PlannerDecision {
                analysis_complete: false,
                plan_type: PlanType::Action,
                reasoning_message: Some("r".into()),
                assistant_message: Some("a".into()),
                action: Some(PlannedAction {
                    tool: "execute_sql".into(),
                    arguments: json!({"sql": "SELECT 1"}),
                    call_id: Some("call_9".into()),
                }),
                final_answer: None,
                metrics: DecisionMetrics {
                    first_token_ms: Some(5),
                    total_ms: 50,
                    usage: Usage {
                        input_tokens: 10,
                        output_tokens: 5,
                        cached_input_tokens: 2,
                    },
                },
                error: Some("repaired".into()),
                raw_assistant: None,
            },
        },
        EventKind::PlannerRetry {
            iteration: 0,
            attempt: 2,
            error: "not JSON".into(),
        },
        EventKind::ToolStarted {
            execution_id: exec_id,
            iteration: 0,
            tool: "execute_sql".into(),
            arguments: json!({"sql": "SELECT 1", "limit": 10, "flag": true}),
        },
        EventKind::ToolProgress {
            execution_id: exec_id,
            tool: "execute_sql".into(),
            message: "running".into(),
        },
        EventKind::QueryCreated {
            query_id,
            connection: "flights".into(),
            sql: "SELECT 1 LIMIT 1000".into(),
            attempt: 3,
        },
        EventKind::QueryResult {
            query_id,
            columns: vec![ColumnMeta {
                name: "x".into(),
                data_type: "Int64".into(),
            }],
            row_count: 0,
            preview: vec![],
            truncated: true,
            error: Some("no such table".into()),
            duration_ms: 7,
        },
        EventKind::ToolFinished {
            execution_id: exec_id,
            tool: "execute_sql".into(),
            status: ToolStatus::Timeout,
            observation: json!({"error": "timed out"}),
            error: Some("timed out after 30000ms".into()),
            attempts: 2,
            duration_ms: 30_001,
        },
        EventKind::VisualizationCreated {
            visualization_id: Uuid::new_v4(),
            query_id,
            spec: chart_spec(),
            echarts: json!({"series": []}),
        },
        EventKind::BlockUpsert {
            block_id: Uuid::new_v4(),
            text: "partial answer".into(),
            done: false,
        },
        EventKind::RunFinished {
            summary: summary(RunStatus::BudgetExceeded),
        },
        EventKind::RunFailed {
            error: ErrorInfo {
                kind: ErrorKind::QueryFailed,
                message: "query failed on flights: boom".into(),
            },
            summary: RunSummary {
                reason: None,
                cost_usd: None,
                title: None,
                ..summary(RunStatus::Failed)
            },
        },
    ];
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, kind)| event(run_id, u64::try_from(i).unwrap(), start, kind))
        .collect()
}

fn running_run(id: Uuid, created_at: DateTime<Utc>) -> RunRecord {
    RunRecord {
        id,
        question: format!("question {id}"),
        title: None,
        status: RunStatus::Running,
        model: "m".into(),
        created_at,
        updated_at: created_at,
        finished_at: None,
        iterations: 0,
        usage: Usage::default(),
        cost_usd: None,
        answer: None,
        error: None,
        user: None,
    }
}

/// A minimal step for `run`: only the run row and a snapshot.
fn bare_step(run: &RunRecord, step: u32) -> StepWrite {
    StepWrite {
        run: run.clone(),
        decisions: vec![],
        tool_executions: vec![],
        queries: vec![],
        visualizations: vec![],
        snapshot: Some(Snapshot {
            run_id: run.id,
            step,
            status: run.status,
            state: RunState::new(vec![], vec![ChatMessage::user(format!("step {step}"))]),
            created_at: run.updated_at,
        }),
        events: vec![],
    }
}

/// An instruction built from `new`, created `offset_ms` after the fixed instant.
fn instruction(new: NewInstruction, offset_ms: i64) -> Instruction {
    let mut i = new.build().unwrap();
    i.created_at = at(offset_ms);
    i.updated_at = at(offset_ms);
    i
}

/// A memory built from `new`, created `offset_ms` after the fixed instant.
fn memory(new: NewMemory, offset_ms: i64) -> Memory {
    let mut m = new.build().unwrap();
    m.created_at = at(offset_ms);
    m
}

/// Asserts everything the store holds for the scenario's run equals what it expects.
async fn assert_reads_back(store: &dyn Store, s: &Scenario) {
    let id = s.run.id;
    assert_eq!(store.get_run(id).await.unwrap().as_ref(), Some(&s.run));
    assert_eq!(store.decisions(id).await.unwrap(), s.decisions);
    assert_eq!(store.tool_executions(id).await.unwrap(), s.executions);
    assert_eq!(store.queries(id).await.unwrap(), s.queries);
    assert_eq!(store.visualizations(id).await.unwrap(), s.visualizations);
    assert_eq!(
        store.latest_snapshot(id).await.unwrap().as_ref(),
        Some(&s.snapshot)
    );
    assert_eq!(store.events(id).await.unwrap(), s.events);
}

// ---------------------------------------------------------------------------------------------
// Behaviour shared by every store

mod behaviour {
    use super::*;

    /// A run written step by step reads back exactly, and after each step the run row and its
    /// snapshot show how far it got.
    pub async fn full_run_round_trips(store: Arc<dyn Store>) {
        let s = scenario(Uuid::new_v4(), at(0));
        let mut events_so_far = Vec::new();
        for step in &s.steps {
            store.write_step(step).await.unwrap();
            events_so_far.extend(step.events.iter().cloned());
            assert_eq!(
                store.get_run(s.run.id).await.unwrap().as_ref(),
                Some(&step.run)
            );
            assert_eq!(
                store.latest_snapshot(s.run.id).await.unwrap().as_ref(),
                step.snapshot.as_ref()
            );
            assert_eq!(store.events(s.run.id).await.unwrap(), events_so_far);
        }
        assert_reads_back(store.as_ref(), &s).await;

        // Another run's records never leak into this one.
        let other = scenario(Uuid::new_v4(), at(10_000));
        for step in &other.steps {
            store.write_step(step).await.unwrap();
        }
        assert_reads_back(store.as_ref(), &s).await;
        assert_reads_back(store.as_ref(), &other).await;
    }

    /// Unknown runs read as nothing, not as errors.
    pub async fn unknown_run_reads_empty(store: Arc<dyn Store>) {
        let id = Uuid::new_v4();
        assert_eq!(store.get_run(id).await.unwrap(), None);
        assert_eq!(store.latest_snapshot(id).await.unwrap(), None);
        assert!(store.decisions(id).await.unwrap().is_empty());
        assert!(store.tool_executions(id).await.unwrap().is_empty());
        assert!(store.queries(id).await.unwrap().is_empty());
        assert!(store.visualizations(id).await.unwrap().is_empty());
        assert!(store.events(id).await.unwrap().is_empty());
        assert!(store.list_runs(10).await.unwrap().is_empty());
    }

    /// Eval runs are kept whole, listed newest first per suite, and replaced by id.
    /// A step whose run state did not change writes no snapshot: the run row moves on and the
    /// stored snapshot stays as the last step that changed it left it.
    pub async fn a_step_without_a_snapshot_keeps_the_stored_one(store: Arc<dyn Store>) {
        let run = running_run(Uuid::new_v4(), at(0));
        let first = bare_step(&run, 0);
        store.write_step(&first).await.unwrap();
        let mut next = bare_step(&run, 1);
        next.run.iterations = 1;
        next.snapshot = None;
        store.write_step(&next).await.unwrap();
        assert_eq!(store.get_run(run.id).await.unwrap(), Some(next.run.clone()));
        assert_eq!(store.latest_snapshot(run.id).await.unwrap(), first.snapshot);
    }

    pub async fn eval_runs_round_trip(store: Arc<dyn Store>) {
        use metricchat_core::store::EvalRunRecord;
        let rec = |suite: &str, offset: i64, passed: usize| EvalRunRecord {
            id: Uuid::new_v4(),
            suite: suite.to_string(),
            mode: "agent".to_string(),
            label: Some("qwen".to_string()),
            passed,
            total: 10,
            created_at: at(offset),
            report: serde_json::json!({"suite": suite, "cases": [{"id": "a", "passed": true}],
                                       "nested": {"x": 1.5, "s": "naïve \"quoted\""}}),
        };
        let (a, b, c) = (
            rec("flights", 0, 7),
            rec("flights", 1_000, 8),
            rec("chinook", 500, 3),
        );
        for r in [&b, &c, &a] {
            store.put_eval_run(r).await.unwrap();
        }
        assert_eq!(store.get_eval_run(a.id).await.unwrap().as_ref(), Some(&a));
        assert_eq!(store.get_eval_run(Uuid::new_v4()).await.unwrap(), None);
        let flights = store.list_eval_runs(Some("flights"), 10).await.unwrap();
        assert_eq!(flights, vec![b.clone(), a.clone()]);
        assert_eq!(store.list_eval_runs(None, 10).await.unwrap().len(), 3);
        assert_eq!(
            store.list_eval_runs(None, 1).await.unwrap(),
            vec![b.clone()]
        );
        let mut a2 = a.clone();
        a2.passed = 9;
        store.put_eval_run(&a2).await.unwrap();
        assert_eq!(store.get_eval_run(a.id).await.unwrap(), Some(a2));
    }

    /// `list_runs` returns the newest runs first, at most `limit` of them.
    pub async fn list_runs_newest_first_with_limit(store: Arc<dyn Store>) {
        let ids: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
        // Written out of creation order, so insertion order cannot pass for recency.
        for (i, offset) in [(2, 2_000), (0, 0), (4, 4_000), (1, 1_000), (3, 3_000)] {
            let run = running_run(ids[i], at(offset));
            store.write_step(&bare_step(&run, 0)).await.unwrap();
        }
        let newest: Vec<Uuid> = ids.iter().rev().copied().collect();
        let listed = |runs: Vec<RunRecord>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(listed(store.list_runs(3).await.unwrap()), newest[..3]);
        assert_eq!(listed(store.list_runs(100).await.unwrap()), newest);
        assert!(store.list_runs(0).await.unwrap().is_empty());

        // Updating an old run does not make it newer.
        let mut oldest = running_run(ids[0], at(0));
        oldest.status = RunStatus::Completed;
        oldest.updated_at = at(99_000);
        store.write_step(&bare_step(&oldest, 1)).await.unwrap();
        let all = store.list_runs(5).await.unwrap();
        assert_eq!(listed(all.clone()), newest);
        assert_eq!(all[4], oldest);
    }

    /// Every event kind and every field comes back as written, in `seq` order.
    pub async fn events_round_trip_every_field(store: Arc<dyn Store>) {
        let run = running_run(Uuid::new_v4(), at(0));
        let events = every_event(run.id, at(0));
        // Written over two steps.
        let mut first = bare_step(&run, 0);
        first.events = events[..5].to_vec();
        let mut second = bare_step(&run, 1);
        second.events = events[5..].to_vec();
        store.write_step(&first).await.unwrap();
        store.write_step(&second).await.unwrap();
        let back = store.events(run.id).await.unwrap();
        assert_eq!(back, events);
        let seqs: Vec<u64> = back.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (0..14).collect::<Vec<_>>());
        assert_eq!(back[13].type_name(), "run.failed");
    }

    /// After a crash, `mark_interrupted` leaves the run, its running execution and query, and
    /// its latest snapshot consistent, and touches nothing else.
    pub async fn mark_interrupted_repairs_crashed_run(store: Arc<dyn Store>) {
        // Crashed mid-query: steps 0 and 1 written, the execution and query still running.
        let crashed = scenario(Uuid::new_v4(), at(0));
        store.write_step(&crashed.steps[0]).await.unwrap();
        store.write_step(&crashed.steps[1]).await.unwrap();
        // A finished run alongside it.
        let done = scenario(Uuid::new_v4(), at(1_000));
        for step in &done.steps {
            store.write_step(step).await.unwrap();
        }

        // Truncated like PostgreSQL's timestamps, so "not before" holds on every store.
        let before = Utc::now().trunc_subsecs(6);
        assert_eq!(store.mark_interrupted().await.unwrap(), 1);

        let id = crashed.run.id;
        let run = store.get_run(id).await.unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Interrupted);
        let finished = run.finished_at.expect("interrupted run has finished_at");
        assert!(finished >= before, "{finished} < {before}");
        assert_eq!(run.question, crashed.steps[1].run.question);
        assert_eq!(run.iterations, 1);

        let execs = store.tool_executions(id).await.unwrap();
        assert_eq!(execs.len(), 1);
        assert_eq!(
            execs[0].status,
            ExecutionStatus::Finished(ToolStatus::Cancelled)
        );
        assert!(execs[0].finished_at.is_some_and(|t| t >= before));

        let queries = store.queries(id).await.unwrap();
        assert_eq!(queries.len(), 1);
        assert_eq!(queries[0].status, QueryStatus::Error);
        assert_eq!(queries[0].error.as_deref(), Some("interrupted"));

        let snap = store.latest_snapshot(id).await.unwrap().unwrap();
        assert_eq!(snap.step, 1);
        assert_eq!(snap.status, RunStatus::Interrupted);
        assert_eq!(
            Some(&snap.state),
            crashed.steps[1].snapshot.as_ref().map(|s| &s.state)
        );

        // The finished run is untouched, and a second call finds nothing to do.
        assert_reads_back(store.as_ref(), &done).await;
        assert_eq!(store.mark_interrupted().await.unwrap(), 0);
    }

    /// Two runs written step by step from two tasks at once both land completely.
    pub async fn concurrent_writers(store: Arc<dyn Store>) {
        concurrent_writers_on(store.clone(), store).await;
    }

    /// Writes two runs in parallel, one through each store handle, and checks both.
    pub async fn concurrent_writers_on(a: Arc<dyn Store>, b: Arc<dyn Store>) {
        const STEPS: u32 = 30;
        let write = |store: Arc<dyn Store>, offset: i64| {
            tokio::spawn(async move {
                let id = Uuid::new_v4();
                let mut run = running_run(id, at(offset));
                for i in 0..STEPS {
                    run.iterations = i;
                    run.updated_at = at(offset + i64::from(i));
                    let mut step = bare_step(&run, i);
                    step.decisions.push(DecisionRecord {
                        run_id: id,
                        iteration: i,
                        decision: PlannerDecision::default(),
                        created_at: run.updated_at,
                    });
                    step.tool_executions.push(ToolExecutionRecord {
                        id: Uuid::new_v4(),
                        run_id: id,
                        iteration: i,
                        tool: "t".into(),
                        arguments: json!({"i": i}),
                        status: ExecutionStatus::Finished(ToolStatus::Success),
                        observation: Some(json!(i)),
                        error: None,
                        attempts: 1,
                        started_at: run.updated_at,
                        finished_at: Some(run.updated_at),
                    });
                    step.events.push(event(
                        id,
                        u64::from(i),
                        at(offset),
                        EventKind::ToolProgress {
                            execution_id: Uuid::nil(),
                            tool: "t".into(),
                            message: format!("{i}"),
                        },
                    ));
                    store.write_step(&step).await?;
                    tokio::task::yield_now().await;
                }
                Ok::<_, Error>(id)
            })
        };
        let (ra, rb) = tokio::join!(write(a.clone(), 0), write(b, 100_000));
        let ids = [ra.unwrap().unwrap(), rb.unwrap().unwrap()];
        for id in ids {
            let run = a.get_run(id).await.unwrap().unwrap();
            assert_eq!(run.iterations, STEPS - 1);
            assert_eq!(a.decisions(id).await.unwrap().len(), STEPS as usize);
            assert_eq!(a.tool_executions(id).await.unwrap().len(), STEPS as usize);
            assert_eq!(a.events(id).await.unwrap().len(), STEPS as usize);
            assert_eq!(
                a.latest_snapshot(id).await.unwrap().unwrap().step,
                STEPS - 1
            );
        }
        assert_eq!(a.list_runs(10).await.unwrap().len(), 2);
    }

    /// Instructions read back exactly; every filter field selects as
    /// `InstructionFilter::matches` does; oldest first.
    pub async fn instructions_round_trip_and_filter(store: Arc<dyn Store>) {
        let run = Uuid::new_v4();
        let global = instruction(
            NewInstruction::new("Exclude test accounts (is_test = true)").label("Finance"),
            0,
        );
        let on_warehouse = instruction(
            NewInstruction::new("Amounts are in cents")
                .scope(Scope::Connection {
                    connection: "Warehouse".into(),
                })
                .labels(["units", "finance"]),
            1,
        );
        let on_tables = instruction(
            NewInstruction::new("Fiscal year starts in April — ünïcode \"quoted\"")
                .scope(Scope::Tables {
                    connection: Some("warehouse".into()),
                    tables: vec!["public.orders".into(), "refunds".into()],
                })
                .source(Origin::Agent)
                .run_id(run),
            2,
        );
        let archived = instruction(
            NewInstruction::new("Old rule").status(InstructionStatus::Archived),
            3,
        );
        // Written out of order, so insertion order cannot pass for age.
        for i in [&on_tables, &global, &archived, &on_warehouse] {
            store.put_instruction(i).await.unwrap();
        }
        assert_eq!(on_tables.status, InstructionStatus::Draft);
        for i in [&global, &on_warehouse, &on_tables, &archived] {
            assert_eq!(store.get_instruction(i.id).await.unwrap().as_ref(), Some(i));
        }
        assert_eq!(store.get_instruction(Uuid::new_v4()).await.unwrap(), None);

        let ids = |v: Vec<Instruction>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
        let list = |f: InstructionFilter| {
            let store = store.clone();
            async move { ids(store.list_instructions(&f).await.unwrap()) }
        };
        assert_eq!(
            store
                .list_instructions(&InstructionFilter::all())
                .await
                .unwrap(),
            vec![
                global.clone(),
                on_warehouse.clone(),
                on_tables.clone(),
                archived.clone()
            ]
        );
        assert_eq!(
            list(InstructionFilter::approved()).await,
            vec![global.id, on_warehouse.id]
        );
        assert_eq!(
            list(InstructionFilter::all().status(InstructionStatus::Draft)).await,
            vec![on_tables.id]
        );
        assert_eq!(
            list(InstructionFilter::all().source(Origin::Agent)).await,
            vec![on_tables.id]
        );
        assert_eq!(
            list(InstructionFilter::all().label("FINANCE")).await,
            vec![global.id, on_warehouse.id]
        );
        assert_eq!(
            list(InstructionFilter::all().connection("WAREHOUSE")).await,
            vec![on_warehouse.id, on_tables.id]
        );
        assert_eq!(
            list(InstructionFilter::all().text("FISCAL year")).await,
            vec![on_tables.id]
        );
        assert_eq!(
            list(InstructionFilter::all().run_id(run)).await,
            vec![on_tables.id]
        );
        assert_eq!(
            list(
                InstructionFilter::all()
                    .status(InstructionStatus::Approved)
                    .label("units")
                    .connection("warehouse")
            )
            .await,
            vec![on_warehouse.id]
        );
        assert!(
            list(InstructionFilter::all().text("nowhere"))
                .await
                .is_empty()
        );

        // Putting an instruction with a known id replaces it.
        let mut replaced = global.clone();
        replaced.text = "Exclude test and internal accounts".into();
        replaced.usage_count = 7;
        store.put_instruction(&replaced).await.unwrap();
        assert_eq!(
            store.get_instruction(global.id).await.unwrap(),
            Some(replaced)
        );
        assert_eq!(
            store
                .list_instructions(&InstructionFilter::all())
                .await
                .unwrap()
                .len(),
            4
        );
    }

    /// Status changes, updates and deletes apply to one instruction, stamp `updated_at`, and
    /// fail with NotFound / InvalidInput without changing anything.
    pub async fn instruction_lifecycle_and_errors(store: Arc<dyn Store>) {
        let draft = instruction(
            NewInstruction::new("Use net revenue")
                .source(Origin::Agent)
                .label("finance"),
            0,
        );
        let other = instruction(NewInstruction::new("Other rule"), 1);
        store.put_instruction(&draft).await.unwrap();
        store.put_instruction(&other).await.unwrap();

        let approved = store
            .set_instruction_status(draft.id, InstructionStatus::Approved)
            .await
            .unwrap();
        assert_eq!(approved.status, InstructionStatus::Approved);
        assert!(approved.updated_at > draft.updated_at);
        assert_eq!(
            (approved.text.as_str(), approved.created_at, approved.source),
            (draft.text.as_str(), draft.created_at, Origin::Agent)
        );
        assert_eq!(
            store.get_instruction(draft.id).await.unwrap().as_ref(),
            Some(&approved)
        );

        let updated = store
            .update_instruction(
                draft.id,
                &InstructionUpdate::new()
                    .text("  Use net revenue (net_revenue)  ")
                    .scope(Scope::Connection {
                        connection: "crm".into(),
                    }),
            )
            .await
            .unwrap();
        assert_eq!(updated.text, "Use net revenue (net_revenue)");
        assert_eq!(updated.scope.connection(), Some("crm"));
        assert_eq!(
            updated.labels,
            vec!["finance".to_string()],
            "labels untouched"
        );
        assert_eq!(updated.status, InstructionStatus::Approved);
        assert_eq!(
            store.get_instruction(draft.id).await.unwrap().as_ref(),
            Some(&updated)
        );
        assert_eq!(
            store
                .list_instructions(&InstructionFilter::all().connection("CRM"))
                .await
                .unwrap(),
            vec![updated.clone()]
        );
        let relabelled = store
            .update_instruction(draft.id, &InstructionUpdate::new().labels(["a", "b"]))
            .await
            .unwrap();
        assert_eq!(relabelled.labels, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(relabelled.text, updated.text);

        // Bad input changes nothing.
        let before = store.get_instruction(draft.id).await.unwrap().unwrap();
        let err = store
            .update_instruction(draft.id, &InstructionUpdate::new().text("   "))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        let err = store
            .update_instruction(
                draft.id,
                &InstructionUpdate::new().scope(Scope::Tables {
                    connection: None,
                    tables: vec![],
                }),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert_eq!(store.get_instruction(draft.id).await.unwrap(), Some(before));
        let mut empty = other.clone();
        empty.id = Uuid::new_v4();
        empty.text = " \n ".into();
        let err = store.put_instruction(&empty).await.unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        assert_eq!(store.get_instruction(empty.id).await.unwrap(), None);

        // Unknown ids are NotFound.
        let ghost = Uuid::new_v4();
        for err in [
            store
                .set_instruction_status(ghost, InstructionStatus::Approved)
                .await
                .unwrap_err(),
            store
                .update_instruction(ghost, &InstructionUpdate::new().text("x"))
                .await
                .unwrap_err(),
            store.delete_instruction(ghost).await.unwrap_err(),
        ] {
            assert!(
                matches!(
                    err,
                    Error::NotFound {
                        what: "instruction",
                        ..
                    }
                ),
                "{err:?}"
            );
            assert!(err.to_string().contains(&ghost.to_string()), "{err}");
        }

        // Delete removes one, and only once.
        store.delete_instruction(draft.id).await.unwrap();
        assert_eq!(store.get_instruction(draft.id).await.unwrap(), None);
        assert_eq!(
            store.delete_instruction(draft.id).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            store
                .list_instructions(&InstructionFilter::all())
                .await
                .unwrap(),
            vec![other]
        );
    }

    /// Each use adds one per instruction (repeats in one call count once; unknown ids are
    /// skipped), without touching `updated_at`.
    pub async fn instruction_usage_counts(store: Arc<dyn Store>) {
        let a = instruction(NewInstruction::new("A"), 0);
        let b = instruction(NewInstruction::new("B"), 1);
        store.put_instruction(&a).await.unwrap();
        store.put_instruction(&b).await.unwrap();
        store.record_instruction_usage(&[]).await.unwrap();
        store
            .record_instruction_usage(&[a.id, Uuid::new_v4(), a.id])
            .await
            .unwrap();
        store.record_instruction_usage(&[a.id, b.id]).await.unwrap();
        // Concurrent runs all count.
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                let id = b.id;
                tokio::spawn(async move { store.record_instruction_usage(&[id]).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let a2 = store.get_instruction(a.id).await.unwrap().unwrap();
        let b2 = store.get_instruction(b.id).await.unwrap().unwrap();
        assert_eq!((a2.usage_count, b2.usage_count), (2, 9));
        assert_eq!(a2.updated_at, a.updated_at);
    }

    /// Memories read back exactly, filter like `MemoryFilter::matches`, oldest first, and
    /// delete once.
    pub async fn memories_round_trip_and_filter(store: Arc<dyn Store>) {
        let run = Uuid::new_v4();
        let by_user = memory(NewMemory::new("revenue means net_revenue").label("defs"), 0);
        let by_agent = memory(
            NewMemory::new("carrier codes are IATA codes")
                .scope(Scope::Tables {
                    connection: Some("Flights".into()),
                    tables: vec!["airlines".into()],
                })
                .source(Origin::Agent)
                .run_id(run),
            1,
        );
        store.put_memory(&by_agent).await.unwrap();
        store.put_memory(&by_user).await.unwrap();
        let ids = |v: Vec<Memory>| v.into_iter().map(|m| m.id).collect::<Vec<_>>();
        assert_eq!(
            store.list_memories(&MemoryFilter::all()).await.unwrap(),
            vec![by_user.clone(), by_agent.clone()]
        );
        for (filter, want) in [
            (MemoryFilter::all().run_id(run), vec![by_agent.id]),
            (MemoryFilter::all().source(Origin::User), vec![by_user.id]),
            (MemoryFilter::all().label("DEFS"), vec![by_user.id]),
            (MemoryFilter::all().connection("flights"), vec![by_agent.id]),
            (MemoryFilter::all().text("IATA"), vec![by_agent.id]),
            (MemoryFilter::all().text("nothing"), vec![]),
        ] {
            assert_eq!(
                ids(store.list_memories(&filter).await.unwrap()),
                want,
                "{filter:?}"
            );
        }
        let mut empty = by_user.clone();
        empty.id = Uuid::new_v4();
        empty.text = String::new();
        assert_eq!(
            store.put_memory(&empty).await.unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        store.delete_memory(by_user.id).await.unwrap();
        let err = store.delete_memory(by_user.id).await.unwrap_err();
        assert!(
            matches!(err, Error::NotFound { what: "memory", .. }),
            "{err:?}"
        );
        assert_eq!(
            store.list_memories(&MemoryFilter::all()).await.unwrap(),
            vec![by_agent]
        );
        // Runs and the team's knowledge are independent.
        assert!(store.list_runs(10).await.unwrap().is_empty());
    }

    // ---- Audit log (issue 15).

    pub async fn audit_log_appends_and_filters(store: Arc<dyn Store>) {
        use metricchat_core::store::{AuditFilter, AuditOutcome, AuditRecord};
        let run = Uuid::new_v4();
        let rec = |i: i64, user: &str, outcome: AuditOutcome, run_id: Option<Uuid>| AuditRecord {
            id: Uuid::now_v7(),
            at: DateTime::from_timestamp(1_790_000_000 + i, 0).unwrap(),
            user_id: Some(user.into()),
            run_id,
            query_id: run_id.map(|_| Uuid::new_v4()),
            source: if run_id.is_some() { "agent" } else { "query" }.into(),
            connection: "wh".into(),
            sql: format!("SELECT {i} — ünïcode 'quoted'"),
            policy: if i == 0 {
                vec![]
            } else {
                vec!["public.orders: rows filtered -ssn".into()]
            },
            rows: (outcome == AuditOutcome::Success).then_some(3),
            bytes: (outcome == AuditOutcome::Success).then_some(1_024),
            duration_ms: 7,
            outcome,
            error: (outcome != AuditOutcome::Success).then(|| "no".to_string()),
        };
        let a = rec(0, "alice", AuditOutcome::Success, None);
        let b = rec(1, "bob", AuditOutcome::Refused, Some(run));
        let c = rec(2, "alice", AuditOutcome::Error, Some(run));
        // A statement denied approval (migration 0007 widened the stores' outcome check).
        let d = rec(3, "bob", AuditOutcome::Denied, Some(run));
        for r in [&a, &b, &c, &d] {
            store.append_audit(r).await.unwrap();
        }
        let all = store.audit_log(&AuditFilter::new()).await.unwrap();
        assert_eq!(
            all,
            vec![d.clone(), c.clone(), b.clone(), a.clone()],
            "newest first, every field"
        );
        let alice = store
            .audit_log(&AuditFilter::new().user("alice"))
            .await
            .unwrap();
        assert_eq!(alice, vec![c.clone(), a.clone()]);
        let of_run = store.audit_log(&AuditFilter::new().run(run)).await.unwrap();
        assert_eq!(of_run, vec![d.clone(), c.clone(), b.clone()]);
        let refused = store
            .audit_log(&AuditFilter::new().outcome(AuditOutcome::Refused))
            .await
            .unwrap();
        assert_eq!(refused, vec![b.clone()]);
        let denied = store
            .audit_log(&AuditFilter::new().outcome(AuditOutcome::Denied))
            .await
            .unwrap();
        assert_eq!(denied, vec![d.clone()]);
        let last = store.audit_log(&AuditFilter::new().limit(1)).await.unwrap();
        assert_eq!(last, vec![d.clone()]);
        let mut since = AuditFilter::new().connection("wh");
        since.since = Some(b.at);
        assert_eq!(store.audit_log(&since).await.unwrap(), vec![d, c, b]);
        assert!(
            store
                .audit_log(&AuditFilter::new().connection("other"))
                .await
                .unwrap()
                .is_empty()
        );
    }
}

macro_rules! behaviour_tests {
    ($($name:ident),* $(,)?) => {
        mod memory_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::behaviour::$name(std::sync::Arc::new(super::MemoryStore::new())).await;
                }
            )*
        }
        mod sqlite_file_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = super::SqliteStore::open(dir.path().join("metricchat.db"))
                        .await
                        .unwrap();
                    super::behaviour::$name(std::sync::Arc::new(store)).await;
                }
            )*
        }
        mod sqlite_memory_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let store = super::SqliteStore::in_memory().await.unwrap();
                    super::behaviour::$name(std::sync::Arc::new(store)).await;
                }
            )*
        }
        #[cfg(feature = "postgres-store")]
        mod postgres_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs MC_TEST_POSTGRES_URL; run with --ignored store::postgres"]
                async fn $name() {
                    super::postgres::with_store(stringify!($name), |store| {
                        super::behaviour::$name(store)
                    })
                    .await;
                }
            )*
        }
    };
}

behaviour_tests!(
    full_run_round_trips,
    unknown_run_reads_empty,
    list_runs_newest_first_with_limit,
    events_round_trip_every_field,
    mark_interrupted_repairs_crashed_run,
    concurrent_writers,
    instructions_round_trip_and_filter,
    instruction_lifecycle_and_errors,
    instruction_usage_counts,
    memories_round_trip_and_filter,
    eval_runs_round_trip,
    a_step_without_a_snapshot_keeps_the_stored_one,
    audit_log_appends_and_filters,
);

// ---------------------------------------------------------------------------------------------
// SQLite only

/// A raw connection to the store's file, to check what is on disk.
/// The audit log is append-only on disk too: the table's triggers refuse changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_audit_log_refuses_update_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metricchat.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let rec = metricchat_core::store::AuditRecord {
        id: Uuid::now_v7(),
        at: Utc::now(),
        user_id: None,
        run_id: None,
        query_id: None,
        source: "query".into(),
        connection: "wh".into(),
        sql: "SELECT 1".into(),
        policy: vec![],
        rows: Some(1),
        bytes: None,
        duration_ms: 0,
        outcome: metricchat_core::store::AuditOutcome::Success,
        error: None,
    };
    store.append_audit(&rec).await.unwrap();
    let pool = raw(&path).await;
    for sql in [
        "UPDATE audit_log SET sql_text = 'x'",
        "DELETE FROM audit_log",
    ] {
        let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(
        store
            .audit_log(&metricchat_core::store::AuditFilter::new())
            .await
            .unwrap(),
        vec![rec]
    );
}

async fn raw(path: &Path) -> sqlx::SqlitePool {
    let url = format!("sqlite://{}", path.display());
    sqlx::SqlitePool::connect(&url).await.unwrap()
}

/// Three audit records, one per outcome version 6 of the schema knew.
fn v6_audit_records() -> Vec<metricchat_core::store::AuditRecord> {
    use metricchat_core::store::{AuditOutcome, AuditRecord};
    let run = Uuid::new_v4();
    [
        AuditOutcome::Success,
        AuditOutcome::Error,
        AuditOutcome::Refused,
    ]
    .into_iter()
    .zip(0_i64..)
    .map(|(outcome, i)| AuditRecord {
        id: Uuid::now_v7(),
        at: DateTime::from_timestamp(1_780_000_000 + i, 0).unwrap(),
        user_id: Some(format!("user-{i}")),
        run_id: (i > 0).then_some(run),
        query_id: (i > 0).then(Uuid::new_v4),
        source: if i > 0 { "agent" } else { "query" }.into(),
        connection: "wh".into(),
        sql: format!("SELECT {i} AS \"ünïcode\", 'it''s'"),
        policy: vec![format!("t{i}: rows filtered")],
        rows: (outcome == AuditOutcome::Success).then_some(5),
        bytes: (outcome == AuditOutcome::Success).then_some(512),
        duration_ms: 3,
        outcome,
        error: (outcome != AuditOutcome::Success).then(|| "no".to_string()),
    })
    .collect()
}

/// After the store is upgraded to version 7, `before` (newest last) reads back unchanged, a
/// `denied` record appends, and the log is still append-only.
async fn assert_audit_upgraded(store: &dyn Store, before: &[metricchat_core::store::AuditRecord]) {
    use metricchat_core::store::{AuditFilter, AuditOutcome};
    let mut newest_first = before.to_vec();
    newest_first.reverse();
    assert_eq!(
        store.audit_log(&AuditFilter::new()).await.unwrap(),
        newest_first,
        "every field of every row survives migration 0007"
    );
    let mut denied = before[2].clone();
    denied.id = Uuid::now_v7();
    denied.at += TimeDelta::seconds(10);
    denied.outcome = AuditOutcome::Denied;
    denied.error = Some("not approved: too big (by host)".into());
    store.append_audit(&denied).await.unwrap();
    assert_eq!(
        store
            .audit_log(&AuditFilter::new().outcome(AuditOutcome::Denied))
            .await
            .unwrap(),
        vec![denied]
    );
}

/// Migration 0007 (SQLite rebuilds `audit_log` to widen its outcome check) on a store that
/// already holds audit rows written at version 6: nothing is lost or changed, the indexes and
/// the append-only triggers are back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_log_written_at_version_6_survives_migration_7() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let records = v6_audit_records();
    {
        let store = SqliteStore::open(&path).await.unwrap();
        for r in &records {
            store.append_audit(r).await.unwrap();
        }
        store.close().await;
    }
    // Back to version 6: the table as 0006 made it (rows kept), 0007 not applied.
    let pool = raw(&path).await;
    sqlx::raw_sql(
        "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;
         DROP INDEX audit_log_at; DROP INDEX audit_log_user; DROP INDEX audit_log_run;
         ALTER TABLE audit_log RENAME TO audit_log_v7;
         CREATE TABLE audit_log (
             id TEXT NOT NULL PRIMARY KEY, at TEXT NOT NULL, user_id TEXT, run_id TEXT,
             query_id TEXT, source TEXT NOT NULL, connection TEXT NOT NULL,
             sql_text TEXT NOT NULL, policy TEXT NOT NULL,
             row_count INTEGER CHECK (row_count >= 0), byte_count INTEGER CHECK (byte_count >= 0),
             duration_ms INTEGER NOT NULL CHECK (duration_ms >= 0),
             outcome TEXT NOT NULL CHECK (outcome IN ('success', 'error', 'refused')),
             error TEXT);
         INSERT INTO audit_log SELECT * FROM audit_log_v7;
         DROP TABLE audit_log_v7;
         CREATE INDEX audit_log_at ON audit_log (at);
         CREATE INDEX audit_log_user ON audit_log (user_id, at);
         CREATE INDEX audit_log_run ON audit_log (run_id);
         CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
         BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
         CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
         BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
         DELETE FROM _sqlx_migrations WHERE version = 7;",
    )
    .execute(&pool)
    .await
    .unwrap();
    // Version 6 refuses the new outcome: the upgrade below is what makes it possible.
    let refused = sqlx::query(
        "INSERT INTO audit_log (id, at, source, connection, sql_text, policy, duration_ms, \
         outcome) VALUES ('x', 'x', 'query', 'wh', 'SELECT 1', '[]', 0, 'denied')",
    )
    .execute(&pool)
    .await;
    assert!(refused.is_err(), "version 6 knows no `denied`");
    pool.close().await;

    let store = SqliteStore::open(&path).await.unwrap();
    assert_audit_upgraded(&store, &records).await;
    store.close().await;

    let pool = raw(&path).await;
    let applied: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE version = 7")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(applied, 1);
    let objects: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE tbl_name = 'audit_log' AND type IN ('index', 'trigger') \
         AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        objects,
        [
            "audit_log_at",
            "audit_log_no_delete",
            "audit_log_no_update",
            "audit_log_run",
            "audit_log_user"
        ]
    );
    for statement in [
        "UPDATE audit_log SET sql_text = 'x'",
        "DELETE FROM audit_log",
    ] {
        let err = sqlx::query(statement).execute(&pool).await.unwrap_err();
        assert!(
            err.to_string().contains("append-only"),
            "{statement}: {err}"
        );
    }
    let (integrity,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_reopen_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    assert!(!path.exists());
    let s = scenario(Uuid::new_v4(), at(0));
    {
        let store = SqliteStore::open(&path).await.unwrap();
        assert!(path.exists(), "open creates the file");
        for step in &s.steps {
            store.write_step(step).await.unwrap();
        }
        store.close().await;
    }
    for _ in 0..3 {
        let store = SqliteStore::open(&path).await.unwrap();
        assert_reads_back(&store, &s).await;
        assert_eq!(store.list_runs(10).await.unwrap(), vec![s.run.clone()]);
        store.close().await;
    }

    // On disk: each migration applied once, WAL mode, summable usage, readable statuses and
    // events.
    let pool = raw(&path).await;
    let migrations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")).unwrap();
    assert_eq!(migrations, i64::try_from(files.count()).unwrap());
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let (input, output, cached): (i64, i64, i64) = sqlx::query_as(
        "SELECT SUM(input_tokens), SUM(output_tokens), SUM(cached_input_tokens) FROM runs",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((input, output, cached), (1200, 300, 800));
    let status: String = sqlx::query_scalar("SELECT status FROM runs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "completed");
    let exec_status: String = sqlx::query_scalar("SELECT status FROM tool_executions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(exec_status, "success");
    let types: Vec<String> = sqlx::query_scalar("SELECT type FROM events ORDER BY seq")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(types.first().map(String::as_str), Some("run.started"));
    assert_eq!(types.last().map(String::as_str), Some("run.finished"));
    // One snapshot per run, replaced at every step (the latest, step 3 of 0..=3): keeping one
    // full copy of the conversation per step made storage grow with the square of the steps.
    let snapshots: Vec<(i64, String)> = sqlx::query_as("SELECT step, status FROM snapshots")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(
        snapshots,
        [(3, "completed".to_string())],
        "only the latest snapshot is kept"
    );
    pool.close().await;
}

#[tokio::test]
async fn open_fails_with_store_error_when_directory_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let err = SqliteStore::open(dir.path().join("missing").join("x.db"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Store { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_step_writes_nothing_and_keeps_previous_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("mc.db")).await.unwrap();
    failed_step_rolls_back(&store).await;
}

/// A step that fails half-way (a foreign key) leaves the store exactly as the previous step
/// did, and the store goes on working.
async fn failed_step_rolls_back(store: &dyn Store) {
    let s = scenario(Uuid::new_v4(), at(0));
    store.write_step(&s.steps[0]).await.unwrap();
    store.write_step(&s.steps[1]).await.unwrap();
    let expected = Scenario {
        steps: vec![],
        run: s.steps[1].run.clone(),
        decisions: s.steps[1].decisions.clone(),
        executions: s.steps[1].tool_executions.clone(),
        queries: s.steps[1].queries.clone(),
        visualizations: vec![],
        snapshot: s.steps[1].snapshot.clone().unwrap(),
        events: s.events[..4].to_vec(),
    };
    assert_reads_back(store, &expected).await;

    // Step 2, but its visualization names a run that does not exist: the foreign key fails
    // after the run row, execution and query updates were already applied in the transaction.
    let mut bad = s.steps[2].clone();
    bad.run.status = RunStatus::Completed;
    bad.decisions.push(s.decisions[1].clone());
    bad.visualizations[0].run_id = Uuid::new_v4();
    let err = store.write_step(&bad).await.unwrap_err();
    assert!(matches!(err, Error::Store { .. }), "{err:?}");
    assert!(err.to_string().contains("visualization"), "{err}");
    assert!(
        std::error::Error::source(&err)
            .is_some_and(|e| e.to_string().to_lowercase().contains("foreign key")),
        "{err:?}"
    );
    assert_reads_back(store, &expected).await;

    // The store still works: the correct step and the rest apply.
    store.write_step(&s.steps[2]).await.unwrap();
    store.write_step(&s.steps[3]).await.unwrap();
    assert_reads_back(store, &s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_nanoseconds_exactly() {
    let store = SqliteStore::in_memory().await.unwrap();
    let t = DateTime::from_timestamp(1_764_000_000, 123_456_789).unwrap();
    let run = running_run(Uuid::new_v4(), t);
    store.write_step(&bare_step(&run, 0)).await.unwrap();
    assert_eq!(store.get_run(run.id).await.unwrap(), Some(run.clone()));
    assert_eq!(
        store
            .latest_snapshot(run.id)
            .await
            .unwrap()
            .unwrap()
            .created_at,
        t
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewriting_a_step_is_idempotent() {
    let store = SqliteStore::in_memory().await.unwrap();
    let s = scenario(Uuid::new_v4(), at(0));
    for step in &s.steps {
        store.write_step(step).await.unwrap();
        store.write_step(step).await.unwrap();
    }
    // Events are kept once per (run_id, seq), the first write winning.
    let mut again = s.steps[3].clone();
    again.events[0].kind = EventKind::ToolProgress {
        execution_id: Uuid::nil(),
        tool: "x".into(),
        message: "duplicate seq".into(),
    };
    store.write_step(&again).await.unwrap();
    assert_reads_back(&store, &s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_stores_are_separate() {
    let a = SqliteStore::in_memory().await.unwrap();
    let b = SqliteStore::in_memory().await.unwrap();
    let run = running_run(Uuid::new_v4(), at(0));
    a.write_step(&bare_step(&run, 0)).await.unwrap();
    assert_eq!(a.list_runs(10).await.unwrap().len(), 1);
    assert!(b.list_runs(10).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_handles_on_one_file_write_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let a = SqliteStore::open(&path).await.unwrap();
    let b = SqliteStore::open(&path).await.unwrap();
    behaviour::concurrent_writers_on(Arc::new(a), Arc::new(b)).await;
}

const CRASH_DB_ENV: &str = "METRICCHAT_TEST_CRASH_DB";

/// This test's full name, as the parent passes it to `--exact`.
const CRASH_CHILD: &str = "store::crash_helper_child_process";

/// Child half of `mark_interrupted_after_process_crash`, not a test of its own (hence ignored):
/// started by it with `--ignored --exact`, writes a run up to a running query and aborts the
/// process without closing anything.
#[tokio::test]
#[ignore = "the child process of mark_interrupted_after_process_crash, started by it"]
async fn crash_helper_child_process() {
    let Ok(path) = std::env::var(CRASH_DB_ENV) else {
        return;
    };
    let run_id: Uuid = std::env::var("METRICCHAT_TEST_CRASH_RUN")
        .unwrap()
        .parse()
        .unwrap();
    let store = SqliteStore::open(&path).await.unwrap();
    let s = scenario(run_id, at(0));
    store.write_step(&s.steps[0]).await.unwrap();
    store.write_step(&s.steps[1]).await.unwrap();
    std::process::abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mark_interrupted_after_process_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let run_id = Uuid::new_v4();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            CRASH_CHILD,
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_DB_ENV, &path)
        .env("METRICCHAT_TEST_CRASH_RUN", run_id.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the child process must die, not finish");

    // The next process finds the run as the dead one left it...
    let store = SqliteStore::open(&path).await.unwrap();
    let s = scenario(run_id, at(0));
    let left = store.get_run(run_id).await.unwrap().unwrap();
    assert_eq!(left.status, RunStatus::Running);
    assert_eq!(left.iterations, 1);
    assert_eq!(
        store.tool_executions(run_id).await.unwrap()[0].status,
        ExecutionStatus::Running
    );
    // (The scenario's inner ids are random per call, so compare what does not depend on them.)
    let events: Vec<(u64, &str)> = store
        .events(run_id)
        .await
        .unwrap()
        .iter()
        .map(|e| (e.seq, e.type_name()))
        .collect();
    let expected: Vec<(u64, &str)> = s.events[..4]
        .iter()
        .map(|e| (e.seq, e.type_name()))
        .collect();
    assert_eq!(events, expected);

    // ...and repairs it.
    assert_eq!(store.mark_interrupted().await.unwrap(), 1);
    let run = store.get_run(run_id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Interrupted);
    assert!(run.finished_at.is_some());
    let exec = &store.tool_executions(run_id).await.unwrap()[0];
    assert_eq!(
        exec.status,
        ExecutionStatus::Finished(ToolStatus::Cancelled)
    );
    assert!(exec.finished_at.is_some());
    let query = &store.queries(run_id).await.unwrap()[0];
    assert_eq!(query.status, QueryStatus::Error);
    assert_eq!(query.error.as_deref(), Some("interrupted"));
    let snap = store.latest_snapshot(run_id).await.unwrap().unwrap();
    assert_eq!((snap.step, snap.status), (1, RunStatus::Interrupted));
    store.close().await;

    // The repair itself persisted.
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        store.get_run(run_id).await.unwrap().unwrap().status,
        RunStatus::Interrupted
    );
    assert_eq!(store.mark_interrupted().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instructions_and_memories_survive_reopen_as_readable_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("team.db");
    let rule = instruction(
        NewInstruction::new("Exclude test accounts")
            .scope(Scope::Tables {
                connection: None,
                tables: vec!["accounts".into()],
            })
            .label("finance"),
        0,
    );
    let fact = memory(NewMemory::new("revenue means net_revenue"), 1);
    {
        let store = SqliteStore::open(&path).await.unwrap();
        store.put_instruction(&rule).await.unwrap();
        store.put_memory(&fact).await.unwrap();
        store.record_instruction_usage(&[rule.id]).await.unwrap();
        store.close().await;
    }
    let store = SqliteStore::open(&path).await.unwrap();
    let back = store.get_instruction(rule.id).await.unwrap().unwrap();
    assert_eq!(back.usage_count, 1);
    assert_eq!(back.scope, rule.scope);
    assert_eq!(
        store.list_memories(&MemoryFilter::all()).await.unwrap(),
        vec![fact]
    );
    store.close().await;
    let pool = raw(&path).await;
    let (status, tables, label): (String, String, String) = sqlx::query_as(
        "SELECT status, json_extract(scope, '$.tables[0]'), json_extract(labels, '$[0]') \
         FROM instructions",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), tables.as_str(), label.as_str()),
        ("approved", "accounts", "finance")
    );
    pool.close().await;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL only

#[cfg(feature = "postgres-store")]
mod postgres {
    use std::future::Future;
    use std::panic::AssertUnwindSafe;

    use futures::FutureExt;
    use metricchat_core::store::{PostgresStore, PostgresStoreConfig};

    use super::*;

    const URL_ENV: &str = "MC_TEST_POSTGRES_URL";

    /// The test database's URL, or `None` after a loud SKIPPED line on stderr (written past the
    /// test harness's capture, so it shows in every run); with `CI=true` a missing URL fails the
    /// test instead ([`metricchat_testkit::service_url_or_skip`]).
    pub fn url(test: &str) -> Option<String> {
        metricchat_testkit::service_url_or_skip(
            URL_ENV,
            &format!(
                "postgres_store::{test} (set it, e.g. postgres://postgres@127.0.0.1:5432/test)"
            ),
        )
    }

    /// A schema name no other test run uses.
    pub fn fresh_schema() -> String {
        format!("mc_test_{}", Uuid::new_v4().simple())
    }

    /// Drops `schema` and everything in it.
    pub async fn drop_schema(url: &str, schema: &str) {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
        )))
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }

    /// Runs `f` against a store in a fresh schema, then drops the schema (also when `f`
    /// panics, re-raising the panic afterwards).
    pub async fn with_store<F, Fut>(test: &str, f: F)
    where
        F: FnOnce(Arc<dyn Store>) -> Fut,
        Fut: Future<Output = ()>,
    {
        let Some(url) = url(test) else {
            return;
        };
        let schema = fresh_schema();
        let store = PostgresStore::connect_with(PostgresStoreConfig::new(&url).schema(&schema))
            .await
            .unwrap();
        let out = AssertUnwindSafe(f(Arc::new(store.clone())))
            .catch_unwind()
            .await;
        store.close().await;
        drop_schema(&url, &schema).await;
        if let Err(panic) = out {
            std::panic::resume_unwind(panic);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs MC_TEST_POSTGRES_URL; run with --ignored store::postgres"]
    async fn postgres_failed_step_writes_nothing_and_keeps_previous_state() {
        with_store("failed_step", |store| async move {
            failed_step_rolls_back(store.as_ref()).await;
        })
        .await;
    }

    /// Migration 0007 (PostgreSQL alters the outcome check) on a store already holding audit
    /// rows written at version 6: they read back unchanged and `denied` appends.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs MC_TEST_POSTGRES_URL; run with --ignored store::postgres"]
    async fn postgres_audit_log_written_at_version_6_survives_migration_7() {
        let Some(url) = url("audit_v6_upgrade") else {
            return;
        };
        let schema = fresh_schema();
        let connect =
            || PostgresStore::connect_with(PostgresStoreConfig::new(&url).schema(&schema));
        let result = AssertUnwindSafe(async {
            let records = v6_audit_records();
            let store = connect().await.unwrap();
            for r in &records {
                store.append_audit(r).await.unwrap();
            }
            store.close().await;
            // Back to version 6: 0006's check, 0007 not applied.
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "ALTER TABLE \"{schema}\".audit_log DROP CONSTRAINT audit_log_outcome_check;
                 ALTER TABLE \"{schema}\".audit_log ADD CONSTRAINT audit_log_outcome_check
                     CHECK (outcome IN ('success', 'error', 'refused'));
                 DELETE FROM \"{schema}\"._sqlx_migrations WHERE version = 7;"
            )))
            .execute(&pool)
            .await
            .unwrap();
            pool.close().await;
            let store = connect().await.unwrap();
            assert_audit_upgraded(&store, &records).await;
            store.close().await;
        })
        .catch_unwind()
        .await;
        drop_schema(&url, &schema).await;
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    }

    /// Two schemas of one database hold two independent stores; reconnecting migrates
    /// nothing twice; the tables use native types a user can query.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs MC_TEST_POSTGRES_URL; run with --ignored store::postgres"]
    async fn postgres_schemas_are_isolated_and_migrations_idempotent() {
        let Some(url) = url("schemas_are_isolated") else {
            return;
        };
        let (sa, sb) = (fresh_schema(), fresh_schema());
        let connect = |schema: &str| {
            PostgresStore::connect_with(PostgresStoreConfig::new(&url).schema(schema))
        };
        let result = AssertUnwindSafe(async {
            let a = connect(&sa).await.unwrap();
            let b = connect(&sb).await.unwrap();
            assert_eq!(a.schema(), sa);
            let s = scenario(Uuid::new_v4(), at(0));
            for step in &s.steps {
                a.write_step(step).await.unwrap();
            }
            let rule = instruction(NewInstruction::new("only in a"), 0);
            a.put_instruction(&rule).await.unwrap();
            assert!(b.list_runs(10).await.unwrap().is_empty());
            assert!(
                b.list_instructions(&InstructionFilter::all())
                    .await
                    .unwrap()
                    .is_empty()
            );
            a.close().await;
            b.close().await;
            for _ in 0..2 {
                let again = connect(&sa).await.unwrap();
                assert_reads_back(&again, &s).await;
                assert_eq!(
                    again.get_instruction(rule.id).await.unwrap(),
                    Some(rule.clone())
                );
                again.close().await;
            }

            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            let migrations: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM \"{sa}\"._sqlx_migrations"
            )))
            .fetch_one(&pool)
            .await
            .unwrap();
            let files =
                std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations-postgres"))
                    .unwrap();
            assert_eq!(migrations, i64::try_from(files.count()).unwrap());
            let (tokens, status, first_type, spec_type): (i64, String, String, String) =
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT r.input_tokens + r.output_tokens, r.status, \
                     (SELECT type FROM \"{sa}\".events ORDER BY seq LIMIT 1), \
                     (SELECT spec->>'chart_type' FROM \"{sa}\".visualizations LIMIT 1) \
                     FROM \"{sa}\".runs r"
                )))
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(
                (
                    tokens,
                    status.as_str(),
                    first_type.as_str(),
                    spec_type.as_str()
                ),
                (1500, "completed", "run.started", "bar")
            );
            let column_type: String = sqlx::query_scalar(
                "SELECT data_type FROM information_schema.columns \
                 WHERE table_schema = $1 AND table_name = 'runs' AND column_name = 'created_at'",
            )
            .bind(&sa)
            .fetch_one(&pool)
            .await
            .unwrap();
            assert_eq!(column_type, "timestamp with time zone");
            pool.close().await;
        })
        .catch_unwind()
        .await;
        drop_schema(&url, &sa).await;
        drop_schema(&url, &sb).await;
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    }

    #[tokio::test]
    async fn postgres_bad_schema_or_url_are_typed_errors() {
        let err = PostgresStore::connect_with(
            PostgresStoreConfig::new("postgres://postgres@127.0.0.1:5432/test")
                .schema("bad-name\"; DROP"),
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        let err = PostgresStore::connect("not a url").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        // Nothing listens on port 1.
        let started = std::time::Instant::now();
        let err = PostgresStore::connect_with(
            PostgresStoreConfig::new("postgres://postgres@127.0.0.1:1/test")
                .connect_timeout(std::time::Duration::from_millis(500)),
        )
        .await
        .unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        assert!(matches!(err, Error::Store { .. }), "{err:?}");
    }
}

// Dashboards and re-run query results (issue 16): the same behaviour on every store; the
// PostgreSQL case sits under `store::postgres_dashboards` so `--ignored store::postgres` runs it.
#[path = "store_dashboards.rs"]
mod postgres_dashboards;
