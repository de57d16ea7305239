// ES module entry of `metricchat`: the same objects as the CommonJS entry (index.js).
import cjs from './index.js';

export const {
  Agent,
  Dashboard,
  Dashboards,
  Run,
  Connection,
  Rules,
  Instructions,
  Memory,
  MetricChatError,
  connect,
  llm,
  evalSuite,
  evalReportToMarkdown,
  evalReportToHtml,
  compareEvalReports,
} = cjs;
export default cjs;
