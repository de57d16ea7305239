// ES module entry of `metricchat`: the same objects as the CommonJS entry (index.js).
import cjs from './index.js';

export const { Agent, Run, Connection, MetricChatError, connect, llm } = cjs;
export default cjs;
