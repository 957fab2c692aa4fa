// /etc/hosts and /etc/resolv.conf as dockerd writes them for a container.

const DEFAULT_HOSTS = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', 'fe00::0\tip6-localnet', 'ff00::0\tip6-mcastprefix', 'ff02::1\tip6-allnodes', 'ff02::2\tip6-allrouters'];

export interface HostsInput {
  hostname: string;
  domainname?: string;
  /** The container's address on its first network; none with --network none. */
  ip?: string;
  /** --add-host entries, already resolved ("name:ip"). */
  extraHosts: string[];
}

export function hostsFile(input: HostsInput): string {
  const lines = [...DEFAULT_HOSTS];
  for (const entry of input.extraHosts) {
    const sep = entry.indexOf(':');
    lines.push(`${entry.slice(sep + 1)}\t${entry.slice(0, sep)}`);
  }
  if (input.ip) {
    const names = input.domainname ? `${input.hostname}.${input.domainname} ${input.hostname}` : input.hostname;
    lines.push(`${input.ip}\t${names}`);
  }
  return lines.join('\n') + '\n';
}

export interface ResolvInput {
  /** The host's /etc/resolv.conf. */
  host: string;
  /** true on user-defined networks: the embedded server at 127.0.0.11 answers. */
  embedded: boolean;
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
}

const FALLBACK_NAMESERVERS = ['8.8.8.8', '8.8.4.4'];

export function resolvConf(input: ResolvInput): string {
  const hostLines = input.host.split('\n');
  const hostSearch = hostLines.filter((l) => /^\s*(search|domain)\s/.test(l)).flatMap((l) => l.trim().split(/\s+/).slice(1));
  const hostOptions = hostLines.filter((l) => /^\s*options\s/.test(l)).flatMap((l) => l.trim().split(/\s+/).slice(1));
  const hostServers = hostLines.map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1]).filter((s): s is string => Boolean(s));
  const search = input.dnsSearch.length ? input.dnsSearch.filter((s) => s !== '.') : hostSearch;
  let servers: string[];
  let options = input.dnsOptions.length ? input.dnsOptions : hostOptions;
  if (input.embedded) {
    servers = ['127.0.0.11'];
    if (!options.some((o) => o.startsWith('ndots:'))) options = [...options, 'ndots:0'];
  } else if (input.dns.length) {
    servers = input.dns;
  } else {
    // A resolver on the host's loopback cannot be reached from the container's namespace.
    servers = hostServers.filter((s) => !/^127\./.test(s) && s !== '::1');
    if (servers.length === 0) servers = FALLBACK_NAMESERVERS;
  }
  const lines: string[] = [];
  if (search.length) lines.push(`search ${search.join(' ')}`);
  for (const server of servers) lines.push(`nameserver ${server}`);
  if (options.length) lines.push(`options ${options.join(' ')}`);
  return lines.join('\n') + '\n';
}
