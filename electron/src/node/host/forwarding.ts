// Local ends of guest streams: the docker socket on the host, and host ports for the ports
// containers publish in the guest. Each new connection opens its own channel on whatever link is
// current, so a reconnect (guest restart, host wake-up) is invisible to the next connection.
import { existsSync, promises as fs } from 'node:fs';
import http from 'node:http';
import net from 'node:net';

import type { GuestLink } from '../vm/guest-link.js';

export type CurrentLink = () => GuestLink | undefined;

type GuestStream = NodeJS.ReadWriteStream & { destroy(): void };

function splice(local: net.Socket, open: () => Promise<GuestStream> | undefined): void {
  local.setNoDelay(true);
  const opening = open();
  if (!opening) return void local.destroy();
  opening.then(
    (stream) => {
      local.pipe(stream).pipe(local);
      local.on('error', () => stream.destroy());
      stream.on('error', () => local.destroy());
      stream.on('close', () => local.destroy());
    },
    () => local.destroy(),
  );
}

/** Is something answering on this unix socket? (a live engine socket of another instance) */
function socketAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/** The engine socket on the host: replaces a stale file from a crash, refuses a live one. */
export async function serveEngineSocket(localPath: string, remotePath: string, link: CurrentLink): Promise<net.Server> {
  const namedPipe = localPath.startsWith('//./pipe/');
  if (!namedPipe && existsSync(localPath)) {
    if (await socketAlive(localPath)) throw new Error(`${localPath} is served by another Berth instance`);
    await fs.rm(localPath, { force: true });
  }
  // allowHalfOpen: `docker run` half-closes its attach connection and still reads the output.
  const server = net.createServer({ allowHalfOpen: true }, (local) => splice(local, () => link()?.openStreamLocal(remotePath)));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(localPath, () => resolve());
  });
  // A named pipe's access follows the creating user's; a unix socket gets 0600 explicitly.
  if (!namedPipe) await fs.chmod(localPath, 0o600);
  return server;
}

/** A host port that forwards to the same port in the guest (where berthd publishes it). */
export async function servePort(hostIp: string, port: number, link: CurrentLink): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true }, (local) => splice(local, () => link()?.openTcp(port)));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: hostIp, port, exclusive: true }, () => resolve());
  });
  return server;
}

/** Whether the engine answers /_ping on `socket` (the host's end of the forward). */
export function pingEngine(socket: string, timeoutMs = 5000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath: socket, path: '/_ping' }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(timeoutMs, () => req.destroy());
    req.end();
  });
}

/**
 * Waits for the engine behind the forward: the guest's SSH server starts alongside the engine, so
 * the link can be up a moment before the engine listens. Throws after `timeoutMs`.
 */
export async function waitForEngine(socket: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pingEngine(socket, Math.max(deadline - Date.now(), 1)))) {
    if (Date.now() >= deadline) throw new Error(`the engine did not answer within ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
