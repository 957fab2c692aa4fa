// `berth dashboard`: the renderer served on 127.0.0.1 behind a random token, and the host API
// bridged over a WebSocket at /api. The first request carries the token in the URL and gets it as
// a strict, HTTP-only cookie; any request with neither is refused, and so is a WebSocket opened
// by a page of another origin. /diagnostics streams the Troubleshoot page's bundle.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { WebSocketServer } from 'ws';

import type { VmControl } from '../host/agent-process.js';
import { diagnosticsFileName } from '../host/diagnostics.js';
import { berthPaths, type BerthPaths } from '../host/paths.js';
import { bridge, webSocketChannel, type HostChannel } from './bridge.js';
import { createHostServices } from './host-services.js';

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png', '.json': 'application/json' };

export interface Dashboard {
  url: string;
  /** Serves the host API on another channel too (the Electron window's IPC). */
  attach(channel: HostChannel): void;
  close(): void;
}

export interface DashboardOptions {
  engineSocket: string;
  rendererDir: string;
  port?: number;
  /** Berth's VM behind the engine socket; without it the dashboard manages no VM (--host). */
  vm?: VmControl;
  paths?: BerthPaths;
}

export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const services = createHostServices({ engineSocket: options.engineSocket, paths: options.paths ?? berthPaths(), ...(options.vm ? { vm: options.vm } : {}) });
  const token = randomBytes(16).toString('hex');
  const matches = (given: string | undefined) => Boolean(given) && given!.length === token.length && timingSafeEqual(Buffer.from(given!), Buffer.from(token));
  const authorized = (req: http.IncomingMessage, url: URL) => matches(url.searchParams.get('token') ?? undefined) || matches(/(?:^|;\s*)berth_token=([0-9a-f]+)/.exec(req.headers.cookie ?? '')?.[1]);

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (!authorized(req, url)) {
      res.writeHead(403, { 'Content-Type': 'text/plain' }).end('Berth dashboard: open the URL that `berth dashboard` printed (it carries the access token).\n');
      return;
    }
    const headers: Record<string, string> = {
      'Set-Cookie': `berth_token=${token}; HttpOnly; SameSite=Strict; Path=/`,
      'Content-Security-Policy': "default-src 'self'; connect-src 'self' ws://127.0.0.1:*; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
      'X-Content-Type-Options': 'nosniff',
    };
    if (url.pathname === '/diagnostics') {
      res.writeHead(200, { ...headers, 'Content-Type': 'application/gzip', 'Content-Disposition': `attachment; filename="${diagnosticsFileName()}"` });
      await services.diagnostics(res).catch(() => res.destroy());
      return;
    }
    const relative = path.posix.normalize(url.pathname).replace(/^\/+/, '') || 'index.html';
    const file = path.join(options.rendererDir, relative);
    const inside = file.startsWith(path.resolve(options.rendererDir) + path.sep);
    const body = inside ? await fs.readFile(file).catch(() => undefined) : undefined;
    // Client-side routes fall back to the app itself.
    const served = body ?? (await fs.readFile(path.join(options.rendererDir, 'index.html')));
    res.writeHead(200, { ...headers, 'Content-Type': TYPES[path.extname(body ? file : 'index.html')] ?? 'application/octet-stream' }).end(served);
  });

  const sockets = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const sameOrigin = req.headers.origin === `http://${req.headers.host}` && /^127\.0\.0\.1:\d+$/.test(req.headers.host ?? '');
    if (url.pathname !== '/api' || !authorized(req, url) || !sameOrigin) {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    sockets.handleUpgrade(req, socket, head, (ws) => bridge(webSocketChannel(ws), options.engineSocket, services));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    attach: (channel) => bridge(channel, options.engineSocket, services),
    close: () => {
      // Open pages and kept-alive connections would hold the server open until they time out.
      for (const client of sockets.clients) client.terminate();
      sockets.close();
      server.close();
      server.closeAllConnections();
    },
  };
}
