// Published ports follow the containers: the engine's event stream says when a container starts
// or stops (no polling); the host then listens on the same address and port and forwards through
// the link. A port the host cannot take is reported, not fatal.
import http from 'node:http';
import type net from 'node:net';

import { servePort, type CurrentLink } from './forwarding.js';

export interface ForwardedPort {
  containerId: string;
  hostIp: string;
  hostPort: number;
  proto: string;
  /** Why the host could not listen (a busy port), if it could not. */
  error?: string;
}

interface PortBinding {
  HostIp: string;
  HostPort: string;
}

function engineRequest(socket: string, path: string): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, path, method: 'GET' }, resolve);
    req.on('error', reject);
    req.end();
  });
}

async function engineJson<T>(socket: string, path: string): Promise<T> {
  const res = await engineRequest(socket, path);
  let body = '';
  for await (const chunk of res) body += chunk;
  if (res.statusCode !== 200) throw new Error(`${path}: ${res.statusCode} ${body}`);
  return JSON.parse(body) as T;
}

export class PortForwarder {
  private readonly byContainer = new Map<string, { port: ForwardedPort; server?: net.Server }[]>();
  private events: http.IncomingMessage | undefined;
  private stopped = false;

  constructor(
    /** The engine socket as the host sees it (already forwarded). */
    private readonly engineSocket: string,
    private readonly link: CurrentLink,
  ) {}

  ports(): ForwardedPort[] {
    return [...this.byContainer.values()].flat().map((e) => e.port);
  }

  /** Follows the event stream, after forwarding what already runs. Call again after a reconnect. */
  async start(): Promise<void> {
    this.stopped = false;
    this.events?.destroy();
    const filters = encodeURIComponent(JSON.stringify({ type: ['container'], event: ['start', 'die', 'destroy'] }));
    this.events = await engineRequest(this.engineSocket, `/events?filters=${filters}`);
    let buffered = '';
    this.events.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (!line) continue;
        const event = JSON.parse(line) as { Action: string; Actor: { ID: string } };
        if (event.Action === 'start') void this.forward(event.Actor.ID);
        else this.unforward(event.Actor.ID);
      }
    });
    this.events.on('error', () => undefined);
    const running = await engineJson<{ Id: string }[]>(this.engineSocket, '/containers/json');
    for (const c of running) await this.forward(c.Id);
  }

  private async forward(id: string): Promise<void> {
    if (this.stopped || this.byContainer.has(id)) return;
    const inspect = await engineJson<{ NetworkSettings: { Ports: Record<string, PortBinding[] | null> | null } }>(this.engineSocket, `/containers/${id}/json`).catch(() => undefined);
    const entries: { port: ForwardedPort; server?: net.Server }[] = [];
    this.byContainer.set(id, entries);
    for (const [key, bindings] of Object.entries(inspect?.NetworkSettings.Ports ?? {})) {
      const proto = key.split('/')[1] ?? 'tcp';
      for (const b of bindings ?? []) {
        const port: ForwardedPort = { containerId: id, hostIp: b.HostIp || '0.0.0.0', hostPort: Number(b.HostPort), proto };
        if (proto !== 'tcp') {
          entries.push({ port: { ...port, error: 'only TCP ports are forwarded to the host' } });
          continue;
        }
        try {
          entries.push({ port, server: await servePort(port.hostIp, port.hostPort, this.link) });
        } catch (err) {
          entries.push({ port: { ...port, error: err instanceof Error ? err.message : String(err) } });
        }
      }
    }
  }

  private unforward(id: string): void {
    for (const entry of this.byContainer.get(id) ?? []) entry.server?.close();
    this.byContainer.delete(id);
  }

  stop(): void {
    this.stopped = true;
    this.events?.destroy();
    for (const id of [...this.byContainer.keys()]) this.unforward(id);
  }
}
