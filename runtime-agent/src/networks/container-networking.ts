// What a container needs of its networks: endpoints checked at create; at start an address on
// each bridge network, veths into its namespace, published ports, the embedded DNS and its /etc
// files; at stop all of it given back; `network connect` and `disconnect` while it runs.
import { promises as fs } from 'node:fs';
import path from 'node:path';

import type { EventBus } from '../events/event-bus.js';
import { runCommand } from '../util/command.js';
import { ConflictError, EngineError, ForbiddenError, InvalidParameterError, NotFoundError } from '../util/errors.js';
import type { ContainerRecord } from '../vocabulary/container-record.js';
import { emptyEndpoint, HOST_BINDING_OPTION, type EndpointSettings, type NetworkRecord } from '../vocabulary/network-record.js';
import type { Addresses } from './addresses.js';
import { isRunning, type ContainerDirectory } from './container-directory.js';
import { assignEndpoint, checkEndpointConfig, isUserDefined, vethName, wireAssignedEndpoint } from './endpoints.js';
import { hostsFile, resolvConf } from './etc-files.js';
import { intToIp } from './ipam.js';
import { deleteLink, redirectDns } from './links.js';
import type { NetworkStore } from './network-store.js';
import type { NetworkPlumbing } from './plumbing.js';
import { portMap, portRequests, validatePortBindings } from './port-bindings.js';

/** What a container's start gets from the network layer. */
export interface NetworkSetup {
  /** How the spec's network namespace is set: a new one, the host's, or another container's. */
  namespace: { kind: 'new' } | { kind: 'host' } | { kind: 'join'; path: string };
  sysctls: Record<string, string>;
  /** Paths of the container's /etc/hosts, /etc/resolv.conf and /etc/hostname. */
  etcFiles: { hostname: string; hosts: string; resolvConf: string };
  /** Wires the namespace once the container's first process exists (between create and start). */
  wire(pid: number): Promise<void>;
}

interface Attachment {
  network: NetworkRecord;
  endpoint: EndpointSettings;
  ip: number;
}

export class ContainerNetworking {
  constructor(
    private readonly store: NetworkStore,
    private readonly containers: ContainerDirectory,
    private readonly addresses: Addresses,
    private readonly plumbing: NetworkPlumbing,
    private readonly events: EventBus,
  ) {}

  /**
   * The container's networks as it is created: NetworkMode and NetworkingConfig checked the way
   * dockerd checks them, turned into the endpoints kept in NetworkSettings.
   */
  endpointsForCreate(hostConfig: ContainerRecord['HostConfig'], networkingConfig: unknown, macAddress: string | undefined): ContainerRecord['NetworkSettings'] {
    validatePortBindings(hostConfig.PortBindings as never);
    const mode = hostConfig.NetworkMode || 'default';
    const endpointsConfig = ((networkingConfig as { EndpointsConfig?: Record<string, Partial<EndpointSettings> | null> } | undefined)?.EndpointsConfig ?? {}) as Record<string, Partial<EndpointSettings> | null>;
    if (mode.startsWith('container:')) {
      const target = mode.slice('container:'.length);
      if (!this.containers.find(target)) throw new NotFoundError(`No such container: ${target}`);
      if (Object.keys(hostConfig.PortBindings ?? {}).length) throw new InvalidParameterError('conflicting options: port publishing and the container type network mode');
      return { Networks: {} };
    }
    const network = this.store.get(mode === 'default' ? 'bridge' : mode);
    const networks: Record<string, EndpointSettings> = {};
    const entries = Object.entries(endpointsConfig).length ? Object.entries(endpointsConfig) : [[mode, null] as [string, null]];
    for (const [key, config] of entries) {
      const target = key === mode || key === 'default' ? network : this.store.get(key);
      checkEndpointConfig(target, isUserDefined(target) ? this.addresses.pool(target) : undefined, config);
      networks[target.Name] = emptyEndpoint(target.Id, { ...(config ?? {}), ...(macAddress && target === network ? { MacAddress: macAddress } : {}) });
    }
    if ((network.Driver === 'host' || network.Driver === 'null') && Object.keys(networks).length > 1) {
      throw new InvalidParameterError(`container cannot be connected to multiple networks with one of the networks in ${network.Name} mode`);
    }
    return { Networks: networks };
  }

  /** `linkHosts`: "name:address" lines legacy links add to /etc/hosts. */
  async setup(record: ContainerRecord, linkHosts: string[] = []): Promise<NetworkSetup> {
    const dir = this.containers.dir(record.Id);
    const files = { hostname: path.join(dir, 'hostname'), hosts: path.join(dir, 'hosts'), resolvConf: path.join(dir, 'resolv.conf') };
    const hc = record.HostConfig;
    const mode = hc.NetworkMode || 'default';
    const hostResolv = await fs.readFile('/etc/resolv.conf', 'utf8').catch(() => '');
    const extraHosts = [...((hc.ExtraHosts as string[] | undefined) ?? []).map((entry) => this.resolveExtraHost(entry)), ...linkHosts];

    if (mode.startsWith('container:')) {
      const target = this.containers.get(mode.slice('container:'.length));
      if (!isRunning(target)) throw new ConflictError(`cannot join network of a non running container: ${target.Id}`);
      const targetDir = this.containers.dir(target.Id);
      return {
        namespace: { kind: 'join', path: `/proc/${target.State.Pid}/ns/net` },
        sysctls: {},
        etcFiles: { hostname: path.join(targetDir, 'hostname'), hosts: path.join(targetDir, 'hosts'), resolvConf: path.join(targetDir, 'resolv.conf') },
        wire: async () => undefined,
      };
    }

    await fs.writeFile(files.hostname, `${record.Config.Hostname}\n`);
    if (mode === 'host') {
      const hostHosts = await fs.readFile('/etc/hosts', 'utf8').catch(() => '');
      await fs.writeFile(files.hosts, hostHosts + extraHosts.map((e) => `${e.slice(e.indexOf(':') + 1)}\t${e.slice(0, e.indexOf(':'))}\n`).join(''));
      await fs.writeFile(files.resolvConf, hostResolv);
      return { namespace: { kind: 'host' }, sysctls: {}, etcFiles: files, wire: async () => undefined };
    }

    const attached = this.reserveAll(record);
    const primary = attached[0];
    const embedded = attached.some((a) => a.network.Name !== 'bridge');
    await fs.writeFile(files.hosts, hostsFile({ hostname: record.Config.Hostname, ...(record.Config.Domainname ? { domainname: record.Config.Domainname } : {}), ...(primary ? { ip: intToIp(primary.ip) } : {}), extraHosts }));
    await fs.writeFile(files.resolvConf, resolvConf({ host: hostResolv, embedded, dns: (hc.Dns as string[] | undefined) ?? [], dnsSearch: (hc.DnsSearch as string[] | undefined) ?? [], dnsOptions: (hc.DnsOptions as string[] | undefined) ?? [] }));

    if (primary) {
      try {
        const requests = portRequests(hc.PortBindings as never, Boolean(hc.PublishAllPorts), record.Config.ExposedPorts, primary.network.Options[HOST_BINDING_OPTION] || '0.0.0.0');
        const bound = await this.plumbing.publish(record, primary.network, intToIp(primary.ip), requests);
        record.NetworkSettings = { ...(record.NetworkSettings ?? { Networks: {} }), Ports: portMap(bound, record.Config.ExposedPorts) };
      } catch (err) {
        for (const a of attached) this.addresses.free(a.network.Id, a.ip);
        const message = err instanceof Error ? err.message : String(err);
        throw new EngineError(500, `driver failed programming external connectivity on endpoint ${record.Name.slice(1)} (${primary.endpoint.EndpointID}): ${message}`);
      }
    } else {
      record.NetworkSettings = { ...(record.NetworkSettings ?? { Networks: {} }), Ports: {} };
    }

    // Route 127.0.0.11 to the embedded DNS server: loopback-sourced packets may then leave eth0.
    const sysctls: Record<string, string> = embedded ? { 'net.ipv4.conf.all.route_localnet': '1' } : {};
    return {
      namespace: { kind: 'new' },
      sysctls,
      etcFiles: files,
      wire: async (pid) => {
        // runc brings loopback up in every namespace it creates: --network none needs nothing more.
        for (const [index, { network, endpoint }] of attached.entries()) {
          await wireAssignedEndpoint(pid, network, this.addresses.pool(network), endpoint, `eth${index}`, index === 0);
        }
        const resolver = attached.find((a) => a.network.Name !== 'bridge');
        if (resolver) await redirectDns(pid, intToIp(this.addresses.pool(resolver.network).gateway), intToIp(resolver.ip));
        for (const { network } of attached) this.events.publish('network', 'connect', network.Id, { container: record.Id, name: network.Name, type: 'bridge' });
      },
    };
  }

  /** An address on each of the container's bridge networks, its endpoints filled in; all or none. */
  private reserveAll(record: ContainerRecord): Attachment[] {
    const bridged = Object.entries(record.NetworkSettings?.Networks ?? {}).filter(([name]) => this.store.find(name)?.Driver === 'bridge');
    const attached: Attachment[] = [];
    try {
      for (const [name, endpoint] of bridged) {
        const network = this.store.get(endpoint.NetworkID && this.store.find(endpoint.NetworkID) ? endpoint.NetworkID : name);
        attached.push({ network, endpoint, ip: this.addresses.reserve(network, record, endpoint.IPAMConfig?.IPv4Address) });
      }
    } catch (err) {
      for (const a of attached) this.addresses.free(a.network.Id, a.ip);
      throw err;
    }
    for (const { network, endpoint, ip } of attached) assignEndpoint(endpoint, network, this.addresses.pool(network), record, ip);
    return attached;
  }

  /** After the container's process is gone: ports closed, addresses freed, endpoints emptied. */
  async release(record: ContainerRecord): Promise<void> {
    await this.plumbing.unpublish(record.Id);
    for (const endpoint of Object.values(record.NetworkSettings?.Networks ?? {})) {
      if (!endpoint.EndpointID) continue;
      const network = this.store.find(endpoint.NetworkID);
      if (network && endpoint.IPAddress) this.addresses.free(network.Id, endpoint.IPAddress);
      // The veth normally dies with the namespace, which the kernel tears down on its own time; in
      // case it outlives the process (a namespace someone holds), remove it without making the
      // exit wait for that.
      void deleteLink(vethName(endpoint.EndpointID)).catch(() => undefined);
      if (network) this.events.publish('network', 'disconnect', network.Id, { container: record.Id, name: network.Name, type: network.Driver });
      Object.assign(endpoint, { EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, MacAddress: endpoint.IPAMConfig?.IPv4Address ? endpoint.MacAddress : '' });
    }
    if (record.NetworkSettings) record.NetworkSettings.Ports = {};
  }

  /** After berthd restarts, for a container that ran on: its addresses held, its ports published again. */
  async restore(record: ContainerRecord): Promise<void> {
    for (const [name, endpoint] of Object.entries(record.NetworkSettings?.Networks ?? {})) {
      const network = this.store.find(endpoint.NetworkID) ?? this.store.find(name);
      if (network && endpoint.IPAddress) this.addresses.hold(network.Id, endpoint.IPAddress, record.Id);
    }
    const primary = Object.values(record.NetworkSettings?.Networks ?? {}).find((e) => e.IPAddress);
    if (!primary) return;
    const network = this.store.find(primary.NetworkID);
    const hc = record.HostConfig;
    const requests = portRequests(hc.PortBindings as never, Boolean(hc.PublishAllPorts), record.Config.ExposedPorts, network?.Options[HOST_BINDING_OPTION] || '0.0.0.0');
    // The same host ports as before, in the order the requests come.
    const previous = Object.entries(record.NetworkSettings?.Ports ?? {}).flatMap(([key, bindings]) => (bindings ?? []).map((b) => ({ key, hostPort: Number(b.HostPort) })));
    const fixed = requests.map((r, i) => ({ proto: r.proto, containerPort: r.containerPort, hostIp: r.hostIp, hostPort: previous[i]?.hostPort ?? 0 }));
    if (network) await this.plumbing.publish(record, network, primary.IPAddress, requests, fixed);
  }

  async connect(network: NetworkRecord, body: { Container?: string; EndpointConfig?: Partial<EndpointSettings> | null }): Promise<void> {
    if (!body.Container) throw new InvalidParameterError('container is required');
    const record = this.containers.get(body.Container);
    const mode = record.HostConfig.NetworkMode || 'default';
    if (network.Driver === 'host' || mode === 'host') throw new ForbiddenError('container cannot be disconnected from host network or connected to host network');
    if (network.Driver === 'null' || mode === 'none') throw new ForbiddenError('container cannot be connected to multiple networks with one of the networks in private (none) mode');
    if (mode.startsWith('container:')) throw new ForbiddenError('container sharing network namespace with another container or host cannot be connected to any other network');
    const settings = record.NetworkSettings ?? { Networks: {} };
    if (settings.Networks[network.Name]) throw new ForbiddenError(`endpoint with name ${record.Name.slice(1)} already exists in network ${network.Name}`);
    const config = body.EndpointConfig ?? {};
    const pool = this.addresses.pool(network);
    checkEndpointConfig(network, pool, config);
    const endpoint = emptyEndpoint(network.Id, config);
    if (isRunning(record)) {
      const ip = this.addresses.reserve(network, record, config.IPAMConfig?.IPv4Address);
      assignEndpoint(endpoint, network, pool, record, ip);
      try {
        await wireAssignedEndpoint(record.State.Pid, network, pool, endpoint, await freeInterfaceName(record.State.Pid), false);
      } catch (err) {
        this.addresses.free(network.Id, ip);
        await deleteLink(vethName(endpoint.EndpointID)).catch(() => undefined);
        throw err;
      }
    }
    settings.Networks[network.Name] = endpoint;
    record.NetworkSettings = settings;
    await this.containers.save(record);
    if (isRunning(record)) this.events.publish('network', 'connect', network.Id, { container: record.Id, name: network.Name, type: network.Driver });
  }

  async disconnect(network: NetworkRecord, body: { Container?: string; Force?: boolean }): Promise<void> {
    if (!body.Container) throw new InvalidParameterError('container is required');
    const record = this.containers.get(body.Container);
    if (network.Driver === 'host') throw new ForbiddenError('container cannot be disconnected from host network or connected to host network');
    const endpoint = record.NetworkSettings?.Networks[network.Name];
    if (!endpoint) throw new ForbiddenError(`container ${record.Id} is not connected to network ${network.Name}`);
    if (endpoint.EndpointID) {
      if (endpoint.IPAddress) this.addresses.free(network.Id, endpoint.IPAddress);
      await deleteLink(vethName(endpoint.EndpointID));
      this.events.publish('network', 'disconnect', network.Id, { container: record.Id, name: network.Name, type: network.Driver });
    }
    delete record.NetworkSettings!.Networks[network.Name];
    await this.containers.save(record);
  }

  /** What `host-gateway` stands for: the default bridge's gateway. */
  hostGatewayIp(): string {
    const bridge = this.store.byName('bridge');
    return bridge ? intToIp(this.addresses.pool(bridge).gateway) : '127.0.0.1';
  }

  /** --add-host name:host-gateway means the default bridge's gateway. */
  private resolveExtraHost(entry: string): string {
    const sep = entry.indexOf(':');
    if (sep <= 0) throw new InvalidParameterError(`invalid extra host: ${entry}`);
    if (entry.slice(sep + 1) !== 'host-gateway') return entry;
    return `${entry.slice(0, sep)}:${this.hostGatewayIp()}`;
  }
}

/** The first ethN not yet used inside the container's namespace. */
async function freeInterfaceName(pid: number): Promise<string> {
  const output = await runCommand('nsenter', ['-t', String(pid), '-n', 'ip', '-o', 'link', 'show']);
  const used = new Set([...output.matchAll(/^\d+:\s+([^:@]+)[:@]/gm)].map((m) => m[1]!));
  for (let i = 0; ; i++) if (!used.has(`eth${i}`)) return `eth${i}`;
}
