// Names on user-defined networks, for the embedded DNS server: a container's name, its aliases
// and short ID resolve to its address on every network it shares with the asking container
// (`name` and `name.network`), and addresses resolve back to `name.network`.
import { parseLink, type ContainerRecord } from '../vocabulary/container-record.js';
import { isRunning, type ContainerDirectory } from './container-directory.js';
import { hostNameservers, type NameLookup } from './dns-server.js';
import type { NetworkStore } from './network-store.js';

export class NameResolution implements NameLookup {
  constructor(
    private readonly store: NetworkStore,
    private readonly containers: ContainerDirectory,
  ) {}

  addresses(clientIp: string, name: string): string[] | undefined {
    const client = this.containerAt(clientIp);
    if (!client) return undefined;
    const addresses: string[] = [];
    // A legacy link on a user-defined network is an alias only the linking container resolves.
    const linked = (client.record.HostConfig.Links ?? []).map(parseLink).find((l) => l.alias.toLowerCase() === name);
    const wanted = linked ? linked.child.slice(1).toLowerCase() : name;
    for (const record of this.containers.all()) {
      if (!isRunning(record)) continue;
      for (const endpoint of Object.values(record.NetworkSettings?.Networks ?? {})) {
        if (!endpoint.IPAddress || !client.networks.includes(endpoint.NetworkID)) continue;
        const network = this.store.find(endpoint.NetworkID);
        if (!network || network.Name === 'bridge') continue;
        const names = [record.Name.slice(1), ...(endpoint.Aliases ?? [])].map((n) => n.toLowerCase());
        if (names.includes(wanted) || names.some((n) => `${n}.${network.Name.toLowerCase()}` === wanted)) addresses.push(endpoint.IPAddress);
      }
    }
    return addresses.length ? addresses : undefined;
  }

  reverse(clientIp: string, ip: string): string | undefined {
    const client = this.containerAt(clientIp);
    if (!client) return undefined;
    for (const record of this.containers.all()) {
      if (!isRunning(record)) continue;
      for (const endpoint of Object.values(record.NetworkSettings?.Networks ?? {})) {
        if (endpoint.IPAddress !== ip || !client.networks.includes(endpoint.NetworkID)) continue;
        const network = this.store.find(endpoint.NetworkID);
        if (network && network.Name !== 'bridge') return `${record.Name.slice(1)}.${network.Name}`;
      }
    }
    return undefined;
  }

  /** Other names go to the container's --dns servers, else the host's. */
  upstreams(clientIp: string): string[] {
    const dns = this.containerAt(clientIp)?.record.HostConfig.Dns as string[] | undefined;
    return dns?.length ? dns : hostNameservers();
  }

  private containerAt(ip: string): { record: ContainerRecord; networks: string[] } | undefined {
    for (const record of this.containers.all()) {
      if (!isRunning(record)) continue;
      const endpoints = Object.values(record.NetworkSettings?.Networks ?? {});
      if (endpoints.some((e) => e.IPAddress === ip)) return { record, networks: endpoints.filter((e) => e.EndpointID).map((e) => e.NetworkID) };
    }
    return undefined;
  }
}
