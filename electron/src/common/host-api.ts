// The host API the GUI talks to, typed once for both ends: the Electron preload (later) and the
// dashboard's WebSocket bridge. Requests carry an id; answers, stream data and stream ends refer
// to it. Types only: this file is imported by the renderer and by Node.

export type HostRequest =
  /** One Engine API call: its status and JSON (or text) body. */
  | { id: number; method: 'engine.request'; params: { method: string; path: string; body?: unknown } }
  /** A streaming Engine API call (events, logs, pull progress): one message per line. */
  | { id: number; method: 'engine.stream'; params: { method?: string; path: string; body?: unknown } }
  /**
   * An Engine API call that upgrades to a raw stream (exec start, attach): bytes both ways,
   * base64 in `bytes` messages; write with `write`.
   */
  | { id: number; method: 'engine.hijack'; params: { path: string; body?: unknown } }
  /** Bytes for a hijacked stream (base64). */
  | { id: number; method: 'write'; params: { target: number; bytes: string } }
  /** Stops a stream. */
  | { id: number; method: 'cancel'; params: { target: number } };

export interface EngineResult {
  status: number;
  body: unknown;
}

export type HostMessage =
  | { id: number; result: EngineResult }
  | { id: number; error: string }
  /** A line of a stream (logs are demultiplexed: `stream` says stdout or stderr). */
  | { id: number; data: string; stream?: 'stdout' | 'stderr' }
  /** Raw bytes of a hijacked stream (base64). */
  | { id: number; bytes: string }
  | { id: number; end: true };
