// The host firewall rules berthd needs, kept in chains of its own so the host's rules and policies
// stay as they were: one jump from FORWARD and one from nat POSTROUTING, and chains whose whole
// content is rewritten from the list of networks on every change (iptables-restore --noflush, one
// process, atomic per table).
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

export class Firewall {
  readonly forwardChain: string;
  readonly natChain: string;

  /** Chains are named after the default bridge so two engines on one host never share them. */
  constructor(tag: string) {
    this.forwardChain = `BERTH-FWD-${tag}`;
    this.natChain = `BERTH-NAT-${tag}`;
  }

  rules(networks: FirewallNetwork[]): string {
    const f = this.forwardChain;
    const filter = [`*filter`, `:${f} - [0:0]`, `-F ${f}`];
    const nat = [`*nat`, `:${this.natChain} - [0:0]`, `-F ${this.natChain}`];
    for (const n of networks) {
      filter.push(`-A ${f} -o ${n.bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
      // Networks are isolated from each other, as dockerd's DOCKER-ISOLATION chains do.
      for (const other of networks) if (other !== n) filter.push(`-A ${f} -i ${n.bridge} -o ${other.bridge} -j DROP`);
      filter.push(`-A ${f} -i ${n.bridge} -o ${n.bridge} -j ${n.icc ? 'ACCEPT' : 'DROP'}`);
      if (n.internal) {
        filter.push(`-A ${f} -i ${n.bridge} ! -o ${n.bridge} -j DROP`, `-A ${f} ! -i ${n.bridge} -o ${n.bridge} -j DROP`);
      } else {
        filter.push(`-A ${f} -i ${n.bridge} ! -o ${n.bridge} -j ACCEPT`);
        if (n.masquerade) nat.push(`-A ${this.natChain} -s ${n.subnet} ! -o ${n.bridge} -j MASQUERADE`);
      }
    }
    return [...filter, 'COMMIT', ...nat, 'COMMIT', ''].join('\n');
  }

  async apply(networks: FirewallNetwork[]): Promise<void> {
    await runCommand('iptables-restore', ['--noflush', '-w'], this.rules(networks));
    await this.ensureJump('filter', 'FORWARD', this.forwardChain);
    await this.ensureJump('nat', 'POSTROUTING', this.natChain);
  }

  private async ensureJump(table: string, from: string, to: string): Promise<void> {
    const present = await runCommand('iptables', ['-w', '-t', table, '-C', from, '-j', to]).then(() => true, () => false);
    if (!present) await runCommand('iptables', ['-w', '-t', table, '-I', from, '1', '-j', to]);
  }

  /** Removes the jumps and the chains: the host's tables are as they were before berthd. */
  async remove(): Promise<void> {
    for (const [table, from, chain] of [['filter', 'FORWARD', this.forwardChain], ['nat', 'POSTROUTING', this.natChain]] as const) {
      while (await runCommand('iptables', ['-w', '-t', table, '-D', from, '-j', chain]).then(() => true, () => false));
      await runCommand('iptables', ['-w', '-t', table, '-F', chain]).catch(() => undefined);
      await runCommand('iptables', ['-w', '-t', table, '-X', chain]).catch((err: unknown) => log.debug('chain not removed', { chain, error: String(err) }));
    }
  }
}
