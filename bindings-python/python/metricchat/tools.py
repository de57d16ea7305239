"""Custom tools: ``@mc.tool`` turns a Python function into a tool the agent can call.

The JSON Schema of the arguments comes from the type hints (``int``, ``float``, ``str``,
``bool``, ``list[...]``, ``dict``, ``Optional[...]``, ``Literal[...]``, ``Enum`` subclasses,
``typing.Annotated[T, "description"]``) or from a pydantic model, when the function takes one
model argument. The description is the docstring's first paragraph; Google-style ``Args:``
entries describe the parameters.

The function may be sync or ``async``. It runs on a worker thread, so it never blocks the agent's
runtime; an async function runs in its own event loop on that thread. An exception becomes a
tool error the model sees (``"ValueError: ..."``) so it can try again; the traceback is logged on
the ``metricchat`` logger for the operator and never shown to the model.

When the run is cancelled while a tool runs, the call is stopped too: an async tool's task is
cancelled (``asyncio.CancelledError`` at its current ``await``); a sync tool gets
:class:`ToolCancelled` raised in its thread (``PyThreadState_SetAsyncExc``), which Python delivers
between bytecodes, so a tool inside one long C call (``time.sleep(30)``, a blocking socket read)
stops only when that call returns. ``ToolCancelled`` derives from ``BaseException`` so that
``except Exception`` in the tool does not swallow it; ``finally`` blocks and ``with`` exits run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as _dt
import decimal
import enum
import inspect
import json
import logging
import re
import threading
import typing
from typing import Any, Callable, Dict, List, Optional, Tuple

__all__ = ["Tool", "ToolCancelled", "tool"]

logger = logging.getLogger("metricchat")

_NONE = type(None)


class ToolCancelled(BaseException):
    """Raised inside a sync tool's thread when its run is cancelled (see the module docs)."""


class _Call:
    """One running tool call, so that ``_cancel_call`` can stop it from another thread."""

    __slots__ = ("thread_id", "loop", "task", "cancelled", "exc_sent")

    def __init__(self) -> None:
        self.thread_id = threading.get_ident()
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.task: Optional["asyncio.Task[Any]"] = None
        self.cancelled = False
        self.exc_sent = False


# Running calls by the id the native side gave them. The lock orders cancelling against the
# end of a call: an exception is only ever sent to a thread still inside that call.
_calls_lock = threading.Lock()
_calls: Dict[int, _Call] = {}


def _set_async_exc(thread_id: int, exc: Optional[type]) -> bool:
    """``PyThreadState_SetAsyncExc``: raise ``exc`` in the thread at its next bytecode (``None``
    withdraws one not raised yet). False when this Python has no such API (not CPython)."""
    try:
        import ctypes

        set_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
    except (ImportError, AttributeError):
        return False
    return set_exc(ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None) == 1


def _cancel_call(call_id: int) -> bool:
    """Called by the native side when the run gave up on call ``call_id``. False when no such
    call is running: it has not started yet (the native side asks again) or it has ended."""
    with _calls_lock:
        call = _calls.get(call_id)
        if call is None:
            return False
        if call.cancelled:
            return True
        call.cancelled = True
        if call.loop is not None and call.task is not None:
            try:
                call.loop.call_soon_threadsafe(call.task.cancel)
            except RuntimeError:  # the loop closed meanwhile: the call is ending anyway
                pass
        elif call.loop is None:
            call.exc_sent = _set_async_exc(call.thread_id, ToolCancelled)
        return True


def _run_awaitable(call: _Call, awaitable: Any) -> Any:
    """Runs ``awaitable`` in a new event loop on this thread, cancellable through ``call``;
    cleans up like ``asyncio.run`` (pending tasks, async generators, the default executor)."""
    loop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        task = loop.create_task(_await(awaitable))
        with _calls_lock:
            call.loop, call.task = loop, task
            if call.cancelled:
                task.cancel()
        return loop.run_until_complete(task)
    finally:
        with _calls_lock:
            call.task = None
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for t in pending:
                t.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            if hasattr(loop, "shutdown_default_executor"):
                loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _call_stoppably(call_id: int, thunk: Callable[[], Any], what: str) -> Any:
    """Runs ``thunk()`` on this worker thread as call ``call_id`` (awaiting what it returns in
    a loop of this thread), so that :func:`_cancel_call` can stop it: tools, the approval
    handler and the credentials callback all run through here. Logs a raise on the
    ``metricchat`` logger (with its traceback) and re-raises it."""
    call = _Call()
    with _calls_lock:
        _calls[call_id] = call
    try:
        try:
            result = thunk()
            if inspect.isawaitable(result):
                result = _run_awaitable(call, result)
        finally:
            with _calls_lock:
                _calls.pop(call_id, None)
                if call.exc_sent:
                    # Sent but not raised yet: withdraw it, so it cannot hit whatever this
                    # worker thread runs next.
                    _set_async_exc(call.thread_id, None)
    except (ToolCancelled, asyncio.CancelledError):
        logger.info("metricchat %s stopped: its run no longer waits for it", what)
        raise
    except Exception:
        logger.exception("metricchat %s raised", what)
        raise
    return result


def _is_pydantic_model(tp: Any) -> bool:
    return inspect.isclass(tp) and hasattr(tp, "model_json_schema") and hasattr(tp, "model_validate")


def _schema_for(tp: Any) -> Dict[str, Any]:
    """JSON Schema of one annotation."""
    if tp is inspect.Parameter.empty or tp is Any:
        return {}
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        schema = _schema_for(args[0])
        for extra in args[1:]:
            if isinstance(extra, str):
                schema["description"] = extra
        return schema
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        members = [a for a in args if a is not _NONE]
        if len(members) == 1:
            return _schema_for(members[0])
        return {"anyOf": [_schema_for(a) for a in members]}
    if origin is typing.Literal:
        values = list(args)
        schema: Dict[str, Any] = {"enum": values}
        kinds = {type(v) for v in values}
        if kinds == {str}:
            schema["type"] = "string"
        elif kinds <= {int}:
            schema["type"] = "integer"
        return schema
    if origin in (list, List, tuple, Tuple, set, frozenset) or tp in (list, tuple, set):
        item = args[0] if args else Any
        return {"type": "array", "items": _schema_for(item)}
    if origin in (dict, Dict) or tp is dict:
        return {"type": "object"}
    if inspect.isclass(tp):
        if issubclass(tp, bool):
            return {"type": "boolean"}
        if issubclass(tp, enum.Enum):
            return {"enum": [m.value for m in tp]}
        if issubclass(tp, int):
            return {"type": "integer"}
        if issubclass(tp, float) or issubclass(tp, decimal.Decimal):
            return {"type": "number"}
        if issubclass(tp, str):
            return {"type": "string"}
        if issubclass(tp, _dt.datetime):
            return {"type": "string", "format": "date-time"}
        if issubclass(tp, _dt.date):
            return {"type": "string", "format": "date"}
        if _is_pydantic_model(tp):
            return _clean(tp.model_json_schema())
        if dataclasses.is_dataclass(tp):
            return _object_schema_from_signature(inspect.signature(tp), typing.get_type_hints(tp), {})[0]
    return {}


def _clean(schema: Dict[str, Any]) -> Dict[str, Any]:
    schema = dict(schema)
    schema.pop("title", None)
    return schema


def _arg_docs(doc: str) -> Dict[str, str]:
    """Parameter descriptions from a Google-style ``Args:`` section."""
    out: Dict[str, str] = {}
    m = re.search(r"^\s*(Args|Arguments|Parameters):\s*$(.*?)(^\s*\w+:\s*$|\Z)", doc, re.M | re.S)
    if not m:
        return out
    for line in m.group(2).splitlines():
        pm = re.match(r"^\s*(\w+)(\s*\([^)]*\))?\s*:\s*(.+)$", line)
        if pm:
            out[pm.group(1)] = pm.group(3).strip()
    return out


def _object_schema_from_signature(
    sig: inspect.Signature, hints: Dict[str, Any], docs: Dict[str, str]
) -> Tuple[Dict[str, Any], List[str]]:
    properties: Dict[str, Any] = {}
    required: List[str] = []
    for name, p in sig.parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        tp = hints.get(name, p.annotation)
        schema = _schema_for(tp)
        if name in docs and "description" not in schema:
            schema["description"] = docs[name]
        optional = typing.get_origin(tp) is typing.Union and _NONE in typing.get_args(tp)
        if p.default is not inspect.Parameter.empty:
            try:
                json.dumps(p.default)
                schema["default"] = p.default
            except (TypeError, ValueError):
                pass
        elif not optional:
            required.append(name)
        properties[name] = schema
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema, required


def _json_default(value: Any) -> Any:
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "to_pylist"):  # pyarrow.Table / RecordBatch
        return value.to_pylist()
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # pandas.DataFrame
        return value.to_dict(orient="records")
    return str(value)


class Tool:
    """A Python function the agent may call. Calling the ``Tool`` calls the function."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: Optional[str] = None,
        description: Optional[str] = None,
        parameters: Optional[Dict[str, Any]] = None,
    ) -> None:
        self.fn = fn
        self.name: str = name or fn.__name__
        doc = inspect.getdoc(fn) or ""
        self.description: str = description or doc.split("\n\n")[0].strip() or self.name
        sig = inspect.signature(fn)
        try:
            hints = typing.get_type_hints(fn, include_extras=True)
        except Exception:  # unresolvable forward references: fall back to raw annotations
            hints = {}
        params = [p for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        self._model: Any = None
        if parameters is not None:
            self.parameters: Dict[str, Any] = parameters
        elif len(params) == 1 and _is_pydantic_model(hints.get(params[0].name, params[0].annotation)):
            self._model = hints.get(params[0].name, params[0].annotation)
            self.parameters = _clean(self._model.model_json_schema())
        else:
            self.parameters = _object_schema_from_signature(sig, hints, _arg_docs(doc))[0]
        self.is_async = inspect.iscoroutinefunction(fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Tool(name={self.name!r})"

    def _invoke(self, args_json: str, call_id: int = 0) -> str:
        """Called by the core on a worker thread: JSON arguments in, JSON result out.
        ``call_id`` names the call for :func:`_cancel_call`."""
        args = json.loads(args_json) if args_json else {}
        if self._model is not None:
            thunk = lambda: self.fn(self._model.model_validate(args))  # noqa: E731
        else:
            thunk = lambda: self.fn(**args)  # noqa: E731
        result = _call_stoppably(call_id, thunk, f"tool {self.name!r}")
        return json.dumps(result, default=_json_default)

    def _native_tuple(self) -> Tuple[str, str, str, Callable[[str, int], str], Callable[[int], bool]]:
        return (self.name, self.description, json.dumps(self.parameters), self._invoke, _cancel_call)


async def _await(awaitable: Any) -> Any:
    return await awaitable


def tool(
    fn: Optional[Callable[..., Any]] = None,
    *,
    name: Optional[str] = None,
    description: Optional[str] = None,
    parameters: Optional[Dict[str, Any]] = None,
) -> Any:
    """Decorator: ``@mc.tool`` or ``@mc.tool(name=..., description=...)``.

    >>> import metricchat as mc
    >>> @mc.tool
    ... def fx_rate(base: str, quote: str = "USD") -> float:
    ...     '''Exchange rate between two currencies.'''
    ...     return 1.08
    >>> fx_rate.parameters["required"]
    ['base']
    """

    def wrap(f: Callable[..., Any]) -> Tool:
        return Tool(f, name=name, description=description, parameters=parameters)

    if fn is not None:
        return wrap(fn)
    return wrap
