// The host API over one WebSocket: Engine API calls and streams made on the engine socket for the
// page. Logs come demultiplexed (Docker's 8-byte frame headers removed) as lines.
import http from 'node:http';

import type { WebSocket } from 'ws';

import type { HostMessage, HostRequest } from '../../common/host-api.js';

function engineCall(socket: string, method: string, path: string, body: unknown): http.ClientRequest {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const req = http.request({ socketPath: socket, method, path, headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {} });
  req.end(payload);
  return req;
}

/** The engine's error message from a failed call's body (`{"message": ...}`, or plain text). */
function engineMessage(text: string, status: number | undefined): string {
  try {
    return (JSON.parse(text) as { message: string }).message;
  } catch {
    return text || `HTTP ${status}`;
  }
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

export function bridge(ws: WebSocket, engineSocket: string): void {
  const streams = new Map<number, http.ClientRequest>();
  const hijacked = new Map<number, import('node:stream').Duplex>();
  const send = (message: HostMessage) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
  };
  ws.on('message', (raw) => {
    let request: HostRequest;
    try {
      request = JSON.parse(raw.toString()) as HostRequest;
    } catch {
      return;
    }
    if (request.method === 'cancel') {
      streams.get(request.params.target)?.destroy();
      streams.delete(request.params.target);
      hijacked.get(request.params.target)?.destroy();
      hijacked.delete(request.params.target);
      return;
    }
    if (request.method === 'write') {
      hijacked.get(request.params.target)?.write(Buffer.from(request.params.bytes, 'base64'));
      return;
    }
    if (request.method === 'engine.hijack') {
      const { id } = request;
      const payload = JSON.stringify(request.params.body ?? {});
      const req = http.request({
        socketPath: engineSocket,
        method: 'POST',
        path: request.params.path,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload), Connection: 'Upgrade', Upgrade: 'tcp' },
      });
      req.on('upgrade', (_res, socket, head) => {
        hijacked.set(id, socket);
        if (head.length) send({ id, bytes: head.toString('base64') });
        socket.on('data', (chunk: Buffer) => send({ id, bytes: chunk.toString('base64') }));
        socket.on('close', () => {
          hijacked.delete(id);
          send({ id, end: true });
        });
        socket.on('error', () => socket.destroy());
      });
      req.on('response', (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => send({ id, error: engineMessage(text, res.statusCode) }));
      });
      req.on('error', (err) => send({ id, error: err.message }));
      req.end(payload);
      return;
    }
    const { id } = request;
    const { path } = request.params;
    const method = request.params.method ?? 'GET';
    const req = engineCall(engineSocket, method, path, request.params.body);
    req.on('error', (err) => send({ id, error: err.message }));
    if (request.method === 'engine.request') {
      req.on('response', (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : null;
          } catch {
            // plain text (ping, errors in text)
          }
          send({ id, result: { status: res.statusCode ?? 0, body } });
        });
      });
      return;
    }
    streams.set(id, req);
    req.on('response', (res) => {
      if ((res.statusCode ?? 500) >= 400) {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => send({ id, error: engineMessage(text, res.statusCode) }));
        return;
      }
      const multiplexed = res.headers['content-type'] === 'application/vnd.docker.multiplexed-stream';
      let partial = '';
      const lines = (text: string, stream?: 'stdout' | 'stderr') => {
        partial += text;
        const parts = partial.split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) send({ id, data: line, ...(stream ? { stream } : {}) });
      };
      res.on('data', multiplexed ? demultiplex((stream, text) => lines(text, stream)) : (d: Buffer) => lines(d.toString()));
      res.on('end', () => {
        if (partial) send({ id, data: partial });
        streams.delete(id);
        send({ id, end: true });
      });
    });
  });
  ws.on('close', () => {
    for (const req of streams.values()) req.destroy();
    streams.clear();
    for (const socket of hijacked.values()) socket.destroy();
    hijacked.clear();
  });
}
