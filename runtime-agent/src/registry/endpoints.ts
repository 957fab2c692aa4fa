// Which URL a registry domain is reached at. As in dockerd: Docker Hub is registry-1.docker.io;
// registries on loopback (127.0.0.0/8, ::1, localhost) and those listed with --insecure-registry
// (host[:port] or a CIDR) are plain HTTP; everything else is HTTPS.
import { BlockList, isIP } from 'node:net';

import { DEFAULT_DOMAIN } from '../vocabulary/reference.js';

/** The host Docker Hub's registry API answers on (`docker.io` is its name, not its host). */
export const DOCKER_HUB_HOST = 'registry-1.docker.io';

/** The host a registry domain's API is reached at. */
export function registryHost(domain: string): string {
  return domain === DEFAULT_DOMAIN ? DOCKER_HUB_HOST : domain;
}

export class RegistryHosts {
  private readonly insecureHosts = new Set<string>();
  private readonly insecureNets = new BlockList();
  readonly insecureCidrs: string[] = ['127.0.0.0/8', '::1/128'];

  constructor(insecureRegistries: readonly string[] = []) {
    this.insecureNets.addSubnet('127.0.0.0', 8, 'ipv4');
    this.insecureNets.addSubnet('::1', 128, 'ipv6');
    for (const entry of insecureRegistries) {
      const cidr = /^([^/]+)\/(\d+)$/.exec(entry);
      if (cidr && isIP(cidr[1] ?? '')) {
        const family = isIP(cidr[1] ?? '') === 6 ? 'ipv6' : 'ipv4';
        this.insecureNets.addSubnet(cidr[1] ?? '', Number(cidr[2]), family);
        this.insecureCidrs.push(entry);
      } else {
        this.insecureHosts.add(entry.replace(/^https?:\/\//, '').replace(/\/$/, ''));
      }
    }
  }

  /** Hostnames given with --insecure-registry (for /info's IndexConfigs). */
  get insecureHostnames(): string[] {
    return [...this.insecureHosts];
  }

  isInsecure(domain: string): boolean {
    if (this.insecureHosts.has(domain)) return true;
    const host = hostOf(domain);
    if (host === 'localhost' || this.insecureHosts.has(host)) return true;
    const family = isIP(host);
    if (family) return this.insecureNets.check(host, family === 6 ? 'ipv6' : 'ipv4');
    return false;
  }

  baseUrl(domain: string): string {
    if (domain === DEFAULT_DOMAIN) return `https://${DOCKER_HUB_HOST}`;
    return `${this.isInsecure(domain) ? 'http' : 'https'}://${domain}`;
  }
}

/** `127.0.0.1:5000` -> `127.0.0.1`, `[::1]:5000` -> `::1` */
function hostOf(domain: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(domain);
  if (bracketed) return bracketed[1] ?? domain;
  const colon = domain.lastIndexOf(':');
  return colon === -1 ? domain : domain.slice(0, colon);
}
