// IPv4 forwarding, which bridge networking needs: without it a container reaches the host but
// nothing beyond it, and published ports reached from other machines never arrive. A fresh Linux
// host starts with it off. dockerd turns it on when it sets up its bridge (`--ip-forward`, on by
// default), and when it is the one turning it on it also sets the FORWARD chain's policy to DROP,
// so that the host does not start routing between its other interfaces; berthd does the same
// (`--ip-forward-no-drop` keeps the policy). berthd's own FORWARD chain accepts what containers
// need either way. The setting belongs to the network namespace berthd runs in.
import { promises as fs } from 'node:fs';

import { runCommand } from '../util/command.js';
import { log } from '../util/log.js';

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';

export interface IpForwardingOptions {
  /** --ip-forward (default true): turn forwarding on. */
  enable: boolean;
  /** --ip-forward-no-drop: leave the FORWARD policy alone when turning forwarding on. */
  keepForwardPolicy: boolean;
}

export async function ensureIpForwarding(options: IpForwardingOptions): Promise<void> {
  if (!options.enable) return;
  if ((await fs.readFile(IP_FORWARD, 'utf8')).trim() === '1') return;
  await fs.writeFile(IP_FORWARD, '1\n');
  if (options.keepForwardPolicy) {
    log.info('enabled IPv4 forwarding (net.ipv4.ip_forward=1)');
    return;
  }
  await runCommand('iptables', ['-w', '-t', 'filter', '-P', 'FORWARD', 'DROP']);
  log.info('enabled IPv4 forwarding (net.ipv4.ip_forward=1) and set the FORWARD policy to DROP, as dockerd does');
}
