// What bridge networks are made of on the host: a bridge device per network, berthd's firewall
// chains, an embedded DNS listener on each user-defined network's gateway, and each container's
// published ports (a proxy listener, and DNAT rules so the kernel forwards them while it can).
import { log } from '../util/log.js';
import type { ContainerRecord } from '../vocabulary/container-record.js';
import { bridgeName, ICC_OPTION, MASQUERADE_OPTION, MTU_OPTION, type NetworkRecord } from '../vocabulary/network-record.js';
import type { Addresses } from './addresses.js';
import { EmbeddedDns, type NameLookup } from './dns-server.js';
import { DEFAULT_MTU } from './endpoints.js';
import { Firewall, type ForwardedPort } from './firewall.js';
import { formatSubnet, intToIp } from './ipam.js';
import { deleteLink, ensureBridge } from './links.js';
import type { BoundPort, PortRequest } from './port-bindings.js';
import { PortProxies } from './port-proxy.js';

export class NetworkPlumbing {
  private readonly firewall: Firewall;
  private readonly dns: EmbeddedDns;
  private readonly proxies = new PortProxies();
  /** Published ports the kernel forwards (DNAT), per container; the proxies stay as reservation and fallback. */
  private readonly forwarded = new Map<string, ForwardedPort[]>();

  constructor(
    defaultBridge: string,
    names: NameLookup,
    private readonly addresses: Addresses,
    /** The bridge networks there are now. */
    private readonly networks: () => NetworkRecord[],
  ) {
    this.firewall = new Firewall(defaultBridge);
    this.dns = new EmbeddedDns(names);
  }

  /** Bridges, firewall chains and DNS listeners for every bridge network. */
  async sync(): Promise<void> {
    await this.syncDevices();
    await this.applyFirewall();
  }

  /** Bridges and DNS listeners for every bridge network (the firewall is the caller's to apply). */
  async syncDevices(): Promise<void> {
    for (const network of this.networks()) {
      const pool = this.addresses.pool(network);
      await ensureBridge(bridgeName(network), `${intToIp(pool.gateway)}/${pool.subnet.prefix}`, Number(network.Options[MTU_OPTION] ?? DEFAULT_MTU));
      if (network.Name !== 'bridge') await this.dns.listen(intToIp(pool.gateway));
    }
  }

  /** A network is gone: its DNS listener, bridge and rules. */
  async remove(network: NetworkRecord): Promise<void> {
    this.dns.close(intToIp(this.addresses.pool(network).gateway));
    await deleteLink(bridgeName(network));
    await this.applyFirewall();
  }

  /** A network that could not be made: whatever of it exists, without failing again. */
  async undo(network: NetworkRecord): Promise<void> {
    await deleteLink(bridgeName(network)).catch(() => undefined);
    await this.applyFirewall().catch(() => undefined);
  }

  /** Rewrites berthd's chains from the bridge networks and the forwarded ports. */
  async applyFirewall(): Promise<void> {
    const networks = this.networks().map((n) => ({
      bridge: bridgeName(n),
      subnet: formatSubnet(this.addresses.pool(n).subnet),
      internal: n.Internal,
      icc: n.Options[ICC_OPTION] !== 'false',
      masquerade: n.Options[MASQUERADE_OPTION] !== 'false',
    }));
    await this.firewall.apply(networks, [...this.forwarded.values()].flat());
  }

  /**
   * Publishes a container's ports on `network` at `containerIp`: listeners first (a busy port fails
   * here), then DNAT rules, faster than any proxy and working while berthd is down. If the rules
   * cannot be written, the proxy carries the traffic. `restore`: after berthd restarts, the host
   * ports it had, and the rules are written once for all containers (applyFirewall).
   */
  async publish(record: ContainerRecord, network: NetworkRecord, containerIp: string, requests: PortRequest[], restore?: BoundPort[]): Promise<BoundPort[]> {
    const bound = await this.proxies.open(record.Id, requests, containerIp, restore);
    const ports = bound
      .filter((b): b is BoundPort & { proto: 'tcp' | 'udp' } => b.proto === 'tcp' || b.proto === 'udp')
      .map((b) => ({ proto: b.proto, hostIp: b.hostIp, hostPort: b.hostPort, containerIp, containerPort: b.containerPort, bridge: bridgeName(network) }));
    if (ports.length && !network.Internal) {
      this.forwarded.set(record.Id, ports);
      if (!restore) await this.applyFirewall().catch((err: unknown) => log.warn('published ports go through the proxy only', { id: record.Id, error: String(err) }));
    }
    return bound;
  }

  async unpublish(containerId: string): Promise<void> {
    this.proxies.close(containerId);
    if (!this.forwarded.delete(containerId)) return;
    await this.applyFirewall().catch((err: unknown) => log.warn('firewall rules for published ports not removed', { id: containerId, error: String(err) }));
  }

  /** berthd stops: listeners close; with nothing running, bridges and chains go too. */
  async close(removeAll: boolean): Promise<void> {
    this.proxies.closeAll();
    this.dns.closeAll();
    if (!removeAll) return;
    for (const network of this.networks()) await deleteLink(bridgeName(network)).catch((err: unknown) => log.warn('bridge not removed', { error: String(err) }));
    await this.firewall.remove().catch((err: unknown) => log.warn('firewall chains not removed', { error: String(err) }));
  }
}
