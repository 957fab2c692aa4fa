// Published ports, served by a proxy inside berthd: a listener on the host address that relays
// each TCP connection (or UDP flow) to the container's address on its bridge. Like docker-proxy,
// it makes ports work on 127.0.0.1 without touching the host's routing of loopback traffic, and a
// port already taken fails the start with dockerd's message.
import dgram from 'node:dgram';
import net from 'node:net';

import { EngineError } from '../util/errors.js';
import type { BoundPort, PortRequest } from './port-bindings.js';

const UDP_FLOW_IDLE_MS = 90_000;

export class PortBusyError extends EngineError {
  constructor(message: string) {
    super(500, message);
  }
}

interface Listener {
  bound: BoundPort;
  close(): void;
}

function listenTcp(hostIp: string, port: number, target: { ip: string; port: number }): Promise<{ port: number; close(): void }> {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    const upstream = net.connect({ host: target.ip, port: target.port, allowHalfOpen: true, noDelay: true });
    const fail = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', fail);
    upstream.on('error', fail);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: hostIp, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve({ port: (server.address() as net.AddressInfo).port, close: () => server.close() });
    });
  });
}

function listenUdp(hostIp: string, port: number, target: { ip: string; port: number }): Promise<{ port: number; close(): void }> {
  const socket = dgram.createSocket({ type: 'udp4' });
  // One upstream socket per client address, so replies find their way back.
  const flows = new Map<string, { upstream: dgram.Socket; timer: NodeJS.Timeout }>();
  const closeFlow = (key: string) => {
    const flow = flows.get(key);
    if (!flow) return;
    flows.delete(key);
    clearTimeout(flow.timer);
    flow.upstream.close();
  };
  socket.on('message', (message, remote) => {
    const key = `${remote.address}:${remote.port}`;
    let flow = flows.get(key);
    if (!flow) {
      const upstream = dgram.createSocket('udp4');
      upstream.on('message', (reply) => socket.send(reply, remote.port, remote.address));
      upstream.on('error', () => closeFlow(key));
      flow = { upstream, timer: setTimeout(() => closeFlow(key), UDP_FLOW_IDLE_MS) };
      flows.set(key, flow);
    }
    flow.timer.refresh();
    flow.upstream.send(message, target.port, target.ip);
  });
  socket.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: hostIp, port, exclusive: true }, () => {
      socket.off('error', reject);
      resolve({
        port: socket.address().port,
        close: () => {
          for (const key of [...flows.keys()]) closeFlow(key);
          socket.close();
        },
      });
    });
  });
}

export class PortProxies {
  /** "tcp/0.0.0.0/8080" -> container that holds it. */
  private readonly allocated = new Map<string, string>();
  private readonly byContainer = new Map<string, Listener[]>();

  /**
   * Opens every requested port for a container or none: on any failure the ports opened so far
   * are closed again and the error says which port, in dockerd's words.
   */
  async open(containerId: string, requests: PortRequest[], targetIp: string, fixed?: BoundPort[]): Promise<BoundPort[]> {
    const opened: Listener[] = [];
    try {
      for (const [index, request] of requests.entries()) {
        const wanted = fixed?.[index]?.hostPort;
        opened.push(await this.openOne(containerId, request, targetIp, wanted));
      }
    } catch (err) {
      for (const listener of opened) this.release(listener);
      throw err;
    }
    this.byContainer.set(containerId, [...(this.byContainer.get(containerId) ?? []), ...opened]);
    return opened.map((l) => l.bound);
  }

  private async openOne(containerId: string, request: PortRequest, targetIp: string, wantedPort?: number): Promise<Listener> {
    if (request.proto === 'sctp') throw new PortBusyError('SCTP ports cannot be published by this engine');
    const [first, last] = wantedPort ? [wantedPort, wantedPort] : request.hostPorts;
    const listen = request.proto === 'udp' ? listenUdp : listenTcp;
    let lastError: unknown;
    for (let port = first; port <= last; port++) {
      const key = `${request.proto}/${request.hostIp}/${port}`;
      if (port !== 0 && this.allocated.has(key)) {
        lastError = new PortBusyError(`Bind for ${request.hostIp}:${port} failed: port is already allocated`);
        continue;
      }
      try {
        const handle = await listen(request.hostIp, port, { ip: targetIp, port: request.containerPort });
        const bound: BoundPort = { proto: request.proto, containerPort: request.containerPort, hostIp: request.hostIp, hostPort: handle.port };
        this.allocated.set(`${request.proto}/${request.hostIp}/${handle.port}`, containerId);
        return { bound, close: handle.close };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const reason = code === 'EADDRINUSE' ? 'address already in use' : code === 'EADDRNOTAVAIL' ? 'cannot assign requested address' : (err as Error).message;
        lastError = new PortBusyError(`Error starting userland proxy: listen ${request.proto}4 ${request.hostIp}:${port}: bind: ${reason}`);
      }
    }
    throw lastError;
  }

  private release(listener: Listener): void {
    listener.close();
    this.allocated.delete(`${listener.bound.proto}/${listener.bound.hostIp}/${listener.bound.hostPort}`);
  }

  close(containerId: string): void {
    for (const listener of this.byContainer.get(containerId) ?? []) this.release(listener);
    this.byContainer.delete(containerId);
  }

  closeAll(): void {
    for (const id of [...this.byContainer.keys()]) this.close(id);
  }
}
