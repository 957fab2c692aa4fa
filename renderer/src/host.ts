// The page's end of the host API: in Electron the preload's IPC (window.berth.hostApi), in a
// browser one WebSocket to the dashboard; the same messages either way. Requests are matched to
// answers by id, streams delivered line by line (or byte by byte for terminals). Its Engine API
// methods (request, call, stream, hijack) take raw paths: they are the transport of
// engine-client.ts, which pages use instead; host calls and host streams are used directly.
import type { EngineResult, HostCallName, HostCalls, HostMessage, HostRequest, HostStreamName, HostStreams } from '../../electron/src/common/host-api';

type Pending = { resolve(r: EngineResult): void; reject(e: Error): void };
type StreamHandlers = { onLine(line: string, stream?: 'stdout' | 'stderr'): void; onLines?(lines: string[], stream?: 'stdout' | 'stderr'): void; onBytes?(bytes: Uint8Array): void; onEnd?(): void; onError?(message: string): void };

function toBase64(data: string | Uint8Array): string {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** How requests reach the host and answers come back. */
interface Transport {
  send(request: HostRequest): void;
}

/** What the Electron preload exposes (electron/src/electron-main/preload.cts). */
interface PreloadApi {
  send(request: HostRequest): void;
  onMessage(listener: (message: HostMessage) => void): () => void;
}

declare global {
  interface Window {
    berth?: { hostApi?: PreloadApi };
  }
}

class HostConnection {
  private ready: Promise<Transport> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly streams = new Map<number, StreamHandlers>();

  private connect(): Promise<Transport> {
    const preload = window.berth?.hostApi;
    if (preload) {
      this.ready ??= Promise.resolve().then(() => {
        preload.onMessage((message) => this.receive(message));
        return preload;
      });
      return this.ready;
    }
    this.ready ??= new Promise((resolve, reject) => {
      const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api`);
      ws.onopen = () => resolve({ send: (request) => ws.send(JSON.stringify(request)) });
      ws.onerror = () => reject(new Error('cannot reach Berth'));
      ws.onclose = () => {
        this.ready = undefined;
        for (const p of this.pending.values()) p.reject(new Error('connection to Berth lost'));
        this.pending.clear();
        for (const s of this.streams.values()) s.onError?.('connection to Berth lost');
        this.streams.clear();
      };
      ws.onmessage = (event) => this.receive(JSON.parse(String(event.data)) as HostMessage);
    });
    return this.ready;
  }

  private receive(message: HostMessage): void {
    if ('result' in message) {
      this.pending.get(message.id)?.resolve(message.result);
      this.pending.delete(message.id);
    } else if ('error' in message) {
      this.pending.get(message.id)?.reject(new Error(message.error));
      this.pending.delete(message.id);
      this.streams.get(message.id)?.onError?.(message.error);
      this.streams.delete(message.id);
    } else if ('bytes' in message) {
      this.streams.get(message.id)?.onBytes?.(fromBase64(message.bytes));
    } else if ('lines' in message) {
      const handlers = this.streams.get(message.id);
      if (handlers?.onLines) handlers.onLines(message.lines, message.stream);
      else for (const line of message.lines) handlers?.onLine(line, message.stream);
    } else if ('end' in message) {
      this.streams.get(message.id)?.onEnd?.();
      this.streams.delete(message.id);
    }
  }

  private async send(request: HostRequest): Promise<void> {
    (await this.connect()).send(request);
  }

  private async request(method: string, path: string, body?: unknown): Promise<EngineResult> {
    const id = this.nextId++;
    const answer = new Promise<EngineResult>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    await this.send({ id, method: 'engine.request', params: { method, path, ...(body !== undefined ? { body } : {}) } });
    return answer;
  }

  /**
   * An Engine API call that must succeed: its body, or an Error with the engine's message. The
   * body is not typed here: engine-client.ts says what each call answers.
   */
  async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const result = await this.request(method, path, body);
    if (result.status >= 400) throw new Error((result.body as { message?: string } | null)?.message ?? `HTTP ${result.status}`);
    return result.body;
  }

  /** A raw two-way stream (exec start with a TTY): bytes out through `onBytes`, in through `write`. */
  hijack(path: string, body: unknown, handlers: Omit<StreamHandlers, 'onLine'>): { write(data: string | Uint8Array): void; close(): void } {
    const id = this.nextId++;
    this.streams.set(id, { onLine: () => undefined, ...handlers });
    void this.send({ id, method: 'engine.hijack', params: { path, body } });
    return {
      write: (data) => void this.send({ id: this.nextId++, method: 'write', params: { target: id, bytes: toBase64(data) } }),
      close: () => {
        this.streams.delete(id);
        void this.send({ id: this.nextId++, method: 'cancel', params: { target: id } });
      },
    };
  }

  /** A host call (status, settings, checks…): its result, or an Error with the host's message. */
  async hostCall<N extends HostCallName>(name: N, ...args: HostCalls[N]['args'] extends undefined ? [] : [HostCalls[N]['args']]): Promise<HostCalls[N]['result']> {
    const id = this.nextId++;
    const answer = new Promise<EngineResult>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    await this.send({ id, method: 'host.call', params: { name, ...(args.length ? { args: args[0] } : {}) } });
    return (await answer).body as HostCalls[N]['result'];
  }

  /** A host stream: progress lines (VM start/stop) or a terminal's bytes, which can be written and resized. */
  hostStream<N extends HostStreamName>(name: N, args: HostStreams[N], handlers: StreamHandlers): { write(data: string | Uint8Array): void; resize(cols: number, rows: number): void; close(): void } {
    const id = this.nextId++;
    this.streams.set(id, handlers);
    void this.send({ id, method: 'host.stream', params: { name, ...(args !== undefined ? { args } : {}) } });
    return {
      write: (data) => void this.send({ id: this.nextId++, method: 'write', params: { target: id, bytes: toBase64(data) } }),
      resize: (cols, rows) => void this.hostCall('terminal.resize', { target: id, cols, rows }).catch(() => undefined),
      close: () => {
        this.streams.delete(id);
        void this.send({ id: this.nextId++, method: 'cancel', params: { target: id } });
      },
    };
  }

  /** Starts a stream; returns the function that stops it. */
  stream(path: string, handlers: StreamHandlers, method = 'GET', body?: unknown): () => void {
    const id = this.nextId++;
    this.streams.set(id, handlers);
    void this.send({ id, method: 'engine.stream', params: { path, method, ...(body !== undefined ? { body } : {}) } });
    return () => {
      this.streams.delete(id);
      void this.send({ id: this.nextId++, method: 'cancel', params: { target: id } });
    };
  }
}

export const host = new HostConnection();
