// The host API over one channel to a page (the dashboard's WebSocket, or the Electron preload's
// IPC): Engine API calls, streams and hijacks made on the engine socket for the page, and host
// calls (status, settings, checks, the VM's lifecycle, host terminals). Everything a channel
// opened is closed with it.
import type { WebSocket } from 'ws';

import type { HostMessage, HostRequest } from '../../common/host-api.js';
import { callEngine, hijackEngine, streamEngine, type LineSink, type OpenStream } from './engine-calls.js';
import type { HostServices } from './host-services.js';

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** One page's end of the host API, whatever carries it. */
export interface HostChannel {
  send(message: HostMessage): void;
  /** Requests as they arrive, not yet checked (they come from the page). */
  onRequest(listener: (request: unknown) => void): void;
  onClose(listener: () => void): void;
}

export function webSocketChannel(ws: WebSocket): HostChannel {
  return {
    send: (message) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
    },
    onRequest: (listener) =>
      ws.on('message', (raw) => {
        try {
          listener(JSON.parse(raw.toString()));
        } catch {
          // not JSON: not a request
        }
      }),
    onClose: (listener) => ws.on('close', listener),
  };
}

export function bridge(channel: HostChannel, engineSocket: string, services: HostServices): void {
  const open = new Map<number, OpenStream>();
  const send = (msg: HostMessage) => channel.send(msg);
  const sinkFor = (id: number): LineSink => {
    // Lines that arrive in one tick go out as one message, as long as they share a stream.
    let batch: { lines: string[]; stream: 'stdout' | 'stderr' | undefined } | undefined;
    const flush = () => {
      if (!batch) return;
      send({ id, lines: batch.lines, ...(batch.stream ? { stream: batch.stream } : {}) });
      batch = undefined;
    };
    return {
      line: (text, stream) => {
        if (batch && batch.stream !== stream) flush();
        if (!batch) {
          batch = { lines: [], stream };
          setImmediate(flush);
        }
        batch.lines.push(text);
      },
      bytes: (chunk) => send({ id, bytes: chunk.toString('base64') }),
      end: () => {
        flush();
        open.delete(id);
        send({ id, end: true });
      },
      error: (error) => {
        flush();
        open.delete(id);
        send({ id, error });
      },
    };
  };

  const handle = (request: HostRequest): void => {
    const { id } = request;
    switch (request.method) {
      case 'cancel':
        open.get(request.params.target)?.cancel();
        open.delete(request.params.target);
        return;
      case 'write':
        open.get(request.params.target)?.write?.(Buffer.from(request.params.bytes, 'base64'));
        return;
      case 'engine.request':
        callEngine(engineSocket, request.params.method, request.params.path, request.params.body).then(
          (result) => send({ id, result }),
          (err: unknown) => send({ id, error: message(err) }),
        );
        return;
      case 'engine.stream':
        open.set(id, streamEngine(engineSocket, request.params.method ?? 'GET', request.params.path, request.params.body, sinkFor(id)));
        return;
      case 'engine.hijack':
        open.set(id, hijackEngine(engineSocket, request.params.path, request.params.body, sinkFor(id)));
        return;
      case 'host.call':
        if (request.params.name === 'terminal.resize') {
          const { target, cols, rows } = (request.params.args ?? {}) as { target?: number; cols?: number; rows?: number };
          if (typeof target === 'number' && Number.isInteger(cols) && Number.isInteger(rows)) open.get(target)?.resize?.(cols!, rows!);
          send({ id, result: { status: 200, body: null } });
          return;
        }
        services.call(request.params.name, request.params.args).then(
          (body) => send({ id, result: { status: 200, body } }),
          (err: unknown) => send({ id, error: message(err) }),
        );
        return;
      case 'host.stream':
        try {
          open.set(id, services.stream(request.params.name, request.params.args, sinkFor(id)));
        } catch (err) {
          send({ id, error: message(err) });
        }
        return;
      default:
        send({ id: (request as { id: number }).id, error: `unknown host API method ${JSON.stringify((request as { method: unknown }).method)}` });
    }
  };

  channel.onRequest((raw) => {
    const request = raw as HostRequest;
    if (typeof request !== 'object' || request === null || typeof request.id !== 'number' || typeof request.params !== 'object' || request.params === null) return;
    handle(request);
  });
  channel.onClose(() => {
    for (const stream of open.values()) stream.cancel();
    open.clear();
  });
}
