// The Engine API end of the bridge: plain calls (status and JSON body), streams delivered line by
// line (logs demultiplexed: Docker's 8-byte frame headers removed), and hijacked raw streams.
import http from 'node:http';
import type { Duplex } from 'node:stream';

import type { EngineResult } from '../../common/host-api.js';

export interface LineSink {
  line(text: string, stream?: 'stdout' | 'stderr'): void;
  bytes(chunk: Buffer): void;
  end(): void;
  error(message: string): void;
}

/** A stream the page can write to (hijacked streams, terminals), resize, or cancel. */
export interface OpenStream {
  write?(data: Buffer): void;
  resize?(cols: number, rows: number): void;
  cancel(): void;
}

function engineRequest(socket: string, method: string, path: string, body: unknown, extraHeaders: Record<string, string> = {}): http.ClientRequest {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = { ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) } : {}), ...extraHeaders };
  const req = http.request({ socketPath: socket, method, path, headers });
  req.end(payload);
  return req;
}

/** The engine's error message from a failed call's body (`{"message": ...}`, or plain text). */
export function engineMessage(text: string, status: number | undefined): string {
  try {
    return (JSON.parse(text) as { message: string }).message;
  } catch {
    return text || `HTTP ${status}`;
  }
}

function readText(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (d: string) => (text += d));
    res.on('end', () => resolve(text));
    res.on('error', reject);
  });
}

/** One call: the status and the body, parsed as JSON when it is JSON. */
export function callEngine(socket: string, method: string, path: string, body?: unknown): Promise<EngineResult> {
  return new Promise((resolve, reject) => {
    const req = engineRequest(socket, method, path, body);
    req.on('error', reject);
    req.on('response', (res) => {
      void readText(res).then((text) => {
        let parsed: unknown = text;
        try {
          parsed = text ? JSON.parse(text) : null;
        } catch {
          // plain text (ping, errors in text)
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      }, reject);
    });
  });
}

/** A call that must succeed: its parsed body, or an Error with the engine's message. */
export async function engineJson<T>(socket: string, method: string, path: string, body?: unknown): Promise<T> {
  const result = await callEngine(socket, method, path, body);
  if (result.status >= 400) throw new Error((result.body as { message?: string } | null)?.message ?? `HTTP ${result.status}`);
  return result.body as T;
}

/** A call whose body is wanted raw (a tar archive); fails with the engine's message. */
export function engineResponse(socket: string, method: string, path: string, body?: unknown): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = engineRequest(socket, method, path, body);
    req.on('error', reject);
    req.on('response', (res) => {
      if ((res.statusCode ?? 500) < 400) return resolve(res);
      void readText(res).then((text) => reject(new Error(engineMessage(text, res.statusCode))), reject);
    });
  });
}

/** Splits Docker's multiplexed stream (stream byte, 3 zero bytes, big-endian length, payload). */
function demultiplex(onFrame: (stream: 'stdout' | 'stderr', text: string) => void): (chunk: Buffer) => void {
  let buffered = Buffer.alloc(0);
  return (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 8) {
      const length = buffered.readUInt32BE(4);
      if (buffered.length < 8 + length) break;
      onFrame(buffered[0] === 2 ? 'stderr' : 'stdout', buffered.subarray(8, 8 + length).toString());
      buffered = buffered.subarray(8 + length);
    }
  };
}

/** A streaming call (events, logs, pull progress, stats): one `line` per line of the body. */
export function streamEngine(socket: string, method: string, path: string, body: unknown, sink: LineSink): OpenStream {
  const req = engineRequest(socket, method, path, body);
  req.on('error', (err) => sink.error(err.message));
  req.on('response', (res) => {
    if ((res.statusCode ?? 500) >= 400) {
      void readText(res).then((text) => sink.error(engineMessage(text, res.statusCode)));
      return;
    }
    const multiplexed = res.headers['content-type'] === 'application/vnd.docker.multiplexed-stream';
    let partial = '';
    const lines = (text: string, stream?: 'stdout' | 'stderr') => {
      partial += text;
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) sink.line(line, stream);
    };
    res.on('data', multiplexed ? demultiplex((stream, text) => lines(text, stream)) : (d: Buffer) => lines(d.toString()));
    res.on('end', () => {
      if (partial) sink.line(partial);
      sink.end();
    });
  });
  return { cancel: () => req.destroy() };
}

/** An upgraded call (exec start with a TTY, attach): raw bytes both ways. */
export function hijackEngine(socket: string, path: string, body: unknown, sink: LineSink): OpenStream {
  let upgraded: Duplex | undefined;
  const req = engineRequest(socket, 'POST', path, body ?? {}, { Connection: 'Upgrade', Upgrade: 'tcp' });
  req.on('upgrade', (_res, stream, head) => {
    upgraded = stream;
    if (head.length) sink.bytes(head);
    stream.on('data', (chunk: Buffer) => sink.bytes(chunk));
    stream.on('close', () => sink.end());
    stream.on('error', () => stream.destroy());
  });
  req.on('response', (res) => void readText(res).then((text) => sink.error(engineMessage(text, res.statusCode))));
  req.on('error', (err) => sink.error(err.message));
  return {
    write: (data) => upgraded?.write(data),
    cancel: () => {
      upgraded?.destroy();
      req.destroy();
    },
  };
}
