// Published ports as a container asks for them (-p, -P with the image's EXPOSE) and as the Engine
// API reports them once bound (NetworkSettings.Ports, the Ports of `docker ps`).
import { InvalidParameterError } from '../util/errors.js';
import type { PortBinding, PortMap } from '../vocabulary/network-record.js';

export type Protocol = 'tcp' | 'udp' | 'sctp';

export interface PortRequest {
  proto: Protocol;
  containerPort: number;
  hostIp: string;
  /** First and last acceptable host port; 0-0 asks for any free port. */
  hostPorts: [number, number];
}

/** "80/tcp" -> [80, 'tcp']; a missing protocol means tcp. */
export function parsePortKey(key: string): [number, Protocol] {
  const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/i.exec(key);
  const port = m ? Number(m[1]) : NaN;
  if (!m || port < 1 || port > 65535) throw new InvalidParameterError(`invalid port specification: "${key}"`);
  return [port, (m[2]?.toLowerCase() ?? 'tcp') as Protocol];
}

function hostPortRange(value: string | undefined, key: string): [number, number] {
  // "0", as "", asks for any free port (dockerd; testcontainers sends it for every port).
  if (!value || value === '0') return [0, 0];
  const m = /^(\d+)(?:-(\d+))?$/.exec(value);
  const first = m ? Number(m[1]) : NaN;
  const last = m?.[2] ? Number(m[2]) : first;
  if (!m || first < 1 || last > 65535 || last < first) throw new InvalidParameterError(`invalid port specification: "${value}" for ${key}`);
  return [first, last];
}

/** Every binding the container wants, in a stable order. */
export function portRequests(portBindings: PortMap | null | undefined, publishAll: boolean, exposed: Record<string, unknown> | null | undefined, defaultHostIp: string): PortRequest[] {
  const requests: PortRequest[] = [];
  const seen = new Set<string>();
  for (const [key, bindings] of Object.entries(portBindings ?? {})) {
    const [containerPort, proto] = parsePortKey(key);
    seen.add(`${containerPort}/${proto}`);
    for (const binding of bindings ?? [{ HostIp: '', HostPort: '' }]) {
      requests.push({ proto, containerPort, hostIp: binding.HostIp || defaultHostIp, hostPorts: hostPortRange(binding.HostPort, key) });
    }
  }
  if (publishAll) {
    for (const key of Object.keys(exposed ?? {})) {
      const [containerPort, proto] = parsePortKey(key);
      if (seen.has(`${containerPort}/${proto}`)) continue;
      requests.push({ proto, containerPort, hostIp: defaultHostIp, hostPorts: [0, 0] });
    }
  }
  return requests;
}

/** Checks -p values at create, so a typo fails `docker create`, not a later start. */
export function validatePortBindings(portBindings: PortMap | null | undefined): void {
  portRequests(portBindings, false, {}, '0.0.0.0');
}

export interface BoundPort {
  proto: Protocol;
  containerPort: number;
  hostIp: string;
  hostPort: number;
}

/** NetworkSettings.Ports: bound ports, and exposed ones that are not published as null. */
export function portMap(bound: BoundPort[], exposed: Record<string, unknown> | null | undefined): PortMap {
  const map: PortMap = {};
  for (const key of Object.keys(exposed ?? {})) {
    const [port, proto] = parsePortKey(key);
    map[`${port}/${proto}`] = null;
  }
  for (const b of bound) {
    const key = `${b.containerPort}/${b.proto}`;
    const binding: PortBinding = { HostIp: b.hostIp, HostPort: String(b.hostPort) };
    map[key] = [...(map[key] ?? []), binding];
  }
  return map;
}

/** The Ports column of `GET /containers/json`. */
export function portSummary(ports: PortMap | undefined): { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[] {
  const rows: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[] = [];
  for (const [key, bindings] of Object.entries(ports ?? {})) {
    const [port, proto] = parsePortKey(key);
    if (!bindings || bindings.length === 0) rows.push({ PrivatePort: port, Type: proto });
    else for (const b of bindings) rows.push({ IP: b.HostIp, PrivatePort: port, PublicPort: Number(b.HostPort), Type: proto });
  }
  return rows;
}
