// A tiny HTTP server that streams an agent run to the browser as server-sent events.
//
//   cd bindings-node && npm run build && cd ..
//   OPENAI_API_KEY=sk-… node examples/node/server.mjs                   # or:
//   MC_LLM='{"provider":"openai_compatible","model":"q","base_url":"http://127.0.0.1:8089/v1"}' \
//     node examples/node/server.mjs
//   open http://127.0.0.1:3000/  (or: curl -N 'http://127.0.0.1:3000/ask?q=worst+carrier')
//
// Each event is one SSE message whose `event:` is the event's `type` (run.started, query.result,
// block.upsert, …) and whose data is the event's JSON; a final `result` message carries the
// answer, the SQL, the chart and the rows. Closing the page aborts the run.
import { createServer } from 'node:http';

import { Agent } from '../../bindings-node/index.mjs';

const port = Number(process.env.PORT ?? 3000);
const agent = new Agent({
  llm: process.env.MC_LLM ? JSON.parse(process.env.MC_LLM) : 'openai:gpt-4.1-mini',
  connections: (process.env.MC_CONNECTIONS ?? 'sample:flights').split(','),
  protocol: process.env.MC_PROTOCOL ?? 'auto',
  maxRows: 1000,
});

const PAGE = `<!doctype html><meta charset="utf-8"><title>metricchat</title>
<form><input name="q" size="60" value="Which carrier had the worst average departure delay?">
<button>Ask</button></form><pre id="log"></pre><p id="answer"></p>
<script>
document.querySelector('form').onsubmit = (e) => {
  e.preventDefault();
  const log = document.getElementById('log'), answer = document.getElementById('answer');
  log.textContent = ''; answer.textContent = '';
  const es = new EventSource('/ask?q=' + encodeURIComponent(e.target.q.value));
  es.onmessage = () => {};
  for (const t of ['run.started', 'tool.started', 'query.created', 'query.result', 'tool.finished', 'run.finished', 'run.failed'])
    es.addEventListener(t, (m) => { log.textContent += t + ' ' + m.data.slice(0, 160) + '\\n'; });
  es.addEventListener('block.upsert', (m) => { answer.textContent = JSON.parse(m.data).text; });
  es.addEventListener('result', () => es.close());
  es.addEventListener('error', () => es.close());
};
</script>`;

function send(res, event, data) {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}\n\n`);
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, `http://${req.headers.host}`);
  if (url.pathname === '/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    return;
  }
  if (url.pathname !== '/ask' || !url.searchParams.get('q')) {
    res.writeHead(404).end('try /ask?q=…\n');
    return;
  }
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  const abort = new AbortController();
  res.on('close', () => abort.abort()); // the browser went away: cancel the run and its query
  const run = agent.stream(url.searchParams.get('q'), { signal: abort.signal });
  try {
    for await (const ev of run) send(res, ev.type, ev);
    const r = await run.result();
    send(res, 'result', { answer: r.answer, sql: r.sql, chart: r.chart?.echarts ?? null, rows: r.rows().slice(0, 100) });
  } catch (err) {
    send(res, 'error', { code: err.code ?? 'Internal', message: err.message });
  }
  res.end();
});

server.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}/`));
