// IPv4 address management for bridge networks: subnets, gateways, ip-ranges and picking a free
// address. Validation is node:net's; what is left is integer arithmetic on 32-bit addresses.
import { isIPv4 as isValidIPv4 } from 'node:net';

import { InvalidParameterError } from '../util/errors.js';

export interface Subnet {
  /** Network address as an unsigned 32-bit integer. */
  base: number;
  prefix: number;
}

export function ipToInt(ip: string): number {
  if (!isValidIPv4(ip)) throw new InvalidParameterError(`invalid IPv4 address: ${ip}`);
  return ip.split('.').reduce((n, byte) => n * 256 + Number(byte), 0);
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function parseSubnet(cidr: string): Subnet {
  const [address = '', prefixText = '', extra] = cidr.split('/');
  const prefix = Number(prefixText);
  if (extra !== undefined || !isValidIPv4(address) || !/^\d{1,2}$/.test(prefixText) || prefix > 32) throw new InvalidParameterError(`invalid CIDR address: ${cidr}`);
  return { base: (ipToInt(address) & mask(prefix)) >>> 0, prefix };
}

export function formatSubnet(subnet: Subnet): string {
  return `${intToIp(subnet.base)}/${subnet.prefix}`;
}

export function contains(subnet: Subnet, ip: number): boolean {
  return ((ip & mask(subnet.prefix)) >>> 0) === subnet.base;
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  const prefix = Math.min(a.prefix, b.prefix);
  return ((a.base & mask(prefix)) >>> 0) === ((b.base & mask(prefix)) >>> 0);
}

export function isIPv4(value: string): boolean {
  return isValidIPv4(value);
}

/** The pools dockerd draws default subnets from: 172.17-31.0.0/16, then 192.168.x.0/20. */
export function* defaultPools(): Generator<Subnet> {
  for (let second = 17; second <= 31; second++) yield { base: ipToInt(`172.${second}.0.0`), prefix: 16 };
  for (let third = 0; third < 256; third += 16) yield { base: ipToInt(`192.168.${third}.0`), prefix: 20 };
}

export interface PoolConfig {
  subnet: Subnet;
  gateway: number;
  /** Addresses handed out dynamically come from here (the whole subnet unless --ip-range). */
  range: Subnet;
}

/** Checks a network's IPAM config as dockerd does and fills in the gateway. */
export function poolConfig(config: { Subnet: string; Gateway?: string; IPRange?: string }): PoolConfig {
  const subnet = parseSubnet(config.Subnet);
  if (subnet.prefix > 30) throw new InvalidParameterError(`invalid subnet ${config.Subnet}: too small for a network`);
  let gateway = subnet.base + 1;
  if (config.Gateway) {
    if (!isIPv4(config.Gateway)) throw new InvalidParameterError(`invalid gateway address ${config.Gateway}`);
    gateway = ipToInt(config.Gateway);
    if (!contains(subnet, gateway)) throw new InvalidParameterError(`no matching subnet for gateway ${config.Gateway}`);
  }
  const range = config.IPRange ? parseSubnet(config.IPRange) : subnet;
  if (!contains(subnet, range.base) || range.prefix < subnet.prefix) throw new InvalidParameterError(`no matching subnet for range ${config.IPRange}`);
  return { subnet, gateway, range };
}

/**
 * The first address of the pool's range that is neither the network, broadcast or gateway
 * address nor taken. Undefined when the range is full.
 */
export function allocate(pool: PoolConfig, taken: Set<number>): number | undefined {
  const size = 2 ** (32 - pool.range.prefix);
  const broadcast = pool.subnet.base + 2 ** (32 - pool.subnet.prefix) - 1;
  for (let i = 0; i < size; i++) {
    const ip = pool.range.base + i;
    if (ip === pool.subnet.base || ip === broadcast || ip === pool.gateway || taken.has(ip)) continue;
    return ip;
  }
  return undefined;
}

/** dockerd's MAC for an address: 02:42 followed by the four bytes of the IPv4 address. */
export function macForIp(ip: number): string {
  return ['02', '42', ...[ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
