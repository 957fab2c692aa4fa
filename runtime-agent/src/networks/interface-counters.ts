// Traffic counters of a container's interfaces, for `docker stats`' NET I/O and the dashboard's
// network chart: /proc/<pid>/net/dev shows the devices of that process's network namespace.
import { promises as fs } from 'node:fs';

export interface InterfaceCounters {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

/** The columns of /proc/net/dev after "name:": 8 receive counters, then 8 transmit counters. */
export function parseNetDev(text: string): Record<string, InterfaceCounters> {
  const result: Record<string, InterfaceCounters> = {};
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const name = line.slice(0, colon).trim();
    const n = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (!name || name === 'lo' || n.length < 16) continue;
    result[name] = { rx_bytes: n[0]!, rx_packets: n[1]!, rx_errors: n[2]!, rx_dropped: n[3]!, tx_bytes: n[8]!, tx_packets: n[9]!, tx_errors: n[10]!, tx_dropped: n[11]! };
  }
  return result;
}

/** Counters per interface (loopback left out, as dockerd does); undefined when the process is gone. */
export async function interfaceCounters(pid: number): Promise<Record<string, InterfaceCounters> | undefined> {
  if (!pid) return undefined;
  try {
    return parseNetDev(await fs.readFile(`/proc/${pid}/net/dev`, 'utf8'));
  } catch {
    return undefined;
  }
}
