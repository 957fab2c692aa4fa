// The Engine API over HTTP on a unix socket: version negotiation, routing, and dockerd's error
// convention (`{"message": ...}` with the status code the CLI expects).
import { STATUS_CODES, ServerResponse, createServer, type IncomingMessage, type Server } from 'node:http';
import { promises as fs } from 'node:fs';
import net, { type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import path from 'node:path';

import { EngineError, InvalidParameterError, errorMessage, isErrnoException } from '../util/errors.js';
import { log } from '../util/log.js';
import { MAX_JSON_BODY, RequestContext } from './context.js';
import type { Router } from './router.js';
import { splitVersion } from './version.js';

export function handleRequest(router: Router, req: IncomingMessage, res: ServerResponse, upgrade?: { socket: Duplex; head: Buffer; body?: Buffer }): void {
  const started = Date.now();
  let ctx: RequestContext | undefined;
  const run = async (): Promise<void> => {
    // Inside the promise: `GET http://[::1 HTTP/1.1` makes URL throw, which here becomes a 400
    // rather than an exception thrown out of the server's request event.
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://berthd');
    } catch {
      throw new InvalidParameterError(`invalid request URL ${JSON.stringify((req.url ?? '').slice(0, 200))}`);
    }
    const { version, path: routePath } = splitVersion(url.pathname);
    const found = router.match(req.method ?? 'GET', routePath);
    if (found === 'not-found') throw new EngineError(404, 'page not found');
    if (found === 'method-not-allowed') throw new EngineError(405, 'method not allowed');
    ctx = new RequestContext(req, res, found.params, url.searchParams, version, upgrade);
    await found.handler(ctx);
  };
  run()
    .catch((err: unknown) => {
      // The client hung up mid-request (an upload cut off, Ctrl-C): nobody is left to answer, and
      // it is not the engine's error.
      if (req.destroyed && !res.headersSent && (isErrnoException(err, 'ECONNRESET') || req.socket?.destroyed)) {
        log.debug('request abandoned by the client', { method: req.method, url: req.url, error: errorMessage(err) });
        res.destroy();
        return;
      }
      sendError(res, err);
    })
    .finally(() => log.debug('request', { method: req.method, url: req.url, status: res.statusCode, ms: Date.now() - started }));
}

function sendError(res: ServerResponse, err: unknown): void {
  const status = err instanceof EngineError ? err.statusCode : 500;
  if (!(err instanceof EngineError)) log.error('handler error', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  if (res.headersSent) {
    // A stream already started (logs, pull): the best we can do is end it.
    res.end();
    return;
  }
  const body = JSON.stringify({ message: errorMessage(err) }) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** Removes a socket file left by a crashed engine; refuses to steal one that still answers. */
async function clearStaleSocket(socketPath: string): Promise<void> {
  try {
    await fs.lstat(socketPath);
  } catch (err) {
    if (isErrnoException(err, 'ENOENT')) return;
    throw err;
  }
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`${socketPath} is in use by another engine`);
  await fs.rm(socketPath, { force: true });
}

/** `gid`: the group that shares the socket with root (--group), else root's own. */
export async function listenUnix(router: Router, socketPath: string, gid?: number): Promise<Server> {
  await fs.mkdir(path.dirname(socketPath), { recursive: true });
  await clearStaleSocket(socketPath);
  const server = createServer({ keepAliveTimeout: 0, requestTimeout: 0, headersTimeout: 60_000 }, (req, res) => handleRequest(router, req, res));
  server.on('clientError', answerClientError);
  // `Upgrade: tcp` requests (attach, exec start) skip the request handler in Node. A response
  // object bound to the socket lets errors before the switch go out as ordinary HTTP answers.
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node hands over the connection right after the headers: a JSON body (exec start's
    // {"Detach":false}) is still in `head` or on the socket, and must not reach the process's stdin.
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > MAX_JSON_BODY) {
      // The body of attach or exec start is a small JSON object; buffering a claimed 50 GB of it
      // before the switch would let one request fill the engine's memory.
      refuseUpgrade(socket, 400, `request body is too large (more than ${MAX_JSON_BODY} bytes)`);
      return;
    }
    if (length > 0) {
      void readExactly(socket, head, length).then(({ body, rest }) => dispatchUpgrade(router, req, socket, rest, body));
      return;
    }
    dispatchUpgrade(router, req, socket, head, undefined);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // The socket is the engine's front door: root and the --group only, as dockerd's.
  if (gid !== undefined) await fs.chown(socketPath, 0, gid);
  await fs.chmod(socketPath, 0o660);
  return server;
}

function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ message }) + '\n';
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/**
 * A request Node's parser refuses (a request line or headers over its 16 KB limit, bytes that are
 * not HTTP): answered with dockerd's JSON error body instead of Node's bare status line.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  refuseUpgrade(socket, tooLarge ? 431 : 400, tooLarge ? 'request line or headers too large' : `malformed HTTP request (${err.code ?? err.message})`);
}

function dispatchUpgrade(router: Router, req: IncomingMessage, socket: Duplex, head: Buffer, body: Buffer | undefined): void {
  const res = new ServerResponse(req);
  res.assignSocket(socket as Socket);
  res.on('finish', () => {
    res.detachSocket(socket as Socket);
    socket.end();
  });
  handleRequest(router, req, res, { socket, head, ...(body ? { body } : {}) });
}

/** The first `length` bytes after the headers (from `head`, then the socket), and what follows. */
async function readExactly(socket: Duplex, head: Buffer, length: number): Promise<{ body: Buffer; rest: Buffer }> {
  let buffered = head;
  while (buffered.length < length) {
    const chunk = await new Promise<Buffer | null>((resolve) => {
      const onData = (d: Buffer) => {
        cleanup();
        resolve(d);
      };
      const onEnd = () => {
        cleanup();
        resolve(null);
      };
      const cleanup = () => {
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.pause();
      };
      socket.on('data', onData);
      socket.on('end', onEnd);
      socket.resume();
    });
    if (!chunk) break;
    buffered = Buffer.concat([buffered, chunk]);
  }
  return { body: buffered.subarray(0, length), rest: buffered.subarray(length) };
}
