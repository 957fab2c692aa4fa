// What the Networks pages tell about a network beyond its fields: whether the engine made it, and
// its addressing in one line.
import type { Network } from '../../../../electron/src/common/engine-types';

/** The networks every engine has; they cannot be removed. */
export const PREDEFINED = new Set(['bridge', 'host', 'none']);

export function subnets(n: Network): string {
  return (n.IPAM.Config ?? []).map((c) => c.Subnet).filter(Boolean).join(', ');
}

export function gateways(n: Network): string {
  return (n.IPAM.Config ?? []).map((c) => c.Gateway).filter(Boolean).join(', ');
}
