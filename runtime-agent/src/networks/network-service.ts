// Networks: the predefined bridge, host and none, and user-defined bridges: create, inspect, list,
// remove, prune. What containers need of them is in container-networking.ts (addresses, veths,
// ports, /etc files), names in name-resolution.ts, the host's devices and rules in plumbing.ts.
import { randomBytes } from 'node:crypto';
import path from 'node:path';

import type { EventBus } from '../events/event-bus.js';
import { ConflictError, ForbiddenError, InvalidParameterError, NotFoundError } from '../util/errors.js';
import type { Filters } from '../util/filters.js';
import { log } from '../util/log.js';
import type { ContainerRecord } from '../vocabulary/container-record.js';
import {
  BRIDGE_NAME_OPTION, HOST_BINDING_OPTION, ICC_OPTION, MASQUERADE_OPTION, MTU_OPTION, PREDEFINED_NETWORKS,
  bridgeName, type EndpointSettings, type NetworkRecord,
} from '../vocabulary/network-record.js';
import { Addresses } from './addresses.js';
import { isRunning, type ContainerDirectory } from './container-directory.js';
import { ContainerNetworking, type NetworkSetup } from './container-networking.js';
import { DEFAULT_MTU } from './endpoints.js';
import { ensureIpForwarding, type IpForwardingOptions } from './ip-forwarding.js';
import { formatSubnet, intToIp, overlaps, parseSubnet, poolConfig } from './ipam.js';
import { linkExists } from './links.js';
import { NameResolution } from './name-resolution.js';
import { NetworkStore } from './network-store.js';
import { NetworkPlumbing } from './plumbing.js';

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export interface NetworkOptions {
  /** Device name of the default bridge network (dockerd's docker0). */
  bridge: string;
  /** --bip: the default bridge's gateway address and subnet, e.g. 172.17.0.1/16. */
  bridgeIp?: string;
  /** --ip-forward and --ip-forward-no-drop. */
  ipForwarding: IpForwardingOptions;
}

export interface NetworkCreateRequest {
  Name?: unknown;
  Driver?: string;
  Internal?: boolean;
  Attachable?: boolean;
  EnableIPv6?: boolean;
  IPAM?: { Driver?: string; Config?: { Subnet?: string; Gateway?: string; IPRange?: string }[] | null; Options?: Record<string, string> | null };
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
  CheckDuplicate?: boolean;
}

export class NetworkService {
  readonly store: NetworkStore;
  private readonly addresses: Addresses;
  private readonly plumbing: NetworkPlumbing;
  private readonly attachments: ContainerNetworking;

  constructor(
    dataRoot: string,
    private readonly events: EventBus,
    private readonly options: NetworkOptions,
    /** The container records (the container store), which endpoints and DNS names come from. */
    private readonly containers: ContainerDirectory,
  ) {
    this.store = new NetworkStore(path.join(dataRoot, 'networks'));
    this.addresses = new Addresses(this.store, containers);
    this.plumbing = new NetworkPlumbing(options.bridge, new NameResolution(this.store, containers), this.addresses, () => this.bridgeNetworks());
    this.attachments = new ContainerNetworking(this.store, containers, this.addresses, this.plumbing, events);
  }

  async init(): Promise<void> {
    await this.store.init();
    await this.ensurePredefined();
    await ensureIpForwarding(this.options.ipForwarding).catch((err: unknown) => log.error('could not enable IPv4 forwarding: containers reach the host only', { error: String(err) }));
    await this.plumbing.syncDevices().catch((err: unknown) => log.error('network plumbing incomplete: containers may not reach each other or the outside', { error: String(err) }));
    // Containers that ran on while berthd was down: their addresses, and their published ports on the same host ports.
    for (const record of this.containers.all().filter(isRunning)) {
      await this.attachments.restore(record).catch((err: unknown) => log.warn('could not restore published ports', { id: record.Id, error: String(err) }));
    }
    // Once for the networks and every restored port. Without a working firewall containers still
    // run and reach each other; say so loudly.
    await this.plumbing.applyFirewall().catch((err: unknown) => log.error('firewall rules not written: published ports go through the proxy only, and outbound NAT may not work', { error: String(err) }));
  }

  /** On shutdown: stop listening; with nothing running, remove bridges and firewall chains too. */
  async close(): Promise<void> {
    const inUse = this.containers.all().some((c) => isRunning(c) || c.State.Status === 'restarting');
    await this.plumbing.close(!inUse);
  }

  // ---- what containers need ----

  /** What `host-gateway` stands for in --add-host: the default bridge's gateway. */
  hostGatewayIp(): string {
    return this.attachments.hostGatewayIp();
  }

  endpointsForCreate(hostConfig: ContainerRecord['HostConfig'], networkingConfig: unknown, macAddress: string | undefined): ContainerRecord['NetworkSettings'] {
    return this.attachments.endpointsForCreate(hostConfig, networkingConfig, macAddress);
  }

  setup(record: ContainerRecord, linkHosts: string[] = []): Promise<NetworkSetup> {
    return this.attachments.setup(record, linkHosts);
  }

  release(record: ContainerRecord): Promise<void> {
    return this.attachments.release(record);
  }

  connect(idOrName: string, body: { Container?: string; EndpointConfig?: Partial<EndpointSettings> | null }): Promise<void> {
    return this.attachments.connect(this.store.get(idOrName), body);
  }

  disconnect(idOrName: string, body: { Container?: string; Force?: boolean }): Promise<void> {
    return this.attachments.disconnect(this.store.get(idOrName), body);
  }

  // ---- the network API ----

  async create(body: NetworkCreateRequest): Promise<{ Id: string; Warning: string }> {
    if (typeof body.Name !== 'string' || body.Name === '') throw new InvalidParameterError('network name cannot be empty');
    const name = body.Name;
    if (!NAME_RE.test(name)) throw new InvalidParameterError(`invalid network name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    if (this.store.byName(name)) throw new ConflictError(`network with name ${name} already exists`);
    const driver = body.Driver || 'bridge';
    if (driver === 'host' || driver === 'null') throw new ForbiddenError(`only one instance of "${driver}" network is allowed`);
    if (driver !== 'bridge') throw new NotFoundError(`plugin "${driver}" not found`);
    if (body.EnableIPv6) throw new InvalidParameterError('IPv6 networks are not supported by this engine');
    if (body.IPAM?.Driver && body.IPAM.Driver !== 'default') throw new NotFoundError(`plugin "${body.IPAM.Driver}" not found`);
    const options = { ...(body.Options ?? {}) };
    const requested = body.IPAM?.Config ?? [];
    if (requested.length > 1) throw new InvalidParameterError('only one IPv4 subnet per network is supported');
    const others = this.bridgeNetworks().map((n) => parseSubnet(n.IPAM.Config[0]!.Subnet));
    let config: NetworkRecord['IPAM']['Config'];
    const first = requested[0];
    if (first?.Subnet) {
      const pool = poolConfig({ Subnet: first.Subnet, ...(first.Gateway ? { Gateway: first.Gateway } : {}), ...(first.IPRange ? { IPRange: first.IPRange } : {}) });
      if (others.some((o) => overlaps(o, pool.subnet))) throw new ForbiddenError('Pool overlaps with other one on this address space');
      config = [{ Subnet: formatSubnet(pool.subnet), Gateway: intToIp(pool.gateway), ...(first.IPRange ? { IPRange: formatSubnet(pool.range) } : {}) }];
    } else {
      if (first?.Gateway || first?.IPRange) throw new InvalidParameterError('a gateway or ip-range needs a subnet (--subnet)');
      const subnet = this.addresses.freeSubnet();
      config = [{ Subnet: formatSubnet(subnet), Gateway: intToIp(subnet.base + 1) }];
    }
    const record = this.newRecord(name, 'bridge', {
      config,
      options,
      labels: body.Labels ?? {},
      internal: Boolean(body.Internal),
      attachable: Boolean(body.Attachable),
      ipamOptions: body.IPAM?.Options ?? null,
    });
    const device = bridgeName(record);
    if (device.length > 15) throw new InvalidParameterError(`bridge name ${device} is longer than 15 characters`);
    if (this.bridgeNetworks().some((n) => bridgeName(n) === device) || (options[BRIDGE_NAME_OPTION] && (await linkExists(device)))) {
      throw new ConflictError(`bridge name ${device} is already in use`);
    }
    const mtu = Number(options[MTU_OPTION] ?? DEFAULT_MTU);
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new InvalidParameterError(`invalid MTU ${options[MTU_OPTION]}`);
    await this.store.save(record);
    try {
      await this.plumbing.sync();
    } catch (err) {
      await this.store.delete(record.Id);
      await this.plumbing.undo(record);
      throw err;
    }
    this.events.publish('network', 'create', record.Id, { name, type: 'bridge' });
    return { Id: record.Id, Warning: '' };
  }

  async remove(idOrName: string): Promise<void> {
    const network = this.store.get(idOrName);
    if ((PREDEFINED_NETWORKS as readonly string[]).includes(network.Name)) throw new ForbiddenError(`${network.Name} is a pre-defined network and cannot be removed`);
    if (this.endpointsOn(network).length) throw new ForbiddenError(`error while removing network: network ${network.Name} id ${network.Id} has active endpoints`);
    await this.store.delete(network.Id);
    this.addresses.forget(network.Id);
    await this.plumbing.remove(network);
    this.events.publish('network', 'destroy', network.Id, { name: network.Name, type: network.Driver });
  }

  async prune(filters: Filters): Promise<string[]> {
    const until = filters.until();
    const deleted: string[] = [];
    for (const network of this.store.all()) {
      if ((PREDEFINED_NETWORKS as readonly string[]).includes(network.Name) || this.endpointsOn(network).length) continue;
      if (!filters.matchPruneLabels(network.Labels)) continue;
      if (until !== undefined && Date.parse(network.Created) > until) continue;
      await this.remove(network.Id);
      deleted.push(network.Name);
    }
    return deleted;
  }

  list(filters: Filters): Record<string, unknown>[] {
    return this.store.all()
      .filter((n) => {
        const builtin = (PREDEFINED_NETWORKS as readonly string[]).includes(n.Name);
        if (filters.has('driver') && !filters.get('driver').includes(n.Driver)) return false;
        if (filters.has('id') && !filters.get('id').some((id) => n.Id.startsWith(id))) return false;
        if (filters.has('name') && !filters.get('name').some((name) => n.Name.includes(name))) return false;
        if (filters.has('scope') && !filters.get('scope').includes('local')) return false;
        if (filters.has('type') && !filters.get('type').some((t) => (t === 'builtin') === builtin)) return false;
        const dangling = filters.bool('dangling');
        if (dangling !== undefined && dangling !== (!builtin && this.endpointsOn(n).length === 0)) return false;
        return filters.matchLabels('label', n.Labels);
      })
      .sort((a, b) => a.Created.localeCompare(b.Created))
      .map((n) => this.inspect(n));
  }

  inspect(network: NetworkRecord): Record<string, unknown> {
    const containers: Record<string, unknown> = {};
    for (const [record, endpoint] of this.endpointsOn(network)) {
      containers[record.Id] = { Name: record.Name.slice(1), EndpointID: endpoint.EndpointID, MacAddress: endpoint.MacAddress, IPv4Address: endpoint.IPAddress ? `${endpoint.IPAddress}/${endpoint.IPPrefixLen}` : '', IPv6Address: '' };
    }
    return { ...network, Containers: containers };
  }

  /** Running containers with an endpoint on the network. */
  private endpointsOn(network: NetworkRecord): [ContainerRecord, EndpointSettings][] {
    const result: [ContainerRecord, EndpointSettings][] = [];
    for (const record of this.containers.all()) {
      if (!isRunning(record)) continue;
      const endpoint = Object.values(record.NetworkSettings?.Networks ?? {}).find((e) => e.NetworkID === network.Id && e.EndpointID);
      if (endpoint) result.push([record, endpoint]);
    }
    return result;
  }

  private async ensurePredefined(): Promise<void> {
    const existing = (name: string) => this.store.byName(name);
    if (!existing('bridge')) {
      const subnet = this.options.bridgeIp ? parseSubnet(this.options.bridgeIp) : this.addresses.freeSubnet();
      const gateway = this.options.bridgeIp ? this.options.bridgeIp.split('/')[0]! : intToIp(subnet.base + 1);
      await this.store.save(this.newRecord('bridge', 'bridge', {
        config: [{ Subnet: formatSubnet(subnet), Gateway: gateway }],
        options: { [BRIDGE_NAME_OPTION]: this.options.bridge, [ICC_OPTION]: 'true', [MASQUERADE_OPTION]: 'true', [HOST_BINDING_OPTION]: '0.0.0.0', [MTU_OPTION]: String(DEFAULT_MTU) },
      }));
    }
    if (!existing('host')) await this.store.save(this.newRecord('host', 'host', { config: [] }));
    if (!existing('none')) await this.store.save(this.newRecord('none', 'null', { config: [] }));
  }

  private newRecord(name: string, driver: NetworkRecord['Driver'], init: { config: NetworkRecord['IPAM']['Config']; options?: Record<string, string>; labels?: Record<string, string>; internal?: boolean; attachable?: boolean; ipamOptions?: Record<string, string> | null }): NetworkRecord {
    return {
      Name: name,
      Id: randomBytes(32).toString('hex'),
      Created: new Date().toISOString(),
      Scope: 'local',
      Driver: driver,
      EnableIPv6: false,
      IPAM: { Driver: 'default', Options: init.ipamOptions ?? null, Config: init.config },
      Internal: init.internal ?? false,
      Attachable: init.attachable ?? false,
      Ingress: false,
      ConfigFrom: { Network: '' },
      ConfigOnly: false,
      Options: init.options ?? {},
      Labels: init.labels ?? {},
    };
  }

  private bridgeNetworks(): NetworkRecord[] {
    return this.store.all().filter((n) => n.Driver === 'bridge');
  }
}
