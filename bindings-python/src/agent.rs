//! The agent from Python ([`Agent`]): built from a spec and Python tools; runs, queries, rules,
//! instructions, memories, knowledge, run history and evals.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use metricchat::instructions::{
    InstructionFilter, InstructionStatus, MemoryFilter, NewInstruction, NewMemory,
};
use metricchat::spec::AgentSpec;

use crate::connection::QueryResult;
use crate::error::{err, json_err, parse_id};
use crate::eval;
use crate::run::{self, RunHandle};
use crate::runtime::wait;
use crate::tools::tools_from_tuples;

/// An agent built from a JSON spec (see `metricchat::spec::AgentSpec`).
#[pyclass(frozen, module = "metricchat._native")]
pub(crate) struct Agent {
    inner: metricchat::Agent,
}

/// `value` as JSON text.
fn to_json<T: Serialize>(value: &T) -> PyResult<String> {
    serde_json::to_string(value).map_err(json_err)
}

/// JSON text read as `T`.
fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> PyResult<T> {
    serde_json::from_str(text).map_err(json_err)
}

impl Agent {
    /// Runs `f(agent)` on the runtime, waits for it (GIL released) and returns it as JSON.
    fn call<T, F, Fut>(&self, py: Python<'_>, f: F) -> PyResult<String>
    where
        T: Serialize + Send + 'static,
        F: FnOnce(metricchat::Agent) -> Fut,
        Fut: std::future::Future<Output = metricchat::Result<T>> + Send + 'static,
    {
        let value = wait(py, f(self.inner.clone()), None)?.map_err(err)?;
        to_json(&value)
    }
}

#[pymethods]
impl Agent {
    /// `Agent(spec_json, tools)`: `tools` is a list of `(name, description, parameters_json,
    /// invoke, cancel)` tuples (see `tools.rs`).
    #[new]
    #[pyo3(signature = (spec_json, tools = Vec::new()))]
    fn new(py: Python<'_>, spec_json: &str, tools: Vec<Bound<'_, PyTuple>>) -> PyResult<Self> {
        let spec = AgentSpec::from_json(spec_json).map_err(err)?;
        let tools = tools_from_tuples(tools)?;
        let inner = wait(py, async move { spec.build(tools).await }, None)?.map_err(err)?;
        Ok(Self { inner })
    }

    /// Starts a run; `previous_run` makes it a follow-up of that run.
    #[pyo3(signature = (question, previous_run = None))]
    fn stream(
        &self,
        py: Python<'_>,
        question: String,
        previous_run: Option<String>,
    ) -> PyResult<RunHandle> {
        let previous = previous_run.as_deref().map(parse_id).transpose()?;
        run::start(py, self.inner.clone(), question, previous)
    }

    /// Runs `sql` on a connection (the first when `connection` is None) through the agent's
    /// guard; returns a `QueryResult`.
    #[pyo3(signature = (sql, connection = None))]
    fn query(
        &self,
        py: Python<'_>,
        sql: String,
        connection: Option<String>,
    ) -> PyResult<QueryResult> {
        let agent = self.inner.clone();
        let fut = async move { agent.query(connection.as_deref(), &sql).await };
        let data = wait(py, fut, Some(CancellationToken::new()))?.map_err(err)?;
        Ok(QueryResult::new(data))
    }

    /// Names of the agent's connections.
    fn connections(&self) -> Vec<String> {
        let connections = self.inner.connections().iter();
        connections.map(|c| c.info().name.clone()).collect()
    }

    /// The team's rules in prompt order.
    fn rules(&self) -> Vec<String> {
        self.inner.context_hub().rules()
    }

    /// Adds a rule for runs started from now on; returns whether it was new.
    fn add_rule(&self, rule: &str) -> bool {
        self.inner.context_hub().add_rule(rule)
    }

    /// Removes a rule; returns whether it was there.
    fn remove_rule(&self, rule: &str) -> bool {
        self.inner.context_hub().remove_rule(rule)
    }

    /// Adds an instruction from the JSON of a `NewInstruction`; returns the stored one as JSON.
    fn add_instruction(&self, py: Python<'_>, new_json: &str) -> PyResult<String> {
        let new: NewInstruction = from_json(new_json)?;
        self.call(py, |a| async move { a.instructions().add(new).await })
    }

    /// Sets an instruction's status (`draft`, `approved`, `archived`); returns it as JSON.
    fn set_instruction_status(&self, py: Python<'_>, id: &str, status: &str) -> PyResult<String> {
        let id = parse_id(id)?;
        let status: InstructionStatus =
            serde_json::from_value(serde_json::Value::String(status.to_string()))
                .map_err(json_err)?;
        self.call(py, |a| async move {
            a.instructions().set_status(id, status).await
        })
    }

    /// Deletes an instruction.
    fn delete_instruction(&self, py: Python<'_>, id: &str) -> PyResult<()> {
        let id = parse_id(id)?;
        let agent = self.inner.clone();
        wait(
            py,
            async move { agent.instructions().delete(id).await },
            None,
        )?
        .map_err(err)
    }

    /// Instructions matching the JSON of an `InstructionFilter`, as a JSON array.
    fn list_instructions(&self, py: Python<'_>, filter_json: &str) -> PyResult<String> {
        let filter: InstructionFilter = from_json(filter_json)?;
        self.call(py, |a| async move { a.instructions().list(&filter).await })
    }

    /// Adds a memory from the JSON of a `NewMemory`; returns it as JSON.
    fn add_memory(&self, py: Python<'_>, new_json: &str) -> PyResult<String> {
        let new: NewMemory = from_json(new_json)?;
        self.call(py, |a| async move { a.memories().add(new).await })
    }

    /// Memories matching the JSON of a `MemoryFilter`, as a JSON array.
    fn list_memories(&self, py: Python<'_>, filter_json: &str) -> PyResult<String> {
        let filter: MemoryFilter = from_json(filter_json)?;
        self.call(py, |a| async move { a.memories().list(&filter).await })
    }

    /// The `k` memories most relevant to `text`, as a JSON array.
    fn search_memories(&self, py: Python<'_>, text: String, k: usize) -> PyResult<String> {
        self.call(py, |a| async move { a.memories().search(&text, k).await })
    }

    /// Deletes a memory.
    fn delete_memory(&self, py: Python<'_>, id: &str) -> PyResult<()> {
        let id = parse_id(id)?;
        let agent = self.inner.clone();
        wait(py, async move { agent.memories().delete(id).await }, None)?.map_err(err)
    }

    /// What a run of `question` would send the model: `(plan_json, explanation_text)`.
    fn explain_context(&self, py: Python<'_>, question: String) -> PyResult<(String, String)> {
        let agent = self.inner.clone();
        let fut = async move { agent.explain_context(&question).await };
        let plan = wait(py, fut, None)?.map_err(err)?;
        Ok((to_json(&plan)?, plan.explain()))
    }

    /// Rules, instructions, memories and knowledge resources matching `query`, as JSON.
    fn search_knowledge(&self, query: &str, k: usize) -> PyResult<String> {
        to_json(&self.inner.context_hub().search_knowledge(query, k))
    }

    /// Starts running an eval suite (`suite` is a path when `is_path`, else YAML/JSON text);
    /// the suite is read and checked before this returns. See `metricchat.eval.run`.
    #[pyo3(signature = (suite, is_path, *, baseline = false, concurrency = 1, timeout_secs = None, only = None, label = None, store = true, judge_json = None))]
    #[allow(clippy::too_many_arguments)]
    fn eval(
        &self,
        suite: &str,
        is_path: bool,
        baseline: bool,
        concurrency: usize,
        timeout_secs: Option<f64>,
        only: Option<Vec<String>>,
        label: Option<String>,
        store: bool,
        judge_json: Option<String>,
    ) -> PyResult<eval::EvalRun> {
        let suite = eval::read_suite(suite, is_path)?;
        let options = eval::EvalOptions {
            baseline,
            concurrency,
            timeout_secs,
            only,
            label,
            store,
            judge_json,
        };
        eval::start(self.inner.clone(), suite, options)
    }

    /// Eval reports kept in the store (of `suite`, or every suite), newest first.
    #[pyo3(signature = (suite = None, limit = 20))]
    fn eval_history(
        &self,
        py: Python<'_>,
        suite: Option<String>,
        limit: u32,
    ) -> PyResult<Vec<eval::EvalReport>> {
        let agent = self.inner.clone();
        wait(py, eval::history(agent, suite, limit), None)?.map_err(err)
    }

    /// The latest runs as JSON (newest first).
    fn list_runs(&self, py: Python<'_>, limit: u32) -> PyResult<String> {
        self.call(py, |a| async move { a.store().list_runs(limit).await })
    }

    /// One run as JSON (or None).
    fn get_run(&self, py: Python<'_>, run_id: &str) -> PyResult<Option<String>> {
        let id = parse_id(run_id)?;
        let store = Arc::clone(self.inner.store());
        let run = wait(py, async move { store.get_run(id).await }, None)?.map_err(err)?;
        run.as_ref().map(to_json).transpose()
    }

    /// A stored run's events as a JSON array.
    fn run_events(&self, py: Python<'_>, run_id: &str) -> PyResult<String> {
        let id = parse_id(run_id)?;
        self.call(py, |a| async move { a.store().events(id).await })
    }
}
