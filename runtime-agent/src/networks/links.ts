// Network devices through iproute2: bridges on the host, and veth pairs whose inner end is moved
// into a container's network namespace (named by the PID of its first process). Each operation is
// one `ip -batch` per namespace, so wiring a container costs two short processes.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';

import { runCommand } from '../util/command.js';

export interface EndpointWiring {
  /** Host end of the veth pair, enslaved to the bridge. */
  hostVeth: string;
  /** Name inside the container: eth0, eth1, ... */
  ifname: string;
  bridge: string;
  /** "172.18.0.2/16" */
  cidr: string;
  /** Default route through this gateway (only the first network's endpoint sets one). */
  defaultGateway?: string;
  mac: string;
  mtu: number;
}

/**
 * Whether the device exists in berthd's own network namespace. Asked over netlink (`ip`), not read
 * from /sys/class/net: in a namespace made with `unshare -n` or `ip netns exec`, /sys may still
 * show another namespace's devices.
 */
export async function linkExists(name: string): Promise<boolean> {
  return runCommand('ip', ['-o', 'link', 'show', 'dev', name]).then(() => true, () => false);
}

/**
 * A bridge without an address of its own takes the lowest MAC of its ports, so it changes as
 * containers come and go, and containers' ARP entries for the gateway go stale for seconds. A
 * fixed, locally administered MAC derived from the name keeps it stable (and the same after a restart).
 */
function bridgeMac(name: string): string {
  const hash = createHash('sha256').update(name).digest();
  return ['02', ...[...hash.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

export async function ensureBridge(name: string, gatewayCidr: string, mtu: number): Promise<void> {
  const lines = (await linkExists(name)) ? await staleAddresses(name, gatewayCidr) : [`link add name ${name} address ${bridgeMac(name)} type bridge`];
  lines.push(`link set dev ${name} mtu ${mtu}`, `addr replace ${gatewayCidr} dev ${name}`, `link set dev ${name} up`);
  await runCommand('ip', ['-batch', '-'], lines.join('\n') + '\n');
  // Published ports are forwarded to containers from 127.0.0.1 too; the kernel routes such
  // loopback-sourced packets out of this bridge (and only this one) with route_localnet.
  await fs.writeFile(`/proc/sys/net/ipv4/conf/${name}/route_localnet`, '1');
}

/** Addresses a bridge kept from an earlier life (a crashed engine, another data root) other than ours. */
async function staleAddresses(name: string, gatewayCidr: string): Promise<string[]> {
  const output = await runCommand('ip', ['-o', '-4', 'addr', 'show', 'dev', name]);
  return [...output.matchAll(/\binet (\S+)/g)].map((m) => m[1]!).filter((cidr) => cidr !== gatewayCidr).map((cidr) => `addr del ${cidr} dev ${name}`);
}

export async function deleteLink(name: string): Promise<void> {
  try {
    await runCommand('ip', ['link', 'del', 'dev', name]);
  } catch (err) {
    // Already gone (a veth dies with its namespace): that is the wanted outcome.
    if (await linkExists(name)) throw err;
  }
}

/** Creates the pair with its inner end directly in the namespace, then configures that end there. */
export async function wireEndpoint(pid: number, wiring: EndpointWiring): Promise<void> {
  await runCommand(
    'ip',
    ['-batch', '-'],
    [
      `link add name ${wiring.hostVeth} mtu ${wiring.mtu} type veth peer name ${wiring.ifname} mtu ${wiring.mtu} address ${wiring.mac} netns ${pid}`,
      `link set dev ${wiring.hostVeth} master ${wiring.bridge} up`,
      // A container reaching its own published port: the bridge sends the packet back out this port.
      `link set dev ${wiring.hostVeth} type bridge_slave hairpin on`,
    ].join('\n') + '\n',
  );
  const inside = [`addr add ${wiring.cidr} dev ${wiring.ifname}`, `link set dev ${wiring.ifname} up`];
  if (wiring.defaultGateway) inside.push(`route replace default via ${wiring.defaultGateway} dev ${wiring.ifname}`);
  await runCommand('nsenter', ['-t', String(pid), '-n', 'ip', '-batch', '-'], inside.join('\n') + '\n');
}

/**
 * The embedded DNS server listens on the network's gateway; inside the container, queries to
 * 127.0.0.11:53 (where dockerd's resolver answers, and where nginx configs point) are redirected
 * there. Needs net.ipv4.conf.all.route_localnet=1 in the container's namespace (set via the spec).
 */
export async function redirectDns(pid: number, resolverIp: string, containerIp: string): Promise<void> {
  const rules = `table ip berth_dns {
  chain output {
    type nat hook output priority -100;
    ip daddr 127.0.0.11 udp dport 53 dnat to ${resolverIp}:53
    ip daddr 127.0.0.11 tcp dport 53 dnat to ${resolverIp}:53
  }
  chain postrouting {
    type nat hook postrouting priority 100;
    ip saddr 127.0.0.0/8 ip daddr ${resolverIp} meta l4proto { tcp, udp } th dport 53 snat to ${containerIp}
  }
}
`;
  await runCommand('nsenter', ['-t', String(pid), '-n', 'nft', '-f', '-'], rules);
}
