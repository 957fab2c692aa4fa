// The gateway capabilities LLBBridge.Ping announces (BuildKit's frontend/gateway/pb/caps.go IDs):
// the ones berthd's gateway really serves. A client checks them before it uses a feature.
import type { Message } from './grpc/server.js';

const SUPPORTED = [
  'solve.base',
  'solve.inlinereturn',
  'return',
  'proto.refarray',
  'reference.output',
  'gateway.solve.metadata',
  'gateway.warnings',
  'frontend.caps',
];

export const FRONTEND_CAPS: Message[] = SUPPORTED.map((ID) => ({ ID, Enabled: true }));

/**
 * None: berthd takes no LLB. An empty list makes Go clients assume BuildKit's oldest LLB set,
 * which they only check when they build a definition themselves.
 */
export const LLB_CAPS: Message[] = [];
