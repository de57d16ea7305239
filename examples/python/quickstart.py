"""metricchat from Python, notebook style (each block is a cell). Runs as a script too:

    python examples/python/quickstart.py

With OPENAI_API_KEY (or MC_LLM_BASE_URL + MC_LLM_MODEL for an OpenAI-compatible server such as
`../shared/tools/local-llm`), a real model answers. Without either, a scripted model replays a
tool-calling conversation through the fake provider server (`mc-fake-llm`, built from
metricchat-testkit) so the example runs anywhere — the SQL, data and chart are still real.
"""

import json
import os
import pathlib
import subprocess
import sys
import tempfile

import metricchat as mc

QUESTION = "Which carrier had the worst average departure delay in 2013, and how bad was it?"

# %% Pick the model ------------------------------------------------------------------------------
fake = None
if os.environ.get("OPENAI_API_KEY"):
    llm = mc.llm.openai(os.environ.get("MC_LLM_MODEL", "gpt-4.1-mini"))
elif os.environ.get("MC_LLM_BASE_URL"):
    llm = mc.llm.openai_compatible(os.environ["MC_LLM_BASE_URL"], os.environ.get("MC_LLM_MODEL", "local"))
else:
    sql = ("SELECT f.carrier, a.name AS airline, ROUND(AVG(f.dep_delay), 2) AS avg_dep_delay_min, "
           "COUNT(*) AS flights FROM flights f JOIN airlines a ON a.carrier = f.carrier "
           "GROUP BY f.carrier, a.name ORDER BY avg_dep_delay_min DESC")
    planner = {"type": "body_contains", "text": "You are metricchat"}
    script = [
        {"matcher": planner, "reply": {"type": "tool_calls", "text": "I'll average dep_delay per carrier.",
         "calls": [{"id": "call_1", "name": "create_data", "arguments": {
             "title": "Average departure delay by carrier, 2013", "sql": sql,
             "chart": {"chart_type": "bar", "x": "airline", "y": ["avg_dep_delay_min"]}}}]}},
        {"matcher": planner, "reply": {"type": "text", "chunk_delay_ms": 10, "text":
            "Frontier Airlines (F9) had the worst average departure delay in 2013: 20.22 minutes "
            "per flight, just ahead of ExpressJet (EV) at 19.96 minutes."}},
        {"matcher": {"type": "body_contains", "text": "title of at most six words"},
         "reply": {"type": "text", "text": "Worst average departure delay by carrier"}},
    ]
    path = pathlib.Path(tempfile.mkdtemp()) / "script.json"
    path.write_text(json.dumps(script))
    binary = os.environ.get("MC_FAKE_LLM_BIN") or str(
        pathlib.Path(os.environ.get("CARGO_TARGET_DIR", "target")) / "debug" / "mc-fake-llm")
    fake = subprocess.Popen([binary, "--script", str(path)], stdout=subprocess.PIPE, text=True)
    base_url = fake.stdout.readline().split("listening on ", 1)[1].strip()
    print(f"(no model configured: replaying a scripted model at {base_url})\n")
    llm = mc.llm.openai("scripted-gpt", base_url=base_url, api_key="unused", supports_tools=True)

# %% Build the agent over the bundled nycflights13 sample ----------------------------------------
agent = mc.Agent(
    llm=llm,
    connections=[mc.sample_url()],
    rules=["Delays are in minutes; round to two decimals."],
    max_rows=5_000,
)

# %% Stream a run: every step arrives as an event ------------------------------------------------
stream = agent.stream(QUESTION)
for event in stream:
    if event.type == "block.upsert" and event.done:
        print(f"[{event.seq:>2}] answer: {event.text}")
    elif event.type == "tool.started":
        print(f"[{event.seq:>2}] tool {event.tool} {json.dumps(event.arguments)[:100]}")
    elif event.type == "query.result":
        print(f"[{event.seq:>2}] query -> {event.row_count} rows in {event.duration_ms} ms")
    else:
        print(f"[{event.seq:>2}] {event.type}")
result = stream.result()

# %% The result: answer, SQL, Arrow data, chart --------------------------------------------------
print("\nanswer:", result.answer)
print("sql:   ", result.sql)
print("usage: ", result.usage)
table = result.data  # a pyarrow.Table, shared with Rust without copying
print(table.slice(0, 5).to_pylist())
if result.chart:
    print("chart: ", result.chart.kind, "— in Jupyter, `result.chart` renders it")

# %% Your own SQL through the same guard ---------------------------------------------------------
conn = mc.connect(mc.sample_url())
print(conn.query("SELECT origin, COUNT(*) AS flights FROM flights GROUP BY origin ORDER BY flights DESC").to_pylist())

if fake is not None:
    fake.kill()
