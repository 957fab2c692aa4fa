// Addresses of bridge networks: each network's pool, the first free default subnet for a new
// network, and which addresses running containers (and starts in progress) hold.
import { readFileSync } from 'node:fs';

import { ForbiddenError, InvalidParameterError } from '../util/errors.js';
import type { ContainerRecord } from '../vocabulary/container-record.js';
import type { NetworkRecord } from '../vocabulary/network-record.js';
import { allocate, defaultPools, ipToInt, overlaps, parseSubnet, poolConfig, type PoolConfig, type Subnet } from './ipam.js';
import type { ContainerDirectory } from './container-directory.js';
import type { NetworkStore } from './network-store.js';

export class Addresses {
  /** Addresses in use per network ID: address -> container ID. */
  private readonly reserved = new Map<string, Map<number, string>>();

  constructor(
    private readonly store: NetworkStore,
    private readonly containers: ContainerDirectory,
  ) {}

  pool(network: NetworkRecord): PoolConfig {
    const config = network.IPAM.Config[0];
    if (!config) throw new InvalidParameterError(`network ${network.Name} has no IPv4 configuration`);
    return poolConfig(config);
  }

  /** The first default pool that neither another network nor a host route uses. */
  freeSubnet(): Subnet {
    const used = [...this.store.all().filter((n) => n.Driver === 'bridge').flatMap((n) => n.IPAM.Config.map((c) => parseSubnet(c.Subnet))), ...hostRoutes()];
    for (const pool of defaultPools()) if (!used.some((u) => overlaps(u, pool))) return pool;
    throw new ForbiddenError('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
  }

  /** An address on `network` for the container: the one it asked for (`wanted`) or the next free. */
  reserve(network: NetworkRecord, record: ContainerRecord, wanted: string | undefined): number {
    const pool = this.pool(network);
    const reserved = this.on(network.Id);
    if (wanted) {
      const ip = ipToInt(wanted);
      const holder = reserved.get(ip);
      if ((holder && holder !== record.Id) || ip === pool.gateway) throw new ForbiddenError(`Address already in use`);
      reserved.set(ip, record.Id);
      return ip;
    }
    // Static addresses of other containers on this network stay theirs even while they are stopped.
    const statics = new Set(
      this.containers.all().flatMap((c) =>
        c.Id === record.Id ? [] : Object.values(c.NetworkSettings?.Networks ?? {}).filter((e) => e.NetworkID === network.Id && e.IPAMConfig?.IPv4Address).map((e) => ipToInt(e.IPAMConfig!.IPv4Address!)),
      ),
    );
    const ip = allocate(pool, new Set([...reserved.keys(), ...statics]));
    if (ip === undefined) throw new ForbiddenError(`no available IPv4 addresses on this network's address pools: ${network.Name} (${network.Id})`);
    reserved.set(ip, record.Id);
    return ip;
  }

  /** Marks an address a running container already has (after berthd restarts). */
  hold(networkId: string, ip: string, containerId: string): void {
    this.on(networkId).set(ipToInt(ip), containerId);
  }

  free(networkId: string, ip: number | string): void {
    this.on(networkId).delete(typeof ip === 'number' ? ip : ipToInt(ip));
  }

  /** A network went away. */
  forget(networkId: string): void {
    this.reserved.delete(networkId);
  }

  private on(networkId: string): Map<number, string> {
    let map = this.reserved.get(networkId);
    if (!map) this.reserved.set(networkId, (map = new Map()));
    return map;
  }
}

/** IPv4 routes of the host (to keep default subnets off networks the host already reaches). */
function hostRoutes(): Subnet[] {
  try {
    const lines = readFileSync('/proc/net/route', 'utf8').split('\n').slice(1);
    const routes: Subnet[] = [];
    for (const line of lines) {
      const [iface, destination, , , , , , maskHex] = line.trim().split(/\s+/);
      if (!iface || !destination || !maskHex || destination === '00000000') continue;
      const le = (hex: string) => Buffer.from(hex, 'hex').readUInt32LE(0);
      const prefix = le(maskHex).toString(2).replace(/0/g, '').length;
      routes.push({ base: le(destination), prefix });
    }
    return routes;
  } catch {
    return [];
  }
}
