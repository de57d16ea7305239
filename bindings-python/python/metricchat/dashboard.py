"""Dashboards: saved, re-runnable analyses that people open as pages.

A :class:`Dashboard` holds the core's JSON form (``title``, ``description``, ``parameters``,
``blocks`` with their last results). Build one with ``agent.dashboard_from_run(result)`` or
``Dashboard.from_dict({...})``, refresh it with ``dashboard.refresh(agent)`` (every block's
query runs concurrently through the agent's guard), keep it with ``agent.dashboards.save(d)``
and open it as one self-contained page: ``dashboard.save_html("flights.html")``, or inline in
Jupyter (``_repr_html_``).
"""

from __future__ import annotations

import html
import json
import os
from typing import Any, Dict, List, Optional, Union

from . import _native
from ._loop import background


class Dashboard:
    """A dashboard (the core's ``Dashboard`` as a dict, checked on every change)."""

    def __init__(self, data: Dict[str, Any]) -> None:
        self._data = _native.dashboard_check(data)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Dashboard":
        """Reads and checks a dashboard; an unknown field or a bad block raises
        ``InvalidInputError`` naming the block."""
        return cls(data)

    @classmethod
    def from_json(cls, text: str) -> "Dashboard":
        """Reads a dashboard from JSON text (see :meth:`from_dict`)."""
        return cls(json.loads(text))

    @property
    def id(self) -> str:
        """Id, stable across versions."""
        return self._data["id"]

    @property
    def version(self) -> int:
        """Version set by the store (0 before the first save)."""
        return self._data.get("version", 0)

    @property
    def title(self) -> str:
        """Title."""
        return self._data["title"]

    @property
    def blocks(self) -> List[Dict[str, Any]]:
        """Blocks in grid order, each with its last ``result`` (``error``, ``refreshed_at``,
        ``columns``, ``rows``, ``kpi``, ``echarts``)."""
        return self._data["blocks"]

    @property
    def parameters(self) -> List[Dict[str, Any]]:
        """Parameters bound into the blocks' SQL."""
        return self._data.get("parameters", [])

    def block(self, id: str) -> Optional[Dict[str, Any]]:
        """The block with ``id``, or None."""
        return next((b for b in self.blocks if b["id"] == id), None)

    def set_parameter(self, name: str, value: Any) -> "Dashboard":
        """Sets a parameter, checked against its type (``InvalidInputError`` otherwise)."""
        self._data = _native.dashboard_check(self._data, {name: value})
        return self

    def refresh(self, agent: Any) -> "Dashboard":
        """Re-runs every block through ``agent`` (concurrently); a failing block keeps its
        error and the others refresh. Blocking; safe inside Jupyter."""
        self._data = background.run(agent._native.refresh_dashboard, self._data)
        return self

    async def refresh_async(self, agent: Any) -> "Dashboard":
        """The async form of :meth:`refresh`."""
        self._data = await agent._native.refresh_dashboard(self._data)
        return self

    def to_dict(self) -> Dict[str, Any]:
        """The core's JSON form, results included (for host UIs)."""
        return self._data

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self._data)

    def to_html(self) -> str:
        """One self-contained HTML page (ECharts inlined, no network access when viewed)."""
        return _native.dashboard_html(self._data)

    def save_html(self, path: Union[str, os.PathLike]) -> None:
        """Writes :meth:`to_html` to ``path``."""
        with open(os.fspath(path), "w", encoding="utf-8") as f:
            f.write(self.to_html())

    def _repr_html_(self) -> str:
        # The page in a sandboxed frame: its scripts and styles stay out of the notebook's.
        return (
            '<iframe style="width:100%;height:720px;border:0" '
            'sandbox="allow-scripts allow-downloads" '
            f'srcdoc="{html.escape(self.to_html(), quote=True)}"></iframe>'
        )

    def __repr__(self) -> str:
        return f"Dashboard(title={self.title!r}, blocks={len(self.blocks)}, version={self.version})"


class Dashboards:
    """The dashboards in the agent's store (``agent.dashboards``)."""

    def __init__(self, native: Any) -> None:
        self._native = native

    def save(self, dashboard: Dashboard) -> int:
        """Saves ``dashboard`` as a new version; returns the version (and sets it)."""
        dashboard._data = background.run(self._native.save_dashboard, dashboard._data)
        return dashboard.version

    def get(self, id: str, version: Optional[int] = None) -> Optional[Dashboard]:
        """A stored dashboard (its latest version, or ``version``), or None."""
        data = background.run(self._native.get_dashboard, str(id), version)
        return None if data is None else Dashboard(data)

    def list(self, limit: int = 50) -> List[Dict[str, Any]]:
        """Stored dashboards (id, version, title, updated_at), most recently saved first."""
        return background.run(self._native.list_dashboards, limit)
