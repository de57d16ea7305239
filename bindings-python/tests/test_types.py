"""`metricchat.types` is generated from the Rust types (scripts/gen-types.sh): check that what a
real run hands to Python has exactly the keys and value kinds those TypedDicts declare."""

from __future__ import annotations

import typing
from typing import Any, Dict, Union

import metricchat as mc
from metricchat import types as T

from test_agent import QUESTION, make_agent, worst_carrier_script

def _hints(cls: type) -> Dict[str, Any]:
    return typing.get_type_hints(cls, vars(T))


# The event classes by their `type` tag (annotations are strings: resolve them first).
_EVENT_CLASSES = {typing.get_args(_hints(c)["type"])[0]: c for c in typing.get_args(T.AgentEvent)}


def _matches(value: Any, hint: Any) -> bool:
    """Whether `value` is of the (JSON) kind `hint` declares; nested TypedDicts checked too."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin is Union:
        return any(_matches(value, h) for h in typing.get_args(hint))
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_matches(v, item) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    if isinstance(hint, type) and issubclass(hint, dict) and hasattr(hint, "__required_keys__"):
        return isinstance(value, dict) and _conforms(value, hint) == []
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _conforms(obj: Dict[str, Any], cls: type) -> list:
    """Problems of `obj` as a `cls`: missing required keys, unknown keys, values of other kinds."""
    hints = _hints(cls)
    problems = [f"{cls.__name__}: missing {k}" for k in cls.__required_keys__ if k not in obj]
    problems += [f"{cls.__name__}: unknown key {k}" for k in obj if k not in hints]
    problems += [
        f"{cls.__name__}.{k}: {obj[k]!r} is no {hints[k]}"
        for k in obj
        if k in hints and not _matches(obj[k], hints[k])
    ]
    return problems


def test_events_results_and_records_conform_to_the_generated_types(fake_llm):
    server = fake_llm(worst_carrier_script())
    agent = make_agent(server)
    stream = agent.stream(QUESTION)
    events = [e.to_dict() for e in stream]
    result = stream.result()

    seen = set()
    for ev in events:
        cls = _EVENT_CLASSES.get(ev["type"])
        assert cls is not None, f"no generated class for {ev['type']}"
        assert _conforms(ev, cls) == [], ev
        seen.add(ev["type"])
    assert {"run.started", "query.result", "visualization.created", "run.finished"} <= seen

    assert _conforms(result.to_dict(), T.AskResultMeta) == []
    for record in agent.runs.list():
        assert _conforms(record, T.RunRecord) == [], record


def test_types_module_is_plain_typing():
    # Importable and usable in annotations at run time, with no dependency beyond `typing`.
    assert "AgentEvent" in dir(T) and "RunStatus" in dir(T)
    assert set(typing.get_args(T.RunStatus)) >= {"completed", "failed", "cancelled"}
    assert mc.types is T
