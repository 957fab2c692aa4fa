// What berthd keeps about a network: the Engine API's Network object as `network inspect` shows it
// (minus the live Containers map, which is computed from running containers).
export type NetworkDriver = 'bridge' | 'host' | 'null';

export interface IpamConfig {
  Subnet: string;
  Gateway: string;
  IPRange?: string;
}

export interface NetworkRecord {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: NetworkDriver;
  EnableIPv6: boolean;
  IPAM: { Driver: 'default'; Options: Record<string, string> | null; Config: IpamConfig[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

/** Driver options of the bridge driver, under dockerd's names. */
export const BRIDGE_NAME_OPTION = 'com.docker.network.bridge.name';
export const ICC_OPTION = 'com.docker.network.bridge.enable_icc';
export const MASQUERADE_OPTION = 'com.docker.network.bridge.enable_ip_masquerade';
export const HOST_BINDING_OPTION = 'com.docker.network.bridge.host_binding_ipv4';
export const MTU_OPTION = 'com.docker.network.driver.mtu';

export const PREDEFINED_NETWORKS = ['bridge', 'host', 'none'] as const;

/** A container's attachment to a network: the Engine API's EndpointSettings. */
export interface EndpointSettings {
  IPAMConfig: { IPv4Address?: string } | null;
  Links: string[] | null;
  Aliases: string[] | null;
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  MacAddress: string;
  DriverOpts: Record<string, string> | null;
}

export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

/** "80/tcp" -> bindings, or null for a port that is exposed but not published. */
export type PortMap = Record<string, PortBinding[] | null>;

export interface NetworkSettings {
  Networks: Record<string, EndpointSettings>;
  /** Published ports as bound while the container runs. */
  Ports?: PortMap;
}

export function emptyEndpoint(networkId: string, config: Partial<EndpointSettings> = {}): EndpointSettings {
  return {
    IPAMConfig: config.IPAMConfig ?? null,
    Links: config.Links ?? null,
    Aliases: config.Aliases ?? null,
    NetworkID: networkId,
    EndpointID: '',
    Gateway: '',
    IPAddress: '',
    IPPrefixLen: 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    MacAddress: config.MacAddress ?? '',
    DriverOpts: config.DriverOpts ?? null,
  };
}

export function bridgeName(network: NetworkRecord): string {
  return network.Options[BRIDGE_NAME_OPTION] ?? `br-${network.Id.slice(0, 12)}`;
}
