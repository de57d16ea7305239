"""Evals: run a suite of questions through an agent and check the answers (``metricchat::eval``).

>>> import metricchat as mc                                             # doctest: +SKIP
>>> result = mc.eval.run("evals/flights.yaml", agent, concurrency=2)
>>> result.passed, result.total, result.pass_rate
>>> result.to_pandas()                       # one row per case
>>> result.save_html("eval.html")            # one self-contained page
>>> cmp = result.compare("evals/results/before.json")
>>> if cmp["has_regressions"]: print(cmp["markdown"])

The suite format is documented in ``evals/README.md``. A suite is a path or YAML (or JSON) text;
unknown keys are an error naming the case and the key (``mc.InvalidInputError``). The checks,
the report and its renderings are the Rust core's; this module only converts.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import json
import os
from typing import Any, Callable, Dict, Iterable, List, Optional, Union

from . import _native
from ._loop import background

__all__ = ["EvalResult", "history", "load", "run", "run_async"]

SuiteLike = Union[str, "os.PathLike[str]", Dict[str, Any]]
ProgressFn = Callable[[Dict[str, Any]], Any]

#: The columns of :meth:`EvalResult.to_pandas`, in order.
CASE_COLUMNS = (
    "id",
    "question",
    "tags",
    "passed",
    "failure",
    "seconds",
    "tokens",
    "iterations",
    "sql",
    "answer",
    "error",
)


class EvalResult:
    """The report of a suite run: figures, and per case the checks, SQL, answer and data.

    ``to_dict()`` / ``to_json()`` are the core's ``EvalReport`` JSON, unchanged."""

    def __init__(self, native: Any) -> None:
        self._native = native
        self._data: Dict[str, Any] = json.loads(native.json())

    @classmethod
    def from_json(cls, text: str) -> "EvalResult":
        """Reads a report written by :meth:`to_json`."""
        return cls(_native.EvalReport.from_json(text))

    @classmethod
    def load(cls, path: Union[str, "os.PathLike[str]"]) -> "EvalResult":
        """Reads a report from a JSON file."""
        with open(path, encoding="utf-8") as f:
            return cls.from_json(f.read())

    @property
    def id(self) -> str:
        """The report's id (its key in the store)."""
        return self._data["id"]

    @property
    def suite(self) -> str:
        """The suite's name."""
        return self._data["suite"]

    @property
    def mode(self) -> str:
        """``agent`` or ``baseline``."""
        return self._data["mode"]

    @property
    def label(self) -> Optional[str]:
        """The label given to the run."""
        return self._data.get("label")

    @property
    def model(self) -> Optional[str]:
        """The model asked."""
        return self._data.get("model")

    @property
    def summary(self) -> Dict[str, Any]:
        """Figures: ``total``, ``passed``, ``pass_rate``, ``median_secs``, ``p90_secs``,
        ``tokens_per_case``, ``judge_mean``, ``failure_classes``, ``by_tag``."""
        return self._data["summary"]

    @property
    def passed(self) -> int:
        """Cases passed."""
        return self.summary["passed"]

    @property
    def total(self) -> int:
        """Cases run."""
        return self.summary["total"]

    @property
    def pass_rate(self) -> float:
        """``passed / total``."""
        return self.summary["pass_rate"]

    @property
    def cases(self) -> List[Dict[str, Any]]:
        """Every case's result, in suite order (the core's ``CaseResult`` JSON)."""
        return self._data["cases"]

    @property
    def failed(self) -> List[str]:
        """Ids of the cases that failed."""
        return [c["id"] for c in self.cases if not c["passed"]]

    def to_dict(self) -> Dict[str, Any]:
        """The report as the core's JSON object."""
        return json.loads(json.dumps(self._data))

    def to_json(self) -> str:
        """The report as pretty JSON (``EvalResult.from_json`` reads it back)."""
        return self._native.json()

    def to_markdown(self) -> str:
        """A Markdown summary: figures, failure classes, tags and one line per case."""
        return self._native.markdown()

    def to_html(self) -> str:
        """One self-contained HTML page: figures, then per case the question, SQL, answer, the
        expected and returned tables and what differed. No scripts, no network."""
        return self._native.html()

    def save_html(self, path: Union[str, "os.PathLike[str]"]) -> str:
        """Writes :meth:`to_html` to ``path``; returns the path."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_html())
        return os.fspath(path)

    def save_json(self, path: Union[str, "os.PathLike[str]"]) -> str:
        """Writes :meth:`to_json` to ``path`` (e.g. to compare a later run with it); returns
        the path."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_json())
        return os.fspath(path)

    def compare(self, before: Union["EvalResult", str, "os.PathLike[str]"]) -> Dict[str, Any]:
        """This run against an earlier one (an ``EvalResult``, report JSON text, or the path of
        a report file), case by case: ``regressions`` (passed before, fail now), ``fixes``,
        ``added``, ``removed``, ``before``/``after`` pass counts, ``has_regressions`` and a
        ``markdown`` summary."""
        return self._native.compare(_as_result(before)._native)

    def to_pandas(self) -> Any:
        """One row per case (needs pandas): ``id``, ``question``, ``tags``, ``passed``,
        ``failure``, ``seconds``, ``tokens``, ``iterations``, ``sql``, ``answer``, ``error``."""
        import pandas

        rows = [{k: c.get(k) for k in CASE_COLUMNS} for c in self.cases]
        for r in rows:
            r["tags"] = list(r["tags"] or [])
        return pandas.DataFrame(rows, columns=list(CASE_COLUMNS))

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __repr__(self) -> str:
        return (
            f"EvalResult(suite={self.suite!r}, mode={self.mode!r}, passed={self.passed}, "
            f"total={self.total})"
        )


def _as_result(value: Any) -> EvalResult:
    if isinstance(value, EvalResult):
        return value
    if isinstance(value, os.PathLike):
        return EvalResult.load(value)
    if isinstance(value, str):
        if value.lstrip().startswith("{"):
            return EvalResult.from_json(value)
        return EvalResult.load(value)
    raise TypeError(
        f"expected an EvalResult, report JSON text or a report path, not {type(value).__name__}"
    )


def load(report: Union[str, "os.PathLike[str]"]) -> EvalResult:
    """A report from JSON text or a JSON file (what :meth:`EvalResult.to_json` wrote)."""
    return _as_result(report)


_SUITE_SUFFIXES = (".yaml", ".yml", ".json")


def _suite_arg(suite: Any) -> "tuple[str, bool]":
    """``(text_or_path, is_path)``: a PathLike or a one-line string naming a file (or ending in
    ``.yaml``/``.yml``/``.json``) is a path; other strings are YAML; a dict is the suite."""
    if isinstance(suite, os.PathLike):
        return os.fspath(suite), True
    if isinstance(suite, dict):
        return json.dumps(suite), False
    if isinstance(suite, str):
        one_line = "\n" not in suite.strip()
        if one_line and (os.path.exists(suite) or suite.strip().lower().endswith(_SUITE_SUFFIXES)):
            return suite, True
        return suite, False
    raise TypeError(f"suite must be a path, YAML text or a dict, not {type(suite).__name__}")


def _start(
    suite: Any,
    agent: Any,
    concurrency: int,
    baseline: bool,
    timeout: Any,
    only: Any,
    label: Optional[str],
    store: bool,
    judge: Any,
) -> Any:
    native_agent = getattr(agent, "_native", None)
    if not isinstance(native_agent, _native.Agent):
        raise TypeError(f"agent must be an mc.Agent, not {type(agent).__name__}")
    text, is_path = _suite_arg(suite)
    if isinstance(timeout, datetime.timedelta):
        timeout = timeout.total_seconds()
    if isinstance(only, str):
        only = [only]
    options: Dict[str, Any] = {
        "baseline": bool(baseline),
        "concurrency": int(concurrency),
        "store": bool(store),
    }
    if timeout is not None:
        options["timeout_secs"] = float(timeout)
    if only is not None:
        options["only"] = [str(i) for i in only]
    if label is not None:
        options["label"] = label
    if judge is not None:
        from . import _llm_spec

        options["judge"] = _llm_spec(judge)
    return native_agent.eval(text, is_path, options)


def _drain(handle: Any, seconds: float = 10.0) -> None:
    """Waits (up to ``seconds``) for a cancelled run to wind down, its report stored."""

    async def to_end() -> None:
        while await handle.next_progress() is not None:
            pass

    concurrent.futures.wait([background.submit(to_end)], timeout=seconds)


def run(
    suite: SuiteLike,
    agent: Any,
    *,
    concurrency: int = 1,
    baseline: bool = False,
    timeout: Optional[Union[float, datetime.timedelta]] = None,
    only: Optional[Iterable[str]] = None,
    label: Optional[str] = None,
    store: bool = True,
    judge: Any = None,
    progress: Optional[ProgressFn] = None,
) -> EvalResult:
    """Runs every case of ``suite`` through ``agent`` and returns the :class:`EvalResult`.

    Args:
        suite: a path to a YAML/JSON suite, the YAML text itself, or the suite as a dict.
        agent: the ``mc.Agent`` to evaluate.
        concurrency: cases run at once.
        baseline: run the single-prompt baseline (one SQL query from the schema) instead of
            the agent.
        timeout: seconds (or a ``timedelta``) per case, overriding the suite's
            ``defaults.timeout``.
        only: run only these case ids.
        label: a label kept with the report (a model name, a branch).
        store: keep the report in the agent's store (``mc.eval.history(agent)``).
        judge: the model scoring ``judge`` rubrics (same forms as ``mc.Agent(llm=…)``);
            without one they are reported as not scored.
        progress: called in this thread after every case with ``{"done", "total", "passed",
            "last"}`` (``last`` the finished case's result).

    Blocking, with the GIL released. ``KeyboardInterrupt`` cancels the run (running cases and
    their queries stop) and propagates. A bad suite raises ``mc.InvalidInputError`` naming the
    case and the key before anything runs."""
    handle = _start(suite, agent, concurrency, baseline, timeout, only, label, store, judge)
    try:
        while True:
            event = background.run(handle.next_progress)
            if event is None:
                break
            if progress is not None:
                progress(event)
    except BaseException:
        handle.cancel()
        _drain(handle)
        raise
    return EvalResult(handle.result())


async def run_async(
    suite: SuiteLike,
    agent: Any,
    *,
    concurrency: int = 1,
    baseline: bool = False,
    timeout: Optional[Union[float, datetime.timedelta]] = None,
    only: Optional[Iterable[str]] = None,
    label: Optional[str] = None,
    store: bool = True,
    judge: Any = None,
    progress: Optional[ProgressFn] = None,
) -> EvalResult:
    """The async form of :func:`run`; cancelling the awaiting task cancels the run."""
    handle = _start(suite, agent, concurrency, baseline, timeout, only, label, store, judge)
    try:
        while True:
            event = await handle.next_progress()
            if event is None:
                break
            if progress is not None:
                progress(event)
    except BaseException:
        handle.cancel()
        raise
    return EvalResult(handle.result())


def history(agent: Any, suite: Optional[str] = None, limit: int = 20) -> List[EvalResult]:
    """Reports kept in ``agent``'s store (of ``suite``, or every suite), newest first."""
    native_agent = getattr(agent, "_native", None)
    if not isinstance(native_agent, _native.Agent):
        raise TypeError(f"agent must be an mc.Agent, not {type(agent).__name__}")
    reports = background.run(native_agent.eval_history, suite, int(limit))
    return [EvalResult(r) for r in reports]
