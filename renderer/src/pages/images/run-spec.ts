// The Run form's text turned into a `POST /containers/create` body, with one message per mistake
// so the form can say what is wrong with which line. Same notations as `docker run`: -p, -e, -v.
// A type import only: the browser test loads these rules directly, in Node.
import type { ContainerCreateRequest, HostConfig } from '../../../../electron/src/common/engine-types.js';

export interface RunInput {
  image: string;
  name: string;
  ports: string;
  env: string;
  volumes: string;
  command: string;
}

export type RunField = 'name' | 'ports' | 'env' | 'volumes' | 'command';

/** What the form fills in of a create request: the host part is always there, to fill. */
export type CreateBody = ContainerCreateRequest & { HostConfig: HostConfig };

export type RunSpec = { ok: true; name: string | undefined; body: CreateBody } | { ok: false; errors: Partial<Record<RunField, string[]>> };

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const PROTOCOLS = new Set(['tcp', 'udp', 'sctp']);
const MAX_RANGE = 1000;

/** Entries of a multi-line field: one per line or comma, blank lines and # comments skipped. */
function entries(text: string, commas: boolean): string[] {
  return text
    .split(commas ? /[\n,]/ : /\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
}

/** "8080" or "8000-8010" → the ports, or why not. */
function portRange(text: string, what: string): number[] | string {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text);
  const first = m ? Number(m[1]) : NaN;
  const last = m?.[2] !== undefined ? Number(m[2]) : first;
  if (!m || first < 1 || last > 65535 || first > 65535) return `${what} "${text}" is not a number between 1 and 65535`;
  if (last < first) return `${what} range "${text}" ends before it starts`;
  if (last - first >= MAX_RANGE) return `${what} range "${text}" is longer than ${MAX_RANGE} ports`;
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

interface Binding { containerPort: string; hostIp: string; hostPort: string }

/** `[ip:][hostPort]:containerPort[/proto]` or `containerPort[/proto]`, as `docker run -p` takes it. */
export function parsePort(spec: string): Binding[] | string {
  const slash = spec.lastIndexOf('/');
  const protocol = slash >= 0 ? spec.slice(slash + 1).toLowerCase() : 'tcp';
  const rest = slash >= 0 ? spec.slice(0, slash) : spec;
  if (!PROTOCOLS.has(protocol)) return `"${spec}": the protocol must be tcp, udp or sctp`;
  let hostIp = '';
  let hostText = '';
  let containerText: string;
  // An IPv6 address is written in brackets, since it has colons of its own.
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(.*)$/.exec(rest);
  const parts = v6 ? [v6[1]!, ...v6[2]!.split(':')] : rest.split(':');
  if (parts.length === 1) containerText = parts[0]!;
  else if (parts.length === 2) [hostText, containerText] = parts as [string, string];
  else if (parts.length === 3) [hostIp, hostText, containerText] = parts as [string, string, string];
  else return `"${spec}" is not [ip:]host:container[/protocol]`;
  if (hostIp && !v6 && !/^(\d{1,3})(\.\d{1,3}){3}$/.test(hostIp)) return `"${spec}": "${hostIp}" is not an IP address`;
  if (hostIp && !v6 && hostIp.split('.').some((n) => Number(n) > 255)) return `"${spec}": "${hostIp}" is not an IP address`;
  if (!containerText) return `"${spec}": the container port is missing`;
  const container = portRange(containerText, 'container port');
  if (typeof container === 'string') return `"${spec}": ${container}`;
  const host = hostText ? portRange(hostText, 'host port') : undefined;
  if (typeof host === 'string') return `"${spec}": ${host}`;
  if (host && host.length !== container.length) {
    // As docker: one container port may take the first free port of a host range; ranges of
    // different lengths on both sides mean nothing.
    if (container.length !== 1) return `"${spec}": the host and container port ranges differ in length`;
    return [{ containerPort: `${container[0]}/${protocol}`, hostIp, hostPort: hostText }];
  }
  return container.map((port, i) => ({ containerPort: `${port}/${protocol}`, hostIp, hostPort: host ? String(host[i]) : '' }));
}

/** `KEY=value`; the value may be empty and may contain `=`. */
export function parseEnv(line: string): string | { error: string } {
  const eq = line.indexOf('=');
  if (eq < 0) return { error: `"${line}" has no "=": write KEY=value` };
  const key = line.slice(0, eq);
  if (!/^[^\s=]+$/.test(key)) return { error: `"${line}": the name before "=" must not be empty or contain spaces` };
  return line;
}

/** `source:target[:ro|rw]` (a named volume or an absolute host path), or just `target` for an anonymous volume. */
export function parseVolume(line: string): { bind: string } | { anonymous: string } | { error: string } {
  const parts = line.split(':');
  if (parts.length === 1) {
    return line.startsWith('/') ? { anonymous: line } : { error: `"${line}": the path in the container must start with /` };
  }
  if (parts.length > 3) return { error: `"${line}" is not source:target[:ro]` };
  const [source, target, options] = parts as [string, string, string | undefined];
  if (!source) return { error: `"${line}": the source (a volume name or a host path) is missing` };
  if (!source.startsWith('/') && !NAME.test(source)) return { error: `"${line}": "${source}" is neither an absolute host path nor a volume name (letters, digits, _ . -, two or more)` };
  if (!target.startsWith('/')) return { error: `"${line}": the path in the container must start with /` };
  if (target === '/') return { error: `"${line}": a volume cannot be mounted over the container's /` };
  if (options !== undefined && !options.split(',').every((o) => ['ro', 'rw', 'z', 'Z', 'nocopy'].includes(o))) {
    return { error: `"${line}": the options after the second ":" may be ro or rw` };
  }
  return { bind: line };
}

/** Splits a command as a shell would split words: quotes group, a backslash escapes. */
export function splitCommand(text: string): string[] | { error: string } {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < text.length && '"\\$`'.includes(text[i + 1]!)) word += text[++i];
      else word += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (quote) return { error: `the command has a ${quote === '"' ? 'double' : 'single'} quote that is not closed` };
  if (inWord) words.push(word);
  return words;
}

export function buildRunSpec(input: RunInput): RunSpec {
  const errors: Partial<Record<RunField, string[]>> = {};
  const fail = (field: RunField, message: string) => (errors[field] ??= []).push(message);
  const body: CreateBody = { Image: input.image, HostConfig: {} };

  const name = input.name.trim();
  if (name && !NAME.test(name)) fail('name', `"${name}" is not a valid name: use letters, digits, _ . - (two characters or more, starting with a letter or digit)`);

  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  const taken = new Set<string>();
  for (const spec of entries(input.ports, true)) {
    const parsed = parsePort(spec);
    if (typeof parsed === 'string') {
      fail('ports', parsed);
      continue;
    }
    for (const b of parsed) {
      const key = `${b.hostIp || '0.0.0.0'}:${b.hostPort}/${b.containerPort.split('/')[1]}`;
      if (b.hostPort && taken.has(key)) fail('ports', `"${spec}": host port ${b.hostPort}/${b.containerPort.split('/')[1]} is already listed`);
      taken.add(key);
      (bindings[b.containerPort] ??= []).push({ HostIp: b.hostIp, HostPort: b.hostPort });
    }
  }
  if (Object.keys(bindings).length) {
    body.HostConfig.PortBindings = bindings;
    body.ExposedPorts = Object.fromEntries(Object.keys(bindings).map((p) => [p, {}]));
  }

  const env: string[] = [];
  for (const line of entries(input.env, false)) {
    const parsed = parseEnv(line);
    if (typeof parsed === 'string') env.push(parsed);
    else fail('env', parsed.error);
  }
  if (env.length) body.Env = env;

  const binds: string[] = [];
  const anonymous: string[] = [];
  const targets = new Set<string>();
  for (const line of entries(input.volumes, false)) {
    const parsed = parseVolume(line);
    if ('error' in parsed) {
      fail('volumes', parsed.error);
      continue;
    }
    const target = 'bind' in parsed ? parsed.bind.split(':')[1]! : parsed.anonymous;
    if (targets.has(target)) fail('volumes', `"${line}": ${target} is already mounted by another line`);
    targets.add(target);
    if ('bind' in parsed) binds.push(parsed.bind);
    else anonymous.push(parsed.anonymous);
  }
  if (binds.length) body.HostConfig.Binds = binds;
  if (anonymous.length) body.Volumes = Object.fromEntries(anonymous.map((p) => [p, {}]));

  if (input.command.trim()) {
    const cmd = splitCommand(input.command.trim());
    if ('error' in cmd) fail('command', cmd.error);
    else body.Cmd = cmd;
  }

  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, name: name || undefined, body };
}
