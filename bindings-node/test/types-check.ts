// Type-checked (not run) by types.test.mjs with `tsc --noEmit --strict`: the declarations in
// index.d.ts and the generated types.d.ts fit together and narrow the way a user writes code.
import { Agent } from '../index';
import type {
  AgentEvent,
  ApprovalAnswer,
  ApprovalRequest,
  AskResult,
  ChartSpec,
  CredentialsAnswer,
  DataExposure,
  EventType,
  MemoryRecord,
  RunRecord,
  RunStatus,
  UserContext,
} from '../index';

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

export async function approvals(): Promise<number> {
  const agent = new Agent({
    llm: 'openai:gpt-4.1-mini',
    approval: { maxRows: 1_000_000, timeout: '2m' },
    approvalHandler: async (req: ApprovalRequest): Promise<ApprovalAnswer> =>
      (req.estimate?.rows ?? 0) < 10_000_000 ? true : [false, `too large: ${req.reason}`],
  });
  const run = agent.stream('Every order line?');
  let decided = 0;
  for await (const ev of run) {
    if (ev.type === 'approval.requested') {
      const bytes: number | null | undefined = ev.estimate?.bytes;
      if (bytes && bytes > 1e10) await run.deny(ev.approval_id, 'too many bytes');
      else await run.approve(ev.approval_id);
      decided += 1;
    } else if (ev.type === 'approval.resolved') {
      const by: 'host' | 'handler' | 'timeout' | 'cancelled' = ev.by;
      void by;
    }
  }
  const pending: ApprovalRequest[] = await run.pendingApprovals();
  return decided + pending.length;
}

export async function perRequest(): Promise<AskResult> {
  const roles: Record<string, string> = { alice: 'analyst_eu' };
  const credentials = async (user: UserContext | null, connection: { backend: string }): Promise<CredentialsAnswer> =>
    user === null ? null : connection.backend === 'snowflake' ? { token: 'oauth' } : roles[user.id] ?? null;
  const agent = new Agent({
    llm: 'openai:gpt-4.1-mini',
    exposure: { aggregates: { max_rows: 20 } },
    credentials,
    approvalHandler: (req: ApprovalRequest, { signal }: { signal: AbortSignal }) =>
      new Promise<ApprovalAnswer>((resolve) => {
        signal.addEventListener('abort', () => resolve(false));
        if (req.reason) resolve(true);
      }),
  });
  const exposure: DataExposure = 'schema_only';
  await agent.query('SELECT 1', { user: { id: 'alice' } });
  return agent.ask('Revenue?', { user: { id: 'alice' }, exposure, approval: { maxRows: 1000 } });
}
