// BuildKit's wire from the client's side, for tests that must send what no real client sends:
// malformed messages to berthd's /grpc, and a session (/session) that serves a made-up context
// (paths that climb out, symlinks to /, a file that never ends, a client that vanishes).
// Messages are encoded with BuildKit's own .proto files and berthd's gRPC framing.
import http2 from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';

import { frame, readMessages } from '../../runtime-agent/dist/buildkit/grpc/framing.js';
import { buildkitProtos } from '../../runtime-agent/dist/buildkit/protos.js';

/** `POST <path>` with `Upgrade: h2c` on the engine's socket; resolves with the switched connection. */
export function hijack(socket: string, urlPath: string, headers: Record<string, string | string[]> = {}): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const conn = net.connect(socket);
    const lines = [`POST ${urlPath} HTTP/1.1`, 'Host: ', 'Connection: Upgrade', 'Upgrade: h2c', 'Content-Length: 0'];
    for (const [name, value] of Object.entries(headers)) for (const v of [value].flat()) lines.push(`${name}: ${v}`);
    conn.write(`${lines.join('\r\n')}\r\n\r\n`);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      conn.off('data', onData);
      // Paused until HTTP/2 takes the socket over: bytes that came meanwhile would be lost.
      conn.pause();
      const status = head.subarray(0, end).toString().split('\r\n')[0] ?? '';
      if (!/^HTTP\/1\.1 101 /.test(status)) {
        conn.destroy();
        reject(new Error(`no switch to h2c: ${head.toString()}`));
        return;
      }
      const rest = head.subarray(end + 4);
      if (rest.length) conn.unshift(rest);
      resolve(conn);
    };
    conn.on('data', onData);
    conn.once('error', reject);
  });
}

export function encode(typeName: string, message: Record<string, unknown>): Buffer {
  const type = buildkitProtos().lookupType(typeName);
  return Buffer.from(type.encode(type.fromObject(message)).finish());
}

export function decode(typeName: string, bytes: Buffer): Record<string, unknown> {
  const type = buildkitProtos().lookupType(typeName);
  return type.toObject(type.decode(bytes), { longs: Number, defaults: true }) as Record<string, unknown>;
}

export interface CallResult {
  status: number;
  message: string;
  messages: Buffer[];
}

/** A client of berthd's /grpc: one call, raw payloads in, the gRPC status and raw messages out. */
export class ControlConnection {
  private constructor(private readonly session: http2.ClientHttp2Session) {}

  static async open(socket: string): Promise<ControlConnection> {
    const conn = await hijack(socket, '/grpc');
    const session = http2.connect('http://localhost', { createConnection: () => conn as never });
    session.on('error', () => undefined);
    return new ControlConnection(session);
  }

  /** `payloads` are framed as given; `rawBody` goes out as it is (for broken framing). */
  call(method: string, payloads: Buffer[], options: { rawBody?: Buffer; metadata?: Record<string, string> } = {}): Promise<CallResult> {
    return new Promise((resolve, reject) => {
      const stream = this.session.request({ ':method': 'POST', ':path': method, 'content-type': 'application/grpc', te: 'trailers', ...options.metadata });
      let status: number | undefined;
      let message = '';
      const take = (headers: http2.IncomingHttpHeaders) => {
        if (headers['grpc-status'] === undefined) return;
        status = Number(headers['grpc-status']);
        message = decodeURIComponent(String(headers['grpc-message'] ?? ''));
      };
      stream.on('response', take);
      stream.on('trailers', take);
      stream.on('error', reject);
      const messages: Buffer[] = [];
      void (async () => {
        try {
          for await (const m of readMessages(stream)) messages.push(m);
        } catch {
          // a stream cut off: the status says why
        }
        resolve({ status: status ?? -1, message, messages });
      })();
      stream.end(options.rawBody ?? Buffer.concat(payloads.map((p) => frame(p))));
    });
  }

  close(): void {
    this.session.destroy();
  }
}

export interface FakeStat {
  path: string;
  /** Go os.FileMode bits: 0o644 for a file, 2147484141 (ModeDir|0755) for a directory, 134218239 (ModeSymlink|0777) for a symlink. */
  mode: number;
  size?: number;
  linkname?: string;
}

export const GO_DIR = 0x80000000;
export const GO_SYMLINK = 0x08000000;

/**
 * What the fake client does for one FileSync.DiffCopy: the entries it announces, and what it
 * sends when berthd asks for file `id` (by default the file's content, then the end marker).
 */
export interface FakeDirectory {
  stats: FakeStat[];
  contents?: Record<string, string>;
  /** Replaces the answer to a request for file `index` (its place among the stats). */
  onRequest?(index: number, send: (data: Buffer) => boolean, end: () => void, kill: () => void): void;
}

/**
 * A session (`POST /session`) that serves FileSync.DiffCopy from `dirs` (by the dir-name berthd
 * asks for), with fsutil's packets. Resolves once the session is connected.
 */
export async function fakeSession(socket: string, id: string, dirs: Record<string, FakeDirectory>): Promise<{ close(): void }> {
  const conn = await hijack(socket, '/session', {
    'X-Docker-Expose-Session-Uuid': id,
    'X-Docker-Expose-Session-Name': 'hostile',
    'X-Docker-Expose-Session-Sharedkey': 'hostile',
    'X-Docker-Expose-Session-Grpc-Method': ['/moby.filesync.v1.FileSync/DiffCopy', '/grpc.health.v1.Health/Check'],
  });
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const dir = dirs[String(headers['dir-name'] ?? '')];
    if (headers[':path'] !== '/moby.filesync.v1.FileSync/DiffCopy' || !dir) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'no such dir' }, { endStream: true });
      return;
    }
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    const packet = (p: Record<string, unknown>) => stream.write(frame(encode('fsutil.types.Packet', p)));
    for (const stat of dir.stats) packet({ type: 0, stat: { ...stat, modTime: 0 } });
    packet({ type: 0 });
    void (async () => {
      for await (const bytes of readMessages(stream)) {
        const p = decode('fsutil.types.Packet', bytes);
        if (p.type === 3) {
          packet({ type: 3 });
          stream.end();
          return;
        }
        if (p.type !== 1) continue;
        const index = Number(p.ID);
        const send = (data: Buffer) => packet({ type: 2, ID: index, data });
        const end = () => packet({ type: 2, ID: index });
        if (dir.onRequest) dir.onRequest(index, send, end, () => conn.destroy());
        else {
          const content = Buffer.from(dir.contents?.[dir.stats[index]?.path ?? ''] ?? '');
          if (content.length) send(content);
          end();
        }
      }
    })().catch(() => undefined);
  });
  server.emit('connection', conn);
  return { close: () => conn.destroy() };
}
