//! The agent from Python ([`Agent`]): built from a spec and Python tools; runs, queries, rules,
//! instructions, memories, knowledge, run history and evals. Every I/O method returns an
//! awaitable; dicts cross as Python objects (`pythonize`).

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pythonize::depythonize;
use serde::Serialize;
use serde::de::DeserializeOwned;

use metricchat::instructions::{
    InstructionFilter, InstructionStatus, MemoryFilter, NewInstruction, NewMemory,
};
use metricchat::spec::AgentSpec;

use crate::connection::query_into_py;
use crate::error::{InvalidInputError, err, parse_id};
use crate::eval;
use crate::run;
use crate::runtime::{Plain, future_into_py};
use crate::tools::tools_from_tuples;

/// An agent built from a spec (see `metricchat::spec::AgentSpec`).
#[pyclass(frozen, module = "metricchat._native")]
pub(crate) struct Agent {
    inner: metricchat::Agent,
}

/// A Python object read as `T` (an `InvalidInputError` naming `what` when it does not fit).
pub(crate) fn from_py<T: DeserializeOwned>(what: &str, value: &Bound<'_, PyAny>) -> PyResult<T> {
    depythonize(value).map_err(|e| InvalidInputError::new_err(format!("{what}: {e}")))
}

/// Per-request options from the optional `options` dict, the core's `RunOptions`: `user` (a
/// `UserContext` dict: `id`, `roles`, `attributes`), `exposure`, `approval`.
fn run_options(options: Option<&Bound<'_, PyAny>>) -> PyResult<metricchat::agent::RunOptions> {
    match options.filter(|o| !o.is_none()) {
        Some(o) => {
            metricchat::agent::RunOptions::from_value(from_py("request options", o)?).map_err(err)
        }
        None => Ok(metricchat::agent::RunOptions::new()),
    }
}

impl Agent {
    /// Awaitable of `f(agent)`, resolving to its value as Python objects.
    fn call<'py, T, F, Fut>(&self, py: Python<'py>, f: F) -> PyResult<Bound<'py, PyAny>>
    where
        T: Serialize + Send + 'static,
        F: FnOnce(metricchat::Agent) -> Fut,
        Fut: Future<Output = metricchat::Result<T>> + Send + 'static,
    {
        let fut = f(self.inner.clone());
        future_into_py(py, async move { Ok(Plain(fut.await.map_err(err)?)) })
    }
}

#[pymethods]
impl Agent {
    /// Awaitable: builds an agent from an `AgentSpec` dict and `tools`, a list of `(name,
    /// description, parameters_json, invoke, cancel)` tuples (see `tools.rs`). Opens the store;
    /// makes no call to the model or the warehouses.
    ///
    /// `approval_handler`, when given, is an `(invoke, cancel)` pair deciding the approval
    /// requests of every run; `credentials` one resolving what each statement runs as (see
    /// `approval.rs`).
    #[staticmethod]
    #[pyo3(signature = (spec, tools = Vec::new(), approval_handler = None, credentials = None))]
    fn build<'py>(
        spec: &Bound<'py, PyAny>,
        tools: Vec<Bound<'py, PyTuple>>,
        approval_handler: Option<crate::approval::Callback>,
        credentials: Option<crate::approval::Callback>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let value: serde_json::Value = from_py("agent spec", spec)?;
        let parsed = AgentSpec::from_json(&value.to_string()).map_err(err)?;
        let tools = tools_from_tuples(tools)?;
        future_into_py(spec.py(), async move {
            let mut builder = parsed.builder(tools).await.map_err(err)?;
            if let Some(decide) = approval_handler {
                builder = builder.approval_handler(crate::approval::handler(decide));
            }
            if let Some(resolve) = credentials {
                builder = builder.credential_provider(crate::approval::credentials(resolve));
            }
            Ok(Agent {
                inner: builder.build().map_err(err)?,
            })
        })
    }

    /// Starts a run of `question` with `options` (a `RunOptions` dict: `user`, `exposure`,
    /// `approval`) when given; returns its `RunHandle`.
    #[pyo3(signature = (question, options = None))]
    fn stream(
        &self,
        question: String,
        options: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<run::RunHandle> {
        run::start(&self.inner, question, run_options(options)?)
    }

    /// Awaitable: starts a follow-up of run `previous_run` (e.g. the answer to its clarifying
    /// question); resolves to its `RunHandle`.
    #[pyo3(signature = (previous_run, question, options = None))]
    fn follow_up<'py>(
        &self,
        py: Python<'py>,
        previous_run: &str,
        question: String,
        options: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let previous = parse_id(previous_run)?;
        let options = run_options(options)?;
        run::follow_up(py, self.inner.clone(), previous, question, options)
    }

    /// Awaitable: runs `sql` on `connection` (the first when None) through the agent's guard,
    /// with `options` (a `RunOptions` dict; `user` applies) when given; resolves to a
    /// `QueryResult`.
    #[pyo3(signature = (connection, sql, options = None))]
    fn query<'py>(
        &self,
        py: Python<'py>,
        connection: Option<String>,
        sql: String,
        options: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let agent = self.inner.clone();
        let options = run_options(options)?;
        query_into_py(py, move |_cancel| async move {
            agent.query_with(connection.as_deref(), &sql, options).await
        })
    }

    /// Awaitable: the audit log entries matching an `AuditFilter` dict (`user_id`, `run_id`,
    /// `connection`, `outcome`, `since`, `until`, `limit`), newest first, as dicts.
    fn audit_log<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let filter: metricchat::store::AuditFilter = from_py("audit filter", filter)?;
        self.call(py, |a| async move { a.audit_log(&filter).await })
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

    /// Awaitable: adds an instruction from a `NewInstruction` dict; resolves to the stored one.
    fn add_instruction<'py>(
        &self,
        py: Python<'py>,
        new: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let new: NewInstruction = from_py("instruction", new)?;
        self.call(py, |a| async move { a.instructions().add(new).await })
    }

    /// Awaitable: sets an instruction's status (`draft`, `approved`, `archived`); resolves to
    /// the instruction.
    fn set_instruction_status<'py>(
        &self,
        py: Python<'py>,
        id: &str,
        status: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let id = parse_id(id)?;
        let status: InstructionStatus =
            serde_json::from_value(serde_json::Value::String(status.to_string()))
                .map_err(|e| InvalidInputError::new_err(format!("status `{status}`: {e}")))?;
        self.call(py, |a| async move {
            a.instructions().set_status(id, status).await
        })
    }

    /// Awaitable: deletes an instruction.
    fn delete_instruction<'py>(&self, py: Python<'py>, id: &str) -> PyResult<Bound<'py, PyAny>> {
        let id = parse_id(id)?;
        self.call(py, |a| async move { a.instructions().delete(id).await })
    }

    /// Awaitable: the instructions matching an `InstructionFilter` dict.
    fn list_instructions<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let filter: InstructionFilter = from_py("instruction filter", filter)?;
        self.call(py, |a| async move { a.instructions().list(&filter).await })
    }

    /// Awaitable: adds a memory from a `NewMemory` dict; resolves to it.
    fn add_memory<'py>(
        &self,
        py: Python<'py>,
        new: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let new: NewMemory = from_py("memory", new)?;
        self.call(py, |a| async move { a.memories().add(new).await })
    }

    /// Awaitable: the memories matching a `MemoryFilter` dict.
    fn list_memories<'py>(
        &self,
        py: Python<'py>,
        filter: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let filter: MemoryFilter = from_py("memory filter", filter)?;
        self.call(py, |a| async move { a.memories().list(&filter).await })
    }

    /// Awaitable: the `k` memories most relevant to `text`.
    fn search_memories<'py>(
        &self,
        py: Python<'py>,
        text: String,
        k: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, |a| async move { a.memories().search(&text, k).await })
    }

    /// Awaitable: deletes a memory.
    fn delete_memory<'py>(&self, py: Python<'py>, id: &str) -> PyResult<Bound<'py, PyAny>> {
        let id = parse_id(id)?;
        self.call(py, |a| async move { a.memories().delete(id).await })
    }

    /// Awaitable: what a run of `question` would send the model, `(plan, explanation_text)`.
    fn explain_context<'py>(
        &self,
        py: Python<'py>,
        question: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, |a| async move {
            let plan = a.explain_context(&question).await?;
            let text = plan.explain();
            Ok((plan, text))
        })
    }

    /// Rules, instructions, memories and knowledge resources matching `query`.
    fn search_knowledge<'py>(
        &self,
        py: Python<'py>,
        query: &str,
        k: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let found = self.inner.context_hub().search_knowledge(query, k);
        Ok(pythonize::pythonize(py, &found)?)
    }

    /// Starts running an eval suite (`suite` is a path when `is_path`, else YAML/JSON text);
    /// the suite is read and checked before this returns. See `metricchat.eval.run`.
    #[pyo3(signature = (suite, is_path, options))]
    fn eval(
        &self,
        suite: &str,
        is_path: bool,
        options: &Bound<'_, PyAny>,
    ) -> PyResult<eval::EvalRun> {
        let suite = eval::read_suite(suite, is_path)?;
        let options: eval::EvalOptions = from_py("eval options", options)?;
        eval::start(self.inner.clone(), suite, options)
    }

    /// Awaitable: eval reports kept in the store (of `suite`, or every suite), newest first.
    #[pyo3(signature = (suite = None, limit = 20))]
    fn eval_history<'py>(
        &self,
        py: Python<'py>,
        suite: Option<String>,
        limit: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        let agent = self.inner.clone();
        future_into_py(py, async move {
            eval::history(agent, suite, limit).await.map_err(err)
        })
    }

    /// Awaitable: the latest runs, newest first.
    fn list_runs<'py>(&self, py: Python<'py>, limit: u32) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, |a| async move { a.store().list_runs(limit).await })
    }

    /// Awaitable: one run's record (or None).
    fn get_run<'py>(&self, py: Python<'py>, run_id: &str) -> PyResult<Bound<'py, PyAny>> {
        let id = parse_id(run_id)?;
        self.call(py, |a| async move { a.store().get_run(id).await })
    }

    /// Awaitable: a stored run's events.
    fn run_events<'py>(&self, py: Python<'py>, run_id: &str) -> PyResult<Bound<'py, PyAny>> {
        let id = parse_id(run_id)?;
        self.call(py, |a| async move { a.store().events(id).await })
    }
    // --- Dashboards (issue 16): dashboards cross as dicts (the core's JSON form).

    /// Awaitable: re-runs stored query `query_id` through the guard, storing a new result
    /// version; resolves to a `QueryResult`.
    fn rerun_query<'py>(&self, py: Python<'py>, query_id: &str) -> PyResult<Bound<'py, PyAny>> {
        let id = parse_id(query_id)?;
        let agent = self.inner.clone();
        query_into_py(py, move |_cancel| async move {
            agent.rerun_query(id).await.map(|d| d.data)
        })
    }

    /// Awaitable: a dashboard (dict) built from stored run `run_id`, not refreshed.
    fn dashboard_from_run<'py>(
        &self,
        py: Python<'py>,
        run_id: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let id = parse_id(run_id)?;
        self.call(py, |a| async move { a.dashboard_from_run(id).await })
    }

    /// Awaitable: `dashboard` (a dict) refreshed through this agent; resolves to the
    /// refreshed dict.
    fn refresh_dashboard<'py>(
        &self,
        py: Python<'py>,
        dashboard: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut d = crate::dashboard::from_dict(dashboard)?;
        self.call(py, |a| async move {
            d.refresh(&a).await;
            Ok(d)
        })
    }

    /// Awaitable: saves `dashboard` (a dict) as a new version; resolves to the saved dict.
    fn save_dashboard<'py>(
        &self,
        py: Python<'py>,
        dashboard: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut d = crate::dashboard::from_dict(dashboard)?;
        self.call(py, |a| async move {
            a.save_dashboard(&mut d).await?;
            Ok(d)
        })
    }

    /// Awaitable: a stored dashboard (its latest version, or `version`), or None.
    #[pyo3(signature = (id, version = None))]
    fn get_dashboard<'py>(
        &self,
        py: Python<'py>,
        id: &str,
        version: Option<u32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let id = parse_id(id)?;
        self.call(
            py,
            |a| async move { a.store().get_dashboard(id, version).await },
        )
    }

    /// Awaitable: stored dashboards, latest versions, most recently saved first.
    fn list_dashboards<'py>(&self, py: Python<'py>, limit: u32) -> PyResult<Bound<'py, PyAny>> {
        self.call(
            py,
            |a| async move { a.store().list_dashboards(limit).await },
        )
    }
}
