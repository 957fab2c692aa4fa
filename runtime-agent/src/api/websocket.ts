// A WebSocket over a hijacked request (GET /containers/{id}/attach/ws), as a Duplex stream the
// attach bridge can use like any client connection. API 1.42 and later get binary frames, older
// clients text frames, as dockerd sends them.
import type { IncomingMessage } from 'node:http';
import { Duplex } from 'node:stream';

import type { WebSocket, WebSocketServer } from 'ws';

// Loaded on the first WebSocket attach: ws brings node:https and node:tls, which berthd's start
// would otherwise compile (slow in the guest under an emulated CPU) for a request few clients make.
let server: Promise<WebSocketServer> | undefined;
const webSocketServer = () => (server ??= import('ws').then((ws) => new ws.WebSocketServer({ noServer: true })));

export async function acceptWebSocket(req: IncomingMessage, upgrade: { socket: Duplex; head: Buffer }, binary: boolean): Promise<Duplex> {
  const wss = await webSocketServer();
  return new Promise((resolve) => {
    wss.handleUpgrade(req, upgrade.socket as never, upgrade.head, (ws) => resolve(webSocketStream(ws, binary)));
  });
}

function webSocketStream(ws: WebSocket, binary: boolean): Duplex {
  const stream = new Duplex({
    read() {
      ws.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      if (ws.readyState !== ws.OPEN) return callback();
      ws.send(binary ? chunk : chunk.toString('utf8'), { binary }, (err) => callback(err ?? null));
    },
    final(callback) {
      ws.close(1000);
      callback();
    },
    destroy(err, callback) {
      ws.terminate();
      callback(err);
    },
  });
  ws.on('message', (data: Buffer) => {
    if (!stream.push(data)) ws.pause();
  });
  ws.on('close', () => {
    stream.push(null);
    stream.destroy();
  });
  ws.on('error', (err) => stream.destroy(err));
  return stream;
}
