// The parts of `GET /networks/{id}` the Networks pages read.

export interface IpamConfig { Subnet?: string; Gateway?: string; IPRange?: string; AuxiliaryAddresses?: Record<string, string> | null }

export interface NetworkEndpoint { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }

export interface NetworkInspect {
  Name: string;
  Id: string;
  Created?: string;
  Scope: string;
  Driver: string;
  EnableIPv6?: boolean;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  IPAM: { Driver?: string; Options?: Record<string, string> | null; Config: IpamConfig[] | null };
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
  Containers?: Record<string, NetworkEndpoint> | null;
}

/** The networks every engine has; they cannot be removed. */
export const PREDEFINED = new Set(['bridge', 'host', 'none']);

export function subnets(n: NetworkInspect): string {
  return (n.IPAM.Config ?? []).map((c) => c.Subnet).filter(Boolean).join(', ');
}

export function gateways(n: NetworkInspect): string {
  return (n.IPAM.Config ?? []).map((c) => c.Gateway).filter(Boolean).join(', ');
}
