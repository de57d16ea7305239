"""Dashboards from Python: re-running a stored query, a dashboard from a run, refresh, save
(versioned), the page (``save_html``, ``_repr_html_``) and typed errors naming the block."""

from __future__ import annotations

import pyarrow as pa
import pytest

import metricchat as mc
from conftest import text, tool_call

BY_CARRIER = "SELECT carrier, COUNT(*) AS flights FROM flights GROUP BY carrier ORDER BY flights DESC"
TOTAL = "SELECT COUNT(*) AS flights FROM flights"


def script():
    return [
        tool_call(
            "create_data",
            {"title": "Flights by carrier", "sql": BY_CARRIER,
             "chart": {"chart_type": "bar", "x": "carrier", "y": ["flights"]}},
        ),
        tool_call("create_data", {"title": "Total flights", "sql": TOTAL}),
        text("United flew the most flights."),
    ]


def test_rerun_dashboard_from_run_refresh_save_and_page(fake_llm, tmp_path):
    server = fake_llm(script())
    agent = mc.Agent(llm=server.llm(), connections=[mc.sample_url()], store="memory",
                     generate_title=False, answer_checks=False)
    result = agent.ask("Who flies the most?")
    query_id = result.datasets[0]["query_id"]

    again = agent.rerun_query(query_id)
    assert isinstance(again, pa.Table) and again.num_rows == 16
    assert again.column_names == ["carrier", "flights"]

    d = agent.dashboard_from_run(result)
    assert [b["content"]["type"] for b in d.blocks] == ["text", "kpi", "chart", "table"]
    d.refresh(agent)
    kpi = d.block("total-flights")["result"]["kpi"]
    assert kpi["value"] == 336776
    assert all(b.get("result", {}).get("error") is None for b in d.blocks)

    assert agent.dashboards.save(d) == 1
    assert agent.dashboards.save(d) == 2
    back = agent.dashboards.get(d.id)
    assert back.version == 2 and back.title == d.title
    assert [s["version"] for s in agent.dashboards.list()] == [2]

    page = tmp_path / "d.html"
    d.save_html(page)
    html = page.read_text(encoding="utf-8")
    assert 'data-kpi-value="336776"' in html and len(html) < 1_500_000
    assert d._repr_html_().startswith("<iframe") and "srcdoc=" in d._repr_html_()


def test_bad_dashboards_raise_typed_errors_naming_the_block():
    with pytest.raises(mc.InvalidInputError, match="block `b`.*colour"):
        mc.Dashboard.from_dict({"title": "x", "blocks": [
            {"id": "b", "content": {"type": "text", "markdown": "hi", "colour": "red"}}]})
    d = mc.Dashboard.from_dict({
        "title": "x",
        "parameters": [{"name": "carrier", "type": "text", "value": "UA"}],
        "blocks": [{"id": "n", "content": {"type": "kpi", "query": {
            "sql": "SELECT COUNT(*) FROM flights WHERE carrier = :carrier"}}}],
    })
    with pytest.raises(mc.InvalidInputError, match="carrier"):
        d.set_parameter("carrier", 7)
    d.set_parameter("carrier", "DL")
    assert d.parameters[0]["value"] == "DL"
    with pytest.raises(mc.NotFoundError):
        d.set_parameter("airport", "JFK")
