// The embedded DNS server of user-defined networks. It listens on each network's gateway address
// (UDP and TCP port 53); containers reach it as 127.0.0.11, redirected inside their namespace.
// Names of containers, their aliases and short IDs are answered from the engine's own records;
// anything else is relayed to the host's resolvers, as dockerd's resolver does.
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';

import type dnsPacketModule from 'dns-packet';

import { log } from '../util/log.js';

const TTL = 600;
const UPSTREAM_TIMEOUT_MS = 4000;
const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;

export interface NameLookup {
  /** IPv4 addresses `name` resolves to for the container at `clientIp`; undefined if not ours. */
  addresses(clientIp: string, name: string): string[] | undefined;
  /** The container name for a reverse lookup of one of the engine's addresses. */
  reverse(clientIp: string, ip: string): string | undefined;
  /** Resolvers to relay other names to (a container's --dns, or the host's). */
  upstreams(clientIp: string): string[];
}

export function hostNameservers(): string[] {
  try {
    const servers = [...readFileSync('/etc/resolv.conf', 'utf8').matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]!);
    return servers.filter((s) => net.isIPv4(s));
  } catch {
    return [];
  }
}

type DnsPacket = typeof dnsPacketModule;

/** Loaded with the first user-defined network: an engine without one never pays for it. */
let dnsPacket: DnsPacket | undefined;
async function loadDnsPacket(): Promise<DnsPacket> {
  dnsPacket ??= (await import('dns-packet')).default;
  return dnsPacket;
}

export class EmbeddedDns {
  private readonly listeners = new Map<string, { udp: dgram.Socket; tcp: net.Server }>();

  constructor(private readonly lookup: NameLookup) {}

  /** Starts answering on `address` (a gateway); a second call for the same address is a no-op. */
  async listen(address: string): Promise<void> {
    if (this.listeners.has(address)) return;
    await loadDnsPacket();
    const udp = dgram.createSocket({ type: 'udp4' });
    udp.on('message', (message, remote) => {
      void this.answer(message, remote.address).then((reply) => {
        if (reply) udp.send(reply, remote.port, remote.address);
      });
    });
    udp.on('error', (err) => log.warn('dns socket error', { address, error: String(err) }));
    const tcp = net.createServer((socket) => this.serveTcp(socket));
    tcp.on('error', (err) => log.warn('dns socket error', { address, error: String(err) }));
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(53, address, () => resolve());
      });
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(53, address, () => resolve());
      });
    } catch (err) {
      udp.close();
      tcp.close();
      log.warn('embedded DNS not available on this network', { address, error: String(err) });
      return;
    }
    this.listeners.set(address, { udp, tcp });
  }

  close(address: string): void {
    const listener = this.listeners.get(address);
    if (!listener) return;
    this.listeners.delete(address);
    listener.udp.close();
    listener.tcp.close();
  }

  closeAll(): void {
    for (const address of [...this.listeners.keys()]) this.close(address);
  }

  private serveTcp(socket: net.Socket): void {
    let buffered = Buffer.alloc(0);
    socket.on('error', () => socket.destroy());
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < 2 + length) break;
        const message = buffered.subarray(2, 2 + length);
        buffered = buffered.subarray(2 + length);
        void this.answer(message, socket.remoteAddress?.replace(/^::ffff:/, '') ?? '').then((reply) => {
          if (!reply || socket.destroyed) return;
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(reply.length);
          socket.write(Buffer.concat([prefix, reply]));
        });
      }
    });
  }

  /** The reply to one query message, or undefined to stay silent (unparseable input). */
  async answer(message: Buffer, clientIp: string): Promise<Buffer | undefined> {
    const dnsPacket = await loadDnsPacket();
    let query: dnsPacketModule.DecodedPacket;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return undefined;
    }
    const question = query.questions?.[0];
    if (query.type !== 'query' || !question) return undefined;
    const name = question.name.replace(/\.$/, '').toLowerCase();
    const reply = (answers: dnsPacketModule.Answer[], rcode = 0): Buffer =>
      dnsPacket.encode({
        type: 'response',
        id: query.id ?? 0,
        flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | rcode,
        questions: [question],
        answers,
      });

    if (question.type === 'PTR') {
      const ip = reverseName(name);
      const found = ip ? this.lookup.reverse(clientIp, ip) : undefined;
      if (found) return reply([{ type: 'PTR', name: question.name, ttl: TTL, data: found }]);
    } else if (question.type === 'A' || question.type === 'AAAA') {
      const addresses = this.lookup.addresses(clientIp, name);
      if (addresses) {
        // Known name: its A records; AAAA gets an empty success, not NXDOMAIN, so resolvers
        // that ask both do not give up on the name.
        const answers = question.type === 'A' ? addresses.map((data) => ({ type: 'A' as const, name: question.name, ttl: TTL, data })) : [];
        return reply(answers);
      }
    }
    const relayed = await this.relay(message, this.lookup.upstreams(clientIp));
    return relayed ?? reply([], question.type === 'PTR' ? RCODE_NXDOMAIN : RCODE_SERVFAIL);
  }

  /** Asks the upstream resolvers in turn; the first answer wins. */
  private async relay(message: Buffer, upstreams: string[]): Promise<Buffer | undefined> {
    for (const server of upstreams) {
      const answer = await new Promise<Buffer | undefined>((resolve) => {
        const socket = dgram.createSocket('udp4');
        const timer = setTimeout(() => {
          socket.close();
          resolve(undefined);
        }, UPSTREAM_TIMEOUT_MS);
        socket.on('error', () => {
          clearTimeout(timer);
          socket.close();
          resolve(undefined);
        });
        socket.on('message', (data) => {
          clearTimeout(timer);
          socket.close();
          resolve(data);
        });
        socket.send(message, 53, server);
      });
      if (answer) return answer;
    }
    return undefined;
  }
}

/** "4.3.2.1.in-addr.arpa" -> "1.2.3.4" */
function reverseName(name: string): string | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\.in-addr\.arpa$/.exec(name);
  return m ? `${m[4]}.${m[3]}.${m[2]}.${m[1]}` : undefined;
}
