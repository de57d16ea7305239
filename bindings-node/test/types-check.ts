// Type-checked (not run) by types.test.mjs with `tsc --noEmit --strict`: the declarations in
// index.d.ts and the generated types.d.ts fit together and narrow the way a user writes code.
import { Agent } from '../index';
import type { AgentEvent, AskResult, ChartSpec, EventType, MemoryRecord, RunRecord, RunStatus } from '../index';

export function describe(ev: AgentEvent): string {
  switch (ev.type) {
    case 'run.started':
      return `${ev.question} on ${ev.connections.join(', ')}`;
    case 'query.result':
      return `${ev.row_count} rows in ${ev.duration_ms} ms${ev.error ? `: ${ev.error}` : ''}`;
    case 'tool.finished':
      return `${ev.tool}: ${ev.status}`;
    case 'visualization.created': {
      const spec: ChartSpec = ev.spec;
      return spec.chart_type;
    }
    case 'run.finished':
    case 'run.failed': {
      const status: RunStatus = ev.summary.status;
      return status;
    }
    default:
      return ev.type;
  }
}

export async function ask(agent: Agent): Promise<[AskResult, RunRecord[], EventType]> {
  const run = agent.stream('How many flights?');
  let last: EventType = 'run.started';
  for await (const ev of run) last = ev.type;
  const result = await run.result();
  const runs: RunRecord[] = await agent.runs();
  const memories: MemoryRecord[] = await agent.memory.list();
  void memories;
  return [result, runs, last];
}
