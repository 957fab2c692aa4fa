// A container's endpoint on a bridge network, the same whether it is made at start or by
// `network connect`: its settings checked as dockerd checks them, and, once an address is
// reserved, filled in (IDs, address, gateway, MAC, the short-ID alias) and wired into the
// container's network namespace.
import { randomBytes } from 'node:crypto';

import { InvalidParameterError } from '../util/errors.js';
import type { ContainerRecord } from '../vocabulary/container-record.js';
import { bridgeName, MTU_OPTION, type EndpointSettings, type NetworkRecord } from '../vocabulary/network-record.js';
import { contains, intToIp, ipToInt, isIPv4, macForIp, type PoolConfig } from './ipam.js';
import { wireEndpoint } from './links.js';

export const DEFAULT_MTU = 1500;

/** User-defined bridges have DNS names, aliases and static addresses; the default `bridge` has not. */
export function isUserDefined(network: NetworkRecord): boolean {
  return network.Driver === 'bridge' && network.Name !== 'bridge';
}

/** Aliases and a static address are for user-defined networks, and the address must be in the subnet. */
export function checkEndpointConfig(network: NetworkRecord, pool: PoolConfig | undefined, config: Partial<EndpointSettings> | null | undefined): void {
  const userDefined = isUserDefined(network);
  if (config?.Aliases?.length && !userDefined) throw new InvalidParameterError('network-scoped alias is supported only for containers in user defined networks');
  const ip = config?.IPAMConfig?.IPv4Address;
  if (!ip) return;
  if (!userDefined) throw new InvalidParameterError('user specified IP address is supported on user defined networks only');
  if (!isIPv4(ip)) throw new InvalidParameterError(`invalid IPv4 address: ${ip}`);
  if (!pool || !contains(pool.subnet, ipToInt(ip))) throw new InvalidParameterError(`no configured subnet or ip-range contain the IP address ${ip}`);
}

/** Fills `endpoint` for the container at `ip` on `network`. */
export function assignEndpoint(endpoint: EndpointSettings, network: NetworkRecord, pool: PoolConfig, record: ContainerRecord, ip: number): void {
  Object.assign(endpoint, {
    NetworkID: network.Id,
    EndpointID: randomBytes(32).toString('hex'),
    Gateway: network.Internal ? '' : intToIp(pool.gateway),
    IPAddress: intToIp(ip),
    IPPrefixLen: pool.subnet.prefix,
    MacAddress: endpoint.MacAddress || macForIp(ip),
  });
  // Other containers reach it by its short ID too, as with dockerd.
  if (isUserDefined(network)) endpoint.Aliases = [...new Set([...(endpoint.Aliases ?? []), record.Id.slice(0, 12)])];
}

/** The host end of an endpoint's veth pair. */
export function vethName(endpointId: string): string {
  return `veth${endpointId.slice(0, 7)}`;
}

/** A veth into the namespace of process `pid`, named `ifname` there, with the endpoint's address. */
export async function wireAssignedEndpoint(pid: number, network: NetworkRecord, pool: PoolConfig, endpoint: EndpointSettings, ifname: string, defaultRoute: boolean): Promise<void> {
  await wireEndpoint(pid, {
    hostVeth: vethName(endpoint.EndpointID),
    ifname,
    bridge: bridgeName(network),
    cidr: `${endpoint.IPAddress}/${pool.subnet.prefix}`,
    ...(defaultRoute && !network.Internal ? { defaultGateway: intToIp(pool.gateway) } : {}),
    mac: endpoint.MacAddress,
    mtu: Number(network.Options[MTU_OPTION] ?? DEFAULT_MTU),
  });
}
