// The host firewall rules berthd needs, kept in chains of its own so the host's rules and policies
// stay as they were: jumps from FORWARD, nat PREROUTING, OUTPUT and POSTROUTING, and chains whose
// whole content is rewritten from the list of networks and published ports on every change
// (iptables-restore --noflush: one process, atomic per table). The jumps are checked against one
// iptables-save and the missing ones inserted by the same restore: two processes for every change
// rather than one for each check, which matters where a process costs a tenth of a second (the guest
// under TCG).
import { runCommand } from '../util/command.js';
import { log } from '../util/log.js';

export interface FirewallNetwork {
  bridge: string;
  subnet: string;
  internal: boolean;
  /** Inter-container communication on the same bridge (enable_icc). */
  icc: boolean;
  masquerade: boolean;
}

/** A published port the kernel forwards: host address and port to the container's. */
export interface ForwardedPort {
  proto: 'tcp' | 'udp';
  /** 0.0.0.0 for every local address. */
  hostIp: string;
  hostPort: number;
  containerIp: string;
  containerPort: number;
  bridge: string;
}

/** A rule in one of the host's chains that sends packets into one of berthd's. */
export interface Jump {
  table: 'filter' | 'nat';
  chain: string;
  /** The rule after `-A CHAIN`, as iptables-save prints it. */
  rule: string;
}

/** The jumps an iptables-save output lacks (tables it does not have at all lack all of theirs). */
export function missingJumps(jumps: Jump[], saved: string): Jump[] {
  const present = new Set<string>();
  let table = '';
  for (const line of saved.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    else if (line.startsWith('-A ')) present.add(`${table} ${line.trim()}`);
  }
  return jumps.filter((j) => !present.has(`${j.table} -A ${j.chain} ${j.rule}`));
}

export class Firewall {
  readonly forwardChain: string;
  readonly natChain: string;
  readonly dnatChain: string;

  /** Chains are named after the default bridge so two engines on one host never share them. */
  constructor(tag: string) {
    this.forwardChain = `BERTH-FWD-${tag}`;
    this.natChain = `BERTH-NAT-${tag}`;
    this.dnatChain = `BERTH-DNAT-${tag}`;
  }

  /** The jumps into berthd's chains from the host's, written as iptables-save prints them. */
  jumps(): Jump[] {
    const dnat = `-m addrtype --dst-type LOCAL -j ${this.dnatChain}`;
    return [
      { table: 'filter', chain: 'FORWARD', rule: `-j ${this.forwardChain}` },
      { table: 'nat', chain: 'POSTROUTING', rule: `-j ${this.natChain}` },
      { table: 'nat', chain: 'PREROUTING', rule: dnat },
      { table: 'nat', chain: 'OUTPUT', rule: dnat },
    ];
  }

  /** The restore input: berthd's chains rewritten whole, and the `missing` jumps inserted first in theirs. */
  rules(networks: FirewallNetwork[], ports: ForwardedPort[], missing: Jump[] = []): string {
    const f = this.forwardChain;
    const n = this.natChain;
    const d = this.dnatChain;
    const insert = (table: Jump['table']) => missing.filter((j) => j.table === table).map((j) => `-I ${j.chain} 1 ${j.rule}`);
    const filter = [`*filter`, `:${f} - [0:0]`, `-F ${f}`, ...insert('filter')];
    const nat = [`*nat`, `:${n} - [0:0]`, `:${d} - [0:0]`, `-F ${n}`, `-F ${d}`, ...insert('nat')];
    // Connections to published ports first: they may come from another network, which the
    // isolation rules below would otherwise drop.
    for (const p of ports) {
      filter.push(`-A ${f} -d ${p.containerIp}/32 -o ${p.bridge} -p ${p.proto} --dport ${p.containerPort} -m conntrack --ctstate DNAT -j ACCEPT`);
      const destination = p.hostIp === '0.0.0.0' ? '' : ` -d ${p.hostIp}/32`;
      nat.push(`-A ${d}${destination} -p ${p.proto} --dport ${p.hostPort} -j DNAT --to-destination ${p.containerIp}:${p.containerPort}`);
    }
    // Replies of accepted connections, before isolation: a published port's answer crosses networks.
    for (const net of networks) filter.push(`-A ${f} -o ${net.bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
    for (const net of networks) {
      // Networks are isolated from each other, as dockerd's DOCKER-ISOLATION chains do.
      for (const other of networks) if (other !== net) filter.push(`-A ${f} -i ${net.bridge} -o ${other.bridge} -j DROP`);
      filter.push(`-A ${f} -i ${net.bridge} -o ${net.bridge} -j ${net.icc ? 'ACCEPT' : 'DROP'}`);
      if (net.internal) {
        filter.push(`-A ${f} -i ${net.bridge} ! -o ${net.bridge} -j DROP`, `-A ${f} ! -i ${net.bridge} -o ${net.bridge} -j DROP`);
      } else {
        filter.push(`-A ${f} -i ${net.bridge} ! -o ${net.bridge} -j ACCEPT`);
        if (net.masquerade) nat.push(`-A ${n} -s ${net.subnet} ! -o ${net.bridge} -j MASQUERADE`);
      }
      // Published ports reached from the host itself (127.0.0.1 included) or from a container of
      // the same bridge (its own port too): answer through the gateway, or the reply would not
      // find its way back.
      nat.push(`-A ${n} -o ${net.bridge} -m addrtype --src-type LOCAL -j MASQUERADE`);
      nat.push(`-A ${n} -s ${net.subnet} -o ${net.bridge} -m conntrack --ctstate DNAT -j MASQUERADE`);
    }
    return [...filter, 'COMMIT', ...nat, 'COMMIT', ''].join('\n');
  }

  async apply(networks: FirewallNetwork[], ports: ForwardedPort[]): Promise<void> {
    const missing = missingJumps(this.jumps(), await runCommand('iptables-save', []));
    await runCommand('iptables-restore', ['--noflush', '-w'], this.rules(networks, ports, missing));
  }

  /** Removes the jumps and the chains: the host's tables are as they were before berthd. */
  async remove(): Promise<void> {
    for (const { table, chain, rule } of this.jumps()) {
      while (await runCommand('iptables', ['-w', '-t', table, '-D', chain, ...rule.split(' ')]).then(() => true, () => false));
    }
    const chains: [Jump['table'], string][] = [['filter', this.forwardChain], ['nat', this.natChain], ['nat', this.dnatChain]];
    for (const [table, chain] of chains) {
      await runCommand('iptables', ['-w', '-t', table, '-F', chain]).catch(() => undefined);
      await runCommand('iptables', ['-w', '-t', table, '-X', chain]).catch((err: unknown) => log.debug('chain not removed', { chain, error: String(err) }));
    }
  }
}
