// Legacy links (`--link db:alias`, HostConfig.Links), as dockerd keeps them: stored as
// "/db:/web/alias"; on the default bridge, the linked container's address, exposed ports and
// environment become variables (ALIAS_PORT_80_TCP_ADDR, ALIAS_NAME, ALIAS_ENV_X ...) and /etc/hosts
// names (alias, its hostname, its name). On a user-defined network a link is a DNS alias only.
import { ConflictError, InvalidParameterError, NotFoundError } from '../util/errors.js';
import { parseLink, type ContainerRecord, type Link } from '../vocabulary/container-record.js';

/** Links of a create request, checked (the containers exist) and in dockerd's stored form. */
export function normalizeLinks(entries: readonly string[], parentName: string, networkMode: string, find: (name: string) => ContainerRecord | undefined): string[] {
  if (entries.length && networkMode === 'host') {
    throw new InvalidParameterError("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
  }
  return entries.map((entry) => {
    const link = parseLink(entry);
    const child = find(link.child.slice(1));
    if (!child) throw new NotFoundError(`could not get container for ${link.child.slice(1)}: No such container: ${link.child.slice(1)}`);
    return `${child.Name}:${parentName}/${link.alias}`;
  });
}

/** The containers a container links to, which must run when it starts. */
export function linkedContainers(record: ContainerRecord, find: (name: string) => ContainerRecord | undefined): { link: Link; child: ContainerRecord }[] {
  return (record.HostConfig.Links ?? []).map((entry) => {
    const link = parseLink(entry);
    const child = find(link.child.slice(1));
    if (!child || (child.State.Status !== 'running' && child.State.Status !== 'paused')) {
      throw new ConflictError(`Cannot link to a non running container: ${link.child} AS ${record.Name}/${link.alias}`);
    }
    return { link, child };
  });
}

/** "80/tcp" -> [80, 'tcp']. */
function portOf(key: string): [number, string] {
  const [port = '0', proto = 'tcp'] = key.split('/');
  return [Number(port), proto];
}

/** The variables dockerd gives a container for one link (daemon/links: ToEnv), in its order. */
export function linkEnv(linkName: string, childIp: string, child: ContainerRecord): string[] {
  const alias = (linkName.split('/').pop() ?? '').toUpperCase().replaceAll('-', '_');
  const ports = Object.keys(child.Config.ExposedPorts ?? {}).map(portOf).sort((a, b) => a[0] - b[0] || (a[1] === 'tcp' ? -1 : b[1] === 'tcp' ? 1 : 0));
  const env: string[] = [];
  const first = ports[0];
  if (first) env.push(`${alias}_PORT=${first[1]}://${childIp}:${first[0]}`);
  // Runs of consecutive ports also get _START and _END variables.
  for (let i = 0; i < ports.length; ) {
    let j = i;
    while (j + 1 < ports.length && ports[j + 1]![0] === ports[j]![0] + 1) j++;
    if (j > i) {
      const [port, proto] = ports[i]!;
      const [endPort, endProto] = ports[j]!;
      const key = `${alias}_PORT_${port}_${proto.toUpperCase()}`;
      env.push(`${key}_START=${proto}://${childIp}:${port}`, `${key}_ADDR=${childIp}`, `${key}_PROTO=${proto}`, `${key}_PORT_START=${port}`);
      env.push(`${alias}_PORT_${port}_${endProto.toUpperCase()}_END=${endProto}://${childIp}:${endPort}`, `${alias}_PORT_${port}_${endProto.toUpperCase()}_PORT_END=${endPort}`);
      i = j + 1;
    } else i++;
  }
  for (const [port, proto] of ports) {
    const key = `${alias}_PORT_${port}_${proto.toUpperCase()}`;
    env.push(`${key}=${proto}://${childIp}:${port}`, `${key}_ADDR=${childIp}`, `${key}_PORT=${port}`, `${key}_PROTO=${proto}`);
  }
  env.push(`${alias}_NAME=${linkName}`);
  for (const entry of child.Config.Env ?? []) {
    const eq = entry.indexOf('=');
    if (eq === -1) continue;
    const name = entry.slice(0, eq);
    if (name === 'HOME' || name === 'PATH') continue;
    env.push(`${alias}_ENV_${name}=${entry.slice(eq + 1)}`);
  }
  return env;
}

/** /etc/hosts names for a link: the alias, the linked container's hostname and its name. */
export function linkHostNames(link: Link, child: ContainerRecord): string[] {
  const names = [link.alias, child.Config.Hostname ?? ''];
  if (link.alias !== child.Name.slice(1)) names.push(child.Name.slice(1));
  return names.filter(Boolean);
}
