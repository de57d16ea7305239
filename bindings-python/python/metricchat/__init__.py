"""metricchat: an embeddable AI analytics agent.

Ask a question in plain language; the agent reads the warehouse's schema and your rules, writes
read-only SQL, runs it, repairs it when it fails, and answers — with the data as a
``pyarrow.Table`` and a proposed chart.

>>> import metricchat as mc                                             # doctest: +SKIP
>>> agent = mc.Agent(llm="openai:gpt-4.1-mini", connections=[mc.sample_url()])
>>> result = agent.ask("Which carrier had the worst average departure delay?")
>>> result.answer, result.sql
>>> result.to_pandas()

The package is a thin shell over the Rust core (``metricchat._native``, an async API): specs,
events and results cross as plain Python objects in the core's JSON shapes, data crosses as Arrow
without copying. The sync API runs the native awaitables on a background event loop thread
(``metricchat._loop``), so it also works inside a running loop (Jupyter).
"""

from __future__ import annotations

import asyncio
import html
import inspect
import json
import os
import pathlib
import threading
import uuid
import warnings
from typing import (
    Any,
    AsyncIterator,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from . import _native, llm, types
from . import tools as _tools
from ._loop import background
from ._native import (
    BudgetExceededError,
    CancelledError,
    ContentFilteredError,
    ContextLengthExceededError,
    InternalError,
    InvalidInputError,
    LlmError,
    MetricChatError,
    NotFoundError,
    QueryFailedError,
    RateLimitedError,
    TimeoutError,
    ToolError,
    UnauthorizedError,
    UnsupportedError,
)
from .llm import LLM
from .tools import Tool, ToolCancelled, tool
from . import eval  # noqa: E402  (mc.eval.run(suite, agent); shadows the builtin only here)
from .eval import EvalResult
from .dashboard import Dashboard, Dashboards  # noqa: E402  (dashboards, issue 16)

__version__: str = _native.__version__

__all__ = [
    "Agent",
    "AsyncRunStream",
    "BudgetExceededError",
    "CancelledError",
    "Chart",
    "Connection",
    "ContextPlan",
    "Dashboard",
    "Dashboards",
    "ContentFilteredError",
    "types",
    "ContextLengthExceededError",
    "EvalResult",
    "Event",
    "Instructions",
    "InternalError",
    "InvalidInputError",
    "LLM",
    "LlmError",
    "Memory",
    "MetricChatError",
    "NotFoundError",
    "QueryFailedError",
    "RateLimitedError",
    "Result",
    "RunStream",
    "Rules",
    "Runs",
    "TimeoutError",
    "Tool",
    "ToolCancelled",
    "ToolError",
    "UnauthorizedError",
    "UnsupportedError",
    "connect",
    "eval",
    "llm",
    "sample_url",
    "tool",
]

LlmLike = Union[str, LLM, Dict[str, Any]]


# ---------------------------------------------------------------------------------------------
# Events


class Event:
    """One step of a run, as the Rust core emitted it.

    Every event has ``type`` (e.g. ``"tool.started"``), ``seq`` (1, 2, … within the run),
    ``run_id`` and ``ts``; the other fields depend on the type and read as attributes.
    ``to_dict()`` is the core's JSON, unchanged.
    """

    __slots__ = ("_data",)
    #: The event type this class stands for (None on the base class).
    TYPE: Optional[str] = None

    def __init__(self, data: Dict[str, Any]) -> None:
        self._data = data

    @property
    def type(self) -> str:
        """The event type, e.g. ``"query.result"``."""
        return self._data["type"]

    @property
    def seq(self) -> int:
        """Position in the run, from 1."""
        return self._data["seq"]

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self._data["run_id"]

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}") from None

    def get(self, name: str, default: Any = None) -> Any:
        """A field, or ``default`` when the event lacks it (optional fields such as ``error``
        are left out of the JSON when empty)."""
        return self._data.get(name, default)

    def to_dict(self) -> types.AgentEvent:
        """The event as the Rust core's JSON object (typed by ``metricchat.types``)."""
        return json.loads(json.dumps(self._data))

    def __repr__(self) -> str:
        fields = {k: v for k, v in self._data.items() if k not in ("run_id", "ts")}
        text = json.dumps(fields, default=str)
        return f"{type(self).__name__}({text[:200]}{'…' if len(text) > 200 else ''})"


def _event_class(type_name: str) -> type:
    cls_name = "".join(part.capitalize() for part in type_name.replace(".", "_").split("_"))
    cls = type(cls_name, (Event,), {"__slots__": (), "TYPE": type_name,
                                    "__doc__": f"A ``{type_name}`` event."})
    return cls


#: The event types of the core's contract, each with its own class (``mc.events["run.started"]``).
EVENT_TYPES = (
    "run.started",
    "decision.partial",
    "decision.final",
    "planner.retry",
    "tool.started",
    "tool.progress",
    "tool.finished",
    "query.created",
    "query.result",
    "approval.requested",
    "approval.resolved",
    "visualization.created",
    "block.upsert",
    "instructions.suggested",
    "run.finished",
    "run.failed",
)
events: Dict[str, type] = {t: _event_class(t) for t in EVENT_TYPES}
for _cls in events.values():
    globals()[_cls.__name__] = _cls


def _event(data: Dict[str, Any]) -> Event:
    return events.get(data.get("type"), Event)(data)


# ---------------------------------------------------------------------------------------------
# Results


class Chart:
    """A proposed chart: ``option`` is an ECharts option dict; renders itself in Jupyter."""

    def __init__(self, data: Dict[str, Any]) -> None:
        self._data = data

    @property
    def option(self) -> Dict[str, Any]:
        """The ECharts option (``echarts.init(el).setOption(option)``)."""
        return self._data.get("echarts", {})

    @property
    def spec(self) -> Dict[str, Any]:
        """What to draw and which columns go where (the core's ``ChartSpec``)."""
        return self._data.get("spec", {})

    @property
    def kind(self) -> Optional[str]:
        """Chart kind (``bar``, ``line``, ``pie``, ``table``, …)."""
        return self.spec.get("chart_type")

    def to_dict(self) -> Dict[str, Any]:
        """The chart as the core's JSON."""
        return json.loads(json.dumps(self._data))

    def to_html(self, width: str = "100%", height: str = "400px") -> str:
        """A self-contained HTML snippet that draws the chart with ECharts (loaded from a CDN)."""
        div = f"mc-chart-{uuid.uuid4().hex}"
        option = json.dumps(self.option).replace("</", "<\\/")
        return (
            f'<div id="{div}" style="width:{html.escape(width)};height:{html.escape(height)}"></div>'
            '<script src="https://cdn.jsdelivr.net/npm/echarts@5/dist/echarts.min.js"></script>'
            f"<script>(function(){{var el=document.getElementById('{div}');"
            f"echarts.init(el).setOption({option});}})();</script>"
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        return f"Chart(kind={self.kind!r})"


class Result:
    """A finished run: the answer, the SQL, the data and the chart."""

    def __init__(self, native: Any) -> None:
        self._native = native
        self._meta: Dict[str, Any] = native.meta()
        self._table: Any = None

    @property
    def run_id(self) -> str:
        """The run's id (look it up with ``agent.runs.get``)."""
        return self._meta["run_id"]

    @property
    def status(self) -> str:
        """``completed``, or ``awaiting_input`` after a clarifying question."""
        return self._meta["status"]

    @property
    def title(self) -> Optional[str]:
        """Short title of the run."""
        return self._meta.get("title")

    @property
    def answer(self) -> Optional[str]:
        """The answer in plain language."""
        return self._meta.get("answer")

    @property
    def clarification(self) -> Optional[str]:
        """The agent's question back to the user, when it needs one."""
        return self._meta.get("clarification")

    @property
    def sql(self) -> Optional[str]:
        """SQL of the main dataset, as run."""
        return self._meta.get("sql")

    @property
    def datasets(self) -> List[Dict[str, Any]]:
        """Every dataset's metadata (query id, SQL, columns, row count, truncated)."""
        return self._meta.get("datasets", [])

    @property
    def usage(self) -> Dict[str, int]:
        """Tokens used: ``input_tokens``, ``output_tokens``, ``cached_input_tokens``…"""
        return self._meta.get("usage", {})

    @property
    def cost_usd(self) -> Optional[float]:
        """Cost in US dollars, when the model's prices are known."""
        return self._meta.get("cost_usd")

    @property
    def timings(self) -> Dict[str, Any]:
        """Wall-clock timings in milliseconds."""
        return self._meta.get("timings", {})

    @property
    def iterations(self) -> int:
        """Planner iterations used."""
        return self._meta.get("iterations", 0)

    @property
    def data(self) -> Any:
        """The main dataset as a ``pyarrow.Table`` (shared with Rust, not copied), or None."""
        if self._table is None:
            self._table = self._native.table()
        return self._table

    def table(self, index: int) -> Any:
        """Dataset ``index`` as a ``pyarrow.Table``."""
        return self._native.table(index)

    def to_pandas(self, **kwargs: Any) -> Any:
        """The main dataset as a ``pandas.DataFrame`` (needs pandas)."""
        table = self.data
        if table is None:
            import pandas  # noqa: F401  (clear ImportError when pandas is missing)

            return pandas.DataFrame()
        return table.to_pandas(**kwargs)

    def to_polars(self) -> Any:
        """The main dataset as a ``polars.DataFrame`` (needs polars)."""
        import polars

        return polars.from_arrow(self.data) if self.data is not None else polars.DataFrame()

    @property
    def chart(self) -> Optional[Chart]:
        """The proposed chart of the main dataset."""
        c = self._meta.get("chart")
        return Chart(c) if c else None

    @property
    def charts(self) -> List[Chart]:
        """Every chart of the run."""
        return [Chart(c) for c in self._meta.get("charts", [])]

    def to_dict(self) -> types.AskResultMeta:
        """Everything but the data, as the core's JSON."""
        return json.loads(json.dumps(self._meta))

    def _repr_html_(self) -> str:
        parts = []
        if self.answer:
            parts.append(f"<p>{html.escape(self.answer)}</p>")
        if self.clarification:
            parts.append(f"<p><em>{html.escape(self.clarification)}</em></p>")
        if self.sql:
            parts.append(f"<pre>{html.escape(self.sql)}</pre>")
        if self.chart is not None and self.chart.kind != "table":
            parts.append(self.chart.to_html())
        elif self.data is not None:
            try:
                parts.append(self.data.slice(0, 20).to_pandas().to_html())
            except ImportError:
                parts.append(f"<pre>{html.escape(str(self.data.slice(0, 20)))}</pre>")
        return "".join(parts)

    def __repr__(self) -> str:
        return f"Result(status={self.status!r}, answer={self.answer!r}, sql={self.sql!r})"


# ---------------------------------------------------------------------------------------------
# Runs


class RunStream:
    """A run in progress: iterate for events, then ``result()``.

    Breaking out of the loop (or ``KeyboardInterrupt``) cancels the run and its query.

    Several consumers may read one stream at once (loops in several threads, or a sync and an
    async loop over the same run): each event goes to exactly one of them, in order, and every
    loop ends when the run ends. ``result()`` called while another loop is reading waits for
    that loop to reach the end instead of taking its events.
    """

    def __init__(self, handle: Any) -> None:
        self._handle = handle
        self._done = False
        self._lock = threading.Lock()
        self._consumers = 0

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self._handle.run_id

    def __iter__(self) -> Iterator[Event]:
        with self._lock:
            self._consumers += 1
        try:
            while True:
                data = background.run(self._handle.next_event)
                if data is None:
                    self._done = True
                    return
                yield _event(data)
        finally:
            with self._lock:
                self._consumers -= 1
            if not self._done:
                self.cancel()

    def __enter__(self) -> "RunStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self._done:
            self.cancel()

    def cancel(self) -> None:
        """Cancels the run (and its running query); the store records it as cancelled."""
        self._handle.cancel()
        _wind_down(self._handle)
        self._done = True

    def approve(self, approval_id: str) -> None:
        """Approves the statement of an ``approval.requested`` event (``ev.approval_id``): it
        runs. Raises ``NotFoundError`` when no such request waits (decided, timed out)."""
        self._handle.approve(str(approval_id))

    def deny(self, approval_id: str, reason: str = "denied") -> None:
        """Denies the statement of an ``approval.requested`` event; the model reads
        ``not approved: <reason>`` and may choose a cheaper query. The denial is audited."""
        self._handle.deny(str(approval_id), reason)

    def pending_approvals(self) -> List[Dict[str, Any]]:
        """The approval requests waiting for a decision."""
        return list(self._handle.pending_approvals())

    def result(self) -> Result:
        """The finished run; consumes remaining events (or waits for the loop reading them).
        Raises the run's error."""
        wait = self._handle.outcome if self._consumers else self._handle.finish
        try:
            native = background.run(wait)
        except MetricChatError:
            raise
        except BaseException:  # KeyboardInterrupt: the run stops before control returns
            self.cancel()
            raise
        self._done = True
        return Result(native)


def _approval_callback(handler: Callable[[Dict[str, Any]], Any]) -> Tuple[Any, Any]:
    """``handler`` as the native ``(decide, cancel)`` pair: ``decide(request_json, call_id) ->
    decision_json`` runs on a worker thread (a coroutine the handler returns runs in a loop of
    that thread); ``cancel(call_id)`` stops it when the host or the timeout decided first."""
    if not callable(handler):
        raise TypeError(f"approval_handler must be callable, not {type(handler).__name__}")

    def decide(request_json: str, call_id: int) -> str:
        request = json.loads(request_json)
        out = _tools._call_stoppably(call_id, lambda: handler(request), "approval_handler")
        approved, reason = out if isinstance(out, tuple) else (out, None)
        return json.dumps({"approved": approved is True, "reason": reason})

    return (decide, _tools._cancel_call)


def _credentials_callback(resolve: Callable[..., Any]) -> Tuple[Any, Any]:
    """``resolve(user, connection)`` as the native ``(invoke, cancel)`` pair; its answer (None,
    a role name, or ``{"role": ..., "token": ...}``) goes to the core as JSON, which checks
    its shape."""
    if not callable(resolve):
        raise TypeError(f"credentials must be callable, not {type(resolve).__name__}")

    def invoke(args_json: str, call_id: int) -> str:
        args = json.loads(args_json)
        out = _tools._call_stoppably(
            call_id, lambda: resolve(args["user"], args["connection"]), "credentials"
        )
        return json.dumps(out)

    return (invoke, _tools._cancel_call)


def _wind_down(handle: Any, seconds: float = 10.0) -> None:
    """Waits (up to ``seconds``) for a cancelled run to end, so that its stored record is final
    before control returns."""
    import concurrent.futures

    concurrent.futures.wait([background.submit(handle.finish)], timeout=seconds)


class AsyncRunStream:
    """``async for ev in agent.stream_async(q)``, then ``await stream.result()``.

    Cancelling the awaiting task cancels the run and its query. Several tasks may iterate one
    stream at once: each event goes to exactly one of them, in order, and every loop ends when
    the run ends; ``await result()`` while a loop is reading waits for it instead of competing.
    """

    def __init__(self, handle: Any) -> None:
        self._handle = handle
        self._done = False
        self._consumers = 0

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self._handle.run_id

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        self._consumers += 1
        try:
            while True:
                data = await self._handle.next_event()
                if data is None:
                    self._done = True
                    return
                yield _event(data)
        finally:
            self._consumers -= 1
            if not self._done:
                self._handle.cancel()

    def cancel(self) -> None:
        """Cancels the run (and its running query)."""
        self._handle.cancel()

    def approve(self, approval_id: str) -> None:
        """Approves the statement of an ``approval.requested`` event: it runs (see
        :meth:`RunStream.approve`)."""
        self._handle.approve(str(approval_id))

    def deny(self, approval_id: str, reason: str = "denied") -> None:
        """Denies the statement of an ``approval.requested`` event (see
        :meth:`RunStream.deny`)."""
        self._handle.deny(str(approval_id), reason)

    def pending_approvals(self) -> List[Dict[str, Any]]:
        """The approval requests waiting for a decision."""
        return list(self._handle.pending_approvals())

    async def result(self) -> Result:
        """The finished run; consumes remaining events (or waits for the loop reading them).
        Raises the run's error."""
        try:
            if self._consumers:
                native = await self._handle.outcome()
            else:
                native = await self._handle.finish()
        except MetricChatError:
            raise
        except BaseException:  # the task was cancelled: so is the run
            self._handle.cancel()
            raise
        self._done = True
        return Result(native)


class Rules:
    """The agent's rules (``agent.rules``): text every prompt carries."""

    def __init__(self, native: Any) -> None:
        self._native = native

    def add(self, rule: str) -> bool:
        """Adds a rule for runs started from now on; False when it was already there."""
        return self._native.add_rule(rule)

    def remove(self, rule: str) -> bool:
        """Removes a rule by its text; False when it was not there."""
        return self._native.remove_rule(rule)

    def list(self) -> List[str]:
        """The rules in prompt order."""
        return list(self._native.rules())

    def __iter__(self) -> Iterator[str]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self.list())

    def __contains__(self, rule: object) -> bool:
        return rule in self.list()

    def __repr__(self) -> str:
        return f"Rules({self.list()!r})"


def _scope(scope: Any) -> Dict[str, Any]:
    """``None``/``"global"``, ``{"connection": "wh"}``, ``{"tables": [...], "connection": ...}``
    or a list of table names, as the core's scope JSON."""
    if scope is None or scope == "global":
        return {"kind": "global"}
    if isinstance(scope, (list, tuple)):
        return {"kind": "tables", "tables": [str(t) for t in scope]}
    if isinstance(scope, dict):
        if "kind" in scope:
            return dict(scope)
        if "tables" in scope:
            out: Dict[str, Any] = {"kind": "tables", "tables": [str(t) for t in scope["tables"]]}
            if scope.get("connection"):
                out["connection"] = scope["connection"]
            return out
        if "connection" in scope:
            return {"kind": "connection", "connection": scope["connection"]}
    raise InvalidInputError(f"scope {scope!r}: expected None, 'global', {{'connection': ...}} or {{'tables': [...]}}")


def _new_instruction(
    text: str, scope: Any, labels: Iterable[str], status: Optional[str]
) -> Dict[str, Any]:
    """The core's new-instruction JSON (approved unless ``status="draft"``)."""
    new: Dict[str, Any] = {"text": text, "scope": _scope(scope), "labels": list(labels)}
    if status is not None:
        new["status"] = status
    return new


def _filter(**fields: Any) -> Dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


class Instructions:
    """The team's instructions (``agent.instructions``), kept in the agent's store.

    Only approved instructions whose scope matches a run (global, a connection, or tables the
    run uses) reach its prompt; the agent's ``suggest_instruction`` tool adds drafts, which a
    person approves with :meth:`approve`."""

    def __init__(self, native: Any) -> None:
        self._native = native

    def add(
        self,
        text: str,
        scope: Any = None,
        labels: Iterable[str] = (),
        status: Optional[str] = None,
    ) -> Dict[str, Any]:
        """Adds an instruction (approved unless ``status="draft"``); returns the stored record."""
        return background.run(self._native.add_instruction, _new_instruction(text, scope, labels, status))

    def approve(self, id: str) -> Dict[str, Any]:
        """Approves a draft: the next runs in its scope carry it."""
        return background.run(self._native.set_instruction_status, str(id), "approved")

    def archive(self, id: str) -> Dict[str, Any]:
        """Archives an instruction: kept, never in prompts."""
        return background.run(self._native.set_instruction_status, str(id), "archived")

    def delete(self, id: str) -> None:
        """Deletes an instruction."""
        background.run(self._native.delete_instruction, str(id))

    def list(
        self,
        status: Optional[str] = None,
        source: Optional[str] = None,
        label: Optional[str] = None,
        connection: Optional[str] = None,
        text: Optional[str] = None,
    ) -> List[Dict[str, Any]]:
        """Instructions matching every given filter (``status="draft"`` lists suggestions)."""
        return background.run(self._native.list_instructions, _filter(
            status=status, source=source, label=label, connection=connection, text=text))

    async def add_async(
        self,
        text: str,
        scope: Any = None,
        labels: Iterable[str] = (),
        status: Optional[str] = None,
    ) -> Dict[str, Any]:
        """The async form of :meth:`add`."""
        return await self._native.add_instruction(_new_instruction(text, scope, labels, status))

    async def approve_async(self, id: str) -> Dict[str, Any]:
        """The async form of :meth:`approve`."""
        return await self._native.set_instruction_status(str(id), "approved")

    async def archive_async(self, id: str) -> Dict[str, Any]:
        """The async form of :meth:`archive`."""
        return await self._native.set_instruction_status(str(id), "archived")

    async def delete_async(self, id: str) -> None:
        """The async form of :meth:`delete`."""
        await self._native.delete_instruction(str(id))

    async def list_async(
        self,
        status: Optional[str] = None,
        source: Optional[str] = None,
        label: Optional[str] = None,
        connection: Optional[str] = None,
        text: Optional[str] = None,
    ) -> List[Dict[str, Any]]:
        """The async form of :meth:`list`."""
        return await self._native.list_instructions(_filter(
            status=status, source=source, label=label, connection=connection, text=text))

    def __repr__(self) -> str:
        return f"Instructions({len(self.list())} stored)"


class Memory:
    """Facts recorded by the agent (its ``remember`` tool) or by people (``agent.memory``)."""

    def __init__(self, native: Any) -> None:
        self._native = native

    def add(self, text: str, scope: Any = None, labels: Iterable[str] = ()) -> Dict[str, Any]:
        """Records a fact; runs in its scope see it."""
        new = {"text": text, "scope": _scope(scope), "labels": list(labels)}
        return background.run(self._native.add_memory, new)

    def list(
        self,
        source: Optional[str] = None,
        run_id: Optional[str] = None,
        text: Optional[str] = None,
    ) -> List[Dict[str, Any]]:
        """Memories matching every given filter (``source="agent"``, the ``run_id`` that made them)."""
        return background.run(
            self._native.list_memories, _filter(source=source, run_id=run_id, text=text))

    def search(self, text: str, k: int = 5) -> List[Dict[str, Any]]:
        """The ``k`` memories most relevant to ``text``."""
        return background.run(self._native.search_memories, text, k)

    def delete(self, id: str) -> None:
        """Deletes a memory."""
        background.run(self._native.delete_memory, str(id))

    async def add_async(
        self, text: str, scope: Any = None, labels: Iterable[str] = ()
    ) -> Dict[str, Any]:
        """The async form of :meth:`add`."""
        return await self._native.add_memory(
            {"text": text, "scope": _scope(scope), "labels": list(labels)})

    async def list_async(
        self,
        source: Optional[str] = None,
        run_id: Optional[str] = None,
        text: Optional[str] = None,
    ) -> List[Dict[str, Any]]:
        """The async form of :meth:`list`."""
        return await self._native.list_memories(_filter(source=source, run_id=run_id, text=text))

    async def search_async(self, text: str, k: int = 5) -> List[Dict[str, Any]]:
        """The async form of :meth:`search`."""
        return await self._native.search_memories(text, k)

    async def delete_async(self, id: str) -> None:
        """The async form of :meth:`delete`."""
        await self._native.delete_memory(str(id))

    def __repr__(self) -> str:
        return f"Memory({len(self.list())} facts)"


class ContextPlan:
    """What a run would send the model, and why (``agent.explain_context(question)``)."""

    def __init__(self, data: Dict[str, Any], explanation: str) -> None:
        self._data = data
        self._explanation = explanation

    @property
    def tables(self) -> List[Dict[str, Any]]:
        """The tables described in full: connection, table, score, reason, columns, tokens."""
        return self._data["tables"]

    @property
    def sections(self) -> List[Dict[str, Any]]:
        """Prompt sections with their text, tokens, budget and what was left out."""
        return self._data["sections"]

    @property
    def system_prompt(self) -> Optional[str]:
        """The whole system prompt."""
        return self._data.get("system_prompt")

    @property
    def total_tokens(self) -> int:
        """Tokens of every section."""
        return sum(s["tokens"] for s in self.sections)

    def explain(self) -> str:
        """A readable report: sections against budgets, tables with reasons, rules, memories."""
        return self._explanation

    def to_dict(self) -> Dict[str, Any]:
        """The core's JSON form."""
        return self._data

    def __repr__(self) -> str:
        return self._explanation


class Runs:
    """Run history from the agent's store (``agent.runs``)."""

    def __init__(self, native: Any) -> None:
        self._native = native

    def list(self, limit: int = 50) -> List[types.RunRecord]:
        """The latest runs, newest first (id, question, status, title, answer, usage, …)."""
        return background.run(self._native.list_runs, limit)

    def get(self, run_id: str) -> Optional[types.RunRecord]:
        """One run's record, or None."""
        return background.run(self._native.get_run, str(run_id))

    def events(self, run_id: str) -> List[Event]:
        """A stored run's events, in order."""
        return [_event(e) for e in background.run(self._native.run_events, str(run_id))]


def _llm_spec(value: LlmLike) -> Any:
    if isinstance(value, LLM):
        return value.to_dict()
    if isinstance(value, (str, dict)):
        return value
    raise TypeError(f"llm must be a string like 'openai:gpt-4.1-mini', a dict or mc.llm.*(), not {type(value).__name__}")


def _connection_url(value: Any) -> str:
    if isinstance(value, Connection):
        return value.url
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, dict):
        return value["url"]
    if isinstance(value, str):
        return value
    raise TypeError(f"a connection is a URL, a path, a dict with 'url' or mc.connect(...), not {type(value).__name__}")


def _as_tool(value: Any) -> Tool:
    if isinstance(value, Tool):
        return value
    if callable(value):
        return Tool(value)
    raise TypeError(f"tools must be functions or @mc.tool objects, not {type(value).__name__}")


class Agent:
    """The analytics agent.

    Args:
        llm: ``"openai:gpt-4.1-mini"``, ``mc.llm.anthropic(...)`` or a dict (the core's LlmSpec).
        connections: URLs (``postgres://…``, ``sqlite:///…``, ``file:///data/*.parquet``),
            paths, or ``mc.connect(...)`` objects.
        store: where runs, instructions and memories are kept — None/``"memory"``,
            ``"sqlite:///runs.db"`` or ``"postgres://…"``.
        rules: the team's rules, carried in every prompt.
        tools: extra tools: functions (optionally ``@mc.tool``-decorated).
        **options: ``max_rows``, ``query_timeout_secs``, ``max_iterations``, ``max_tokens``,
            ``max_wall_time_secs``, ``max_cost_usd``, ``protocol`` (``"auto"``,
            ``"native_tools"``, ``"json_text"``, ``"sql_first"``: fixed steps for small local
            models), ``sql_candidates`` (SQL candidates written per need and voted on by their
            results; default 1, off), ``generate_title``, ``instructions``,
            ``title_llm``, ``allow_writes``, ``knowledge`` (paths: dbt ``manifest.json`` or
            project, LookML files or folders, Tableau ``.tds``/``.twb``), ``answer_checks``
            (default True), ``context`` (the context hub's settings, the core ``ContextConfig``:
            e.g. ``{"max_full_tables": 4, "sample_values": 0}``), ``approval`` (the cost
            preflight, the core ``ApprovalPolicy``: ``{"max_rows": 1_000_000, "max_bytes": ...,
            "max_cost": ..., "timeout": "2m", "require_estimate": False}``; a statement whose
            estimate exceeds a threshold emits ``approval.requested`` and waits for
            ``stream.approve(id)`` / ``stream.deny(id, reason)`` or ``approval_handler``; the
            timeout denies it). Unknown options raise ``InvalidInputError``.
        approval_handler: decides every run's approval requests: a function (sync or async)
            taking the request dict (``approval_id``, ``sql``, ``estimate``, ``reason``, …) and
            returning ``True``, ``False`` or ``(False, "reason")``. A raise denies. The host may
            still decide through the stream; the first decision counts, and a handler still
            running then is stopped (an async one's task is cancelled, a sync one gets
            :class:`ToolCancelled` raised in its thread, as for tools).
        credentials: what each statement runs as, per user (issue 15's per-user
            credentials): a function (sync or async) ``(user, connection) -> None | "role" |
            {"role": ..., "token": ...}``, ``user`` being the request's user dict (or None)
            and ``connection`` ``{"name", "backend", "dialect", ...}``. None runs as the
            connection's login; a role runs the statement as that database role (PostgreSQL
            ``SET LOCAL ROLE``, MariaDB/MySQL ``SET ROLE``, Snowflake); a raise fails the
            statement (nothing runs). A connector that cannot run as a role refuses.
    """

    def __init__(
        self,
        llm: LlmLike,
        connections: Iterable[Any] = (),
        store: Optional[str] = None,
        rules: Iterable[str] = (),
        tools: Iterable[Any] = (),
        approval_handler: Optional[Callable[[Dict[str, Any]], Any]] = None,
        credentials: Optional[Callable[..., Any]] = None,
        **options: Any,
    ) -> None:
        spec: Dict[str, Any] = {
            "llm": _llm_spec(llm),
            "connections": [_connection_url(c) for c in connections],
            "rules": list(rules),
        }
        if store is not None:
            spec["store"] = os.fspath(store) if isinstance(store, os.PathLike) else store
        if "title_llm" in options and options["title_llm"] is not None:
            options["title_llm"] = _llm_spec(options["title_llm"])
        spec.update({k: v for k, v in options.items() if v is not None})
        self.tools: List[Tool] = [_as_tool(t) for t in tools]
        tuples = [t._native_tuple() for t in self.tools]
        decide = _approval_callback(approval_handler) if approval_handler is not None else None
        creds = _credentials_callback(credentials) if credentials is not None else None
        self._native = background.run(_native.Agent.build, spec, tuples, decide, creds)
        #: The agent's rules (``agent.rules.add("…")``).
        self.rules = Rules(self._native)
        #: Run history (``agent.runs.list()``).
        self.runs = Runs(self._native)
        #: Stored instructions with status and scope (``agent.instructions.add("…")``).
        self.instructions = Instructions(self._native)
        #: Recorded facts (``agent.memory.add("revenue means net_revenue")``).
        self.memory = Memory(self._native)
        #: Stored dashboards (``agent.dashboards.save(d)``, ``.get(id)``, ``.list()``).
        self.dashboards = Dashboards(self._native)

    def explain_context(self, question: str) -> ContextPlan:
        """What a run of ``question`` would send the model, and why (no model is called)."""
        data, text = background.run(self._native.explain_context, question)
        return ContextPlan(data, text)

    def search_knowledge(self, query: str, k: int = 5) -> List[Dict[str, Any]]:
        """Rules, instructions, memories and dbt/LookML/Tableau resources matching ``query``."""
        return self._native.search_knowledge(query, k)

    @property
    def connections(self) -> List[str]:
        """Names of the agent's connections."""
        return list(self._native.connections())

    def stream(
        self,
        question: str,
        *,
        follow_up: Optional[Union[str, Result]] = None,
        user: Optional[Dict[str, Any]] = None,
        exposure: Optional[Union[str, Dict[str, Any]]] = None,
        approval: Optional[Dict[str, Any]] = None,
    ) -> RunStream:
        """Starts a run and returns its event stream (see :class:`RunStream`).

        ``follow_up`` continues an earlier run (a ``Result`` or its ``run_id``), e.g. to answer
        its clarifying question. ``user`` (``{"id": ..., "roles": [...], "attributes":
        {...}}``) is who is asking: their data policy applies and the audit log names them.
        ``exposure`` (``"full"``, ``"aggregates"``, ``{"aggregates": {"max_rows": 20}}`` or
        ``"schema_only"``) and ``approval`` (an ``approval=`` dict, see :class:`Agent`)
        override the agent's settings for this request only."""
        return RunStream(self._start(question, follow_up, _options(user, exposure, approval)))

    def ask(
        self,
        question: str,
        *,
        follow_up: Optional[Union[str, Result]] = None,
        user: Optional[Dict[str, Any]] = None,
        exposure: Optional[Union[str, Dict[str, Any]]] = None,
        approval: Optional[Dict[str, Any]] = None,
    ) -> Result:
        """Runs the agent to the end and returns the :class:`Result`.

        Blocking, with the GIL released; safe inside a running event loop (Jupyter).
        ``KeyboardInterrupt`` cancels the run and its query. ``user``, ``exposure``,
        ``approval``: see :meth:`stream`."""
        return self.stream(
            question, follow_up=follow_up, user=user, exposure=exposure, approval=approval
        ).result()

    def stream_async(
        self,
        question: str,
        *,
        follow_up: Optional[Union[str, Result]] = None,
        user: Optional[Dict[str, Any]] = None,
        exposure: Optional[Union[str, Dict[str, Any]]] = None,
        approval: Optional[Dict[str, Any]] = None,
    ) -> AsyncRunStream:
        """The async form of :meth:`stream`: ``async for ev in agent.stream_async(q)``."""
        return AsyncRunStream(self._start(question, follow_up, _options(user, exposure, approval)))

    async def ask_async(
        self,
        question: str,
        *,
        follow_up: Optional[Union[str, Result]] = None,
        user: Optional[Dict[str, Any]] = None,
        exposure: Optional[Union[str, Dict[str, Any]]] = None,
        approval: Optional[Dict[str, Any]] = None,
    ) -> Result:
        """The async form of :meth:`ask`; cancelling the task cancels the run."""
        return await self.stream_async(
            question, follow_up=follow_up, user=user, exposure=exposure, approval=approval
        ).result()

    def audit_log(
        self,
        *,
        user_id: Optional[str] = None,
        run_id: Optional[Union[str, Result]] = None,
        connection: Optional[str] = None,
        outcome: Optional[str] = None,
        limit: Optional[int] = None,
    ) -> List[Dict[str, Any]]:
        """The audit log, newest first: one dict per statement run (or refused) by the
        agent, a tool or :meth:`query` — ``user_id``, ``run_id``, ``connection``, ``sql`` (as
        executed, after the data policy's rewrite), ``policy``, ``rows``, ``bytes``,
        ``duration_ms``, ``outcome`` (``success`` / ``error`` / ``refused`` / ``denied``), ``error``."""
        flt = {"user_id": user_id, "run_id": _run_id(run_id), "connection": connection,
               "outcome": outcome, "limit": limit}
        return list(background.run(self._native.audit_log,
                                   {k: v for k, v in flt.items() if v is not None}))

    def audit_table(self, **filters: Any) -> Any:
        """:meth:`audit_log` as a ``pyarrow.Table``."""
        import pyarrow as pa

        rows = self.audit_log(**filters)
        for r in rows:
            r["policy"] = "; ".join(r.get("policy") or []) or None
        return pa.Table.from_pylist(rows)

    def query(
        self,
        sql: str,
        *args: Any,
        connection: Optional[str] = None,
        user: Optional[Dict[str, Any]] = None,
    ) -> Any:
        """Runs ``sql`` on ``connection`` (a connection name; the first connection when None)
        through the agent's guard; returns a ``pyarrow.Table``.

        ``connection`` is keyword-only, as in Node (``agent.query(sql, { connection })``); the
        old positional form ``query(sql, "warehouse")`` still works with a
        ``DeprecationWarning``."""
        if args:
            if len(args) > 1 or connection is not None:
                raise TypeError("query(sql, *, connection=None) takes one connection")
            warnings.warn(
                "agent.query(sql, connection) is deprecated: pass connection=... by keyword",
                DeprecationWarning,
                stacklevel=2,
            )
            connection = args[0]
        return background.run(self._native.query, connection, sql, _options(user)).table()

    async def query_async(
        self,
        sql: str,
        *,
        connection: Optional[str] = None,
        user: Optional[Dict[str, Any]] = None,
    ) -> Any:
        """The async form of :meth:`query`: ``await agent.query_async(sql)`` in a running
        loop (Jupyter, FastAPI); returns a ``pyarrow.Table``."""
        return (await self._native.query(connection, sql, _options(user))).table()

    # --- Dashboards (issue 16)

    def rerun_query(self, query_id: str) -> Any:
        """Re-runs a stored query (a ``query_id`` of a result's datasets) on its connection
        through the guard, storing a new result version; returns a ``pyarrow.Table``."""
        return background.run(self._native.rerun_query, str(query_id)).table()

    async def rerun_query_async(self, query_id: str) -> Any:
        """The async form of :meth:`rerun_query`."""
        return (await self._native.rerun_query(str(query_id))).table()

    def dashboard_from_run(self, run: Union[str, "Result"]) -> Dashboard:
        """A sensible dashboard of a stored run (its answer, KPI cards, charts, a table),
        built without a model; refresh it before showing it."""
        return Dashboard(background.run(self._native.dashboard_from_run, _run_id(run)))

    def _start(
        self,
        question: str,
        follow_up: Optional[Union[str, "Result"]],
        options: Optional[Dict[str, Any]] = None,
    ) -> Any:
        """The native handle of a new run (a follow-up when ``follow_up`` is given) with the
        request's options (the core's ``RunOptions``)."""
        previous = _run_id(follow_up)
        if previous is None:
            return self._native.stream(question, options)
        return background.run(self._native.follow_up, previous, question, options)

    def __repr__(self) -> str:
        return f"Agent(connections={self.connections!r}, tools={[t.name for t in self.tools]!r})"


def _options(
    user: Optional[Dict[str, Any]] = None,
    exposure: Optional[Union[str, Dict[str, Any]]] = None,
    approval: Optional[Dict[str, Any]] = None,
) -> Optional[Dict[str, Any]]:
    """One request's options as the core's ``RunOptions`` dict (None when all are unset)."""
    out = {"user": user, "exposure": exposure, "approval": approval}
    out = {k: v for k, v in out.items() if v is not None}
    return out or None


def _run_id(value: Optional[Union[str, Result]]) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, Result):
        return value.run_id
    return str(value)


# ---------------------------------------------------------------------------------------------
# Connections

_DEFAULT = object()


class Connection:
    """A warehouse connection (``mc.connect(url)``) with the same guard the agent uses."""

    def __init__(
        self,
        url: str,
        *,
        max_rows: Any = _DEFAULT,
        timeout_secs: Any = _DEFAULT,
        allow_writes: bool = False,
    ) -> None:
        self.url = url
        kwargs: Dict[str, Any] = {"allow_writes": allow_writes}
        if max_rows is not _DEFAULT:
            kwargs["max_rows"] = max_rows
        if timeout_secs is not _DEFAULT:
            kwargs["timeout_secs"] = timeout_secs
        self._native = _native.Connection(url, **kwargs)

    @property
    def name(self) -> str:
        """The connection's name."""
        return self._native.name

    @property
    def dialect(self) -> str:
        """The SQL dialect."""
        return self._native.dialect

    def query(self, sql: str) -> Any:
        """Runs one read-only statement (row-capped, time-limited); returns a ``pyarrow.Table``.
        ``KeyboardInterrupt`` cancels the query at the engine."""
        return background.run(self._native.query, sql).table()

    def tables(self) -> List[Dict[str, Any]]:
        """Tables and views: ``[{"schema": ..., "name": ...}, ...]``."""
        return background.run(self._native.tables)

    def describe(self, table: str) -> Dict[str, Any]:
        """A table's columns, types, keys and comments."""
        return background.run(self._native.describe, table)

    async def query_async(self, sql: str) -> Any:
        """The async form of :meth:`query`; cancelling the awaiting task cancels the query at
        the engine."""
        return (await self._native.query(sql)).table()

    async def tables_async(self) -> List[Dict[str, Any]]:
        """The async form of :meth:`tables`."""
        return await self._native.tables()

    async def describe_async(self, table: str) -> Dict[str, Any]:
        """The async form of :meth:`describe`."""
        return await self._native.describe(table)

    def __repr__(self) -> str:
        return f"Connection(name={self.name!r}, dialect={self.dialect!r})"


def connect(
    url_or_config: Union[str, os.PathLike, Dict[str, Any]],
    *,
    max_rows: Any = _DEFAULT,
    timeout_secs: Any = _DEFAULT,
    allow_writes: bool = False,
) -> Connection:
    """Opens a connection: ``postgres://…``, ``mysql://…``, ``sqlite:///path.db``,
    ``file:///data/*.parquet``, a path, or ``{"url": ..., "max_rows": ...}``.

    Queries are read-only, one statement, capped at 10,000 rows and 60 s by default;
    ``max_rows=None`` / ``timeout_secs=None`` lift the limits explicitly."""
    if isinstance(url_or_config, dict):
        config = dict(url_or_config)
        url = config.pop("url")
        return Connection(url, **config)
    return Connection(
        _connection_url(url_or_config),
        max_rows=max_rows,
        timeout_secs=timeout_secs,
        allow_writes=allow_writes,
    )


def sample_url(name: str = "flights") -> str:
    """URL of the bundled nycflights13 sample (tables ``flights``, ``airlines``, ``airports``,
    ``planes``, ``weather``) as a connection called ``name``."""
    bundled = pathlib.Path(__file__).parent / "data" / "nycflights13"
    if (bundled / "flights.parquet").exists():
        return f"{bundled.as_uri()}/?name={name}"
    return f"sample:{name}"
