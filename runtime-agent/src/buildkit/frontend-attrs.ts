// The options of BuildKit's dockerfile.v0 frontend (what buildx and compose send as frontend
// attributes) as berthd's builder takes them. An option the builder cannot honour is refused by
// name, never dropped.
import { Code, GrpcError } from './grpc/status.js';
import { formatPlatform, hostPlatform, parsePlatform } from '../images/platform.js';

export interface DockerfileOptions {
  filename: string;
  target?: string;
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  noCache: boolean;
  noCacheStages: string[];
  pull: boolean;
  networkMode?: string;
  extraHosts: string[];
  runResources: Record<string, unknown>;
  /** The names of the client's directories: the context and the Dockerfile's. */
  contextName: string;
  dockerfileName: string;
  /** The Dockerfile comes from the client's `dockerfile` directory even when the context is remote. */
  dockerfileFromClient: boolean;
  /** A context that is not a directory of the client's: a Git or http(s) URL, or a tar the client uploads. */
  remoteContext?: string;
  /** --cache-from: caches to import before the build (BuildKit's client passes them as `cache-imports`). */
  cacheImports: CacheImport[];
  /** --build-context: name -> `local:NAME` (a directory the session sends) or `docker-image://REF`. */
  namedContexts: Record<string, string>;
}

/** One --cache-from as BuildKit's client sends it: `{"Type":"local","Attrs":{"src":"dir","digest":"sha256:..."}}`. */
export interface CacheImport {
  type: string;
  attrs: Record<string, string>;
}

function parseCacheImports(value: string): CacheImport[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value || '[]');
  } catch {
    throw new GrpcError(Code.INVALID_ARGUMENT, `invalid cache-imports ${JSON.stringify(value.slice(0, 200))}: not JSON`);
  }
  if (!Array.isArray(parsed)) throw new GrpcError(Code.INVALID_ARGUMENT, 'invalid cache-imports: not a list');
  return parsed.map((entry: { Type?: unknown; Attrs?: unknown }) => {
    if (typeof entry?.Type !== 'string' || (entry.Attrs !== undefined && (typeof entry.Attrs !== 'object' || entry.Attrs === null))) throw new GrpcError(Code.INVALID_ARGUMENT, `invalid cache-imports entry ${JSON.stringify(entry).slice(0, 200)}`);
    return { type: entry.Type, attrs: Object.fromEntries(Object.entries((entry.Attrs ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)])) };
  });
}

/** Options that are there in every request and mean the default here. */
const DEFAULTS: Record<string, (value: string) => boolean> = {
  'multi-platform': (v) => v === '' || v === 'false',
  'image-resolve-mode': (v) => ['', 'default', 'pull', 'local'].includes(v),
  'force-network-mode': (v) => ['', 'sandbox', 'default', 'host', 'none'].includes(v),
  'cgroup-parent': (v) => v === '',
  contextsubdir: (v) => v === '',
  // What the client can do for the frontend (buildx: it forwards named contexts); nothing to set.
  'frontend.caps': () => true,
};

function refuse(name: string, value: string, why: string): never {
  throw new GrpcError(Code.INVALID_ARGUMENT, `the frontend option ${name}=${JSON.stringify(value)} is not supported by berthd's builder: ${why}`);
}

export function parseDockerfileOptions(attrs: Record<string, string>): DockerfileOptions {
  const options: DockerfileOptions = { filename: 'Dockerfile', buildArgs: {}, labels: {}, noCache: false, noCacheStages: [], pull: false, extraHosts: [], runResources: {}, contextName: 'context', dockerfileName: 'dockerfile', dockerfileFromClient: false, cacheImports: [], namedContexts: {} };
  for (const [name, value] of Object.entries(attrs)) {
    if (name.startsWith('build-arg:')) options.buildArgs[name.slice('build-arg:'.length)] = value;
    else if (name.startsWith('label:')) options.labels[name.slice('label:'.length)] = value;
    else if (name.startsWith('context:')) {
      // --build-context NAME=DIR arrives as local:NAME (the directory comes through the session),
      // NAME=docker-image://REF as itself.
      const contextName = name.slice('context:'.length);
      if (!contextName) refuse(name, value, 'a named context needs a name');
      if (!/^(local:.+|docker-image:\/\/.+)$/.test(value)) refuse(name, value, 'a named context is a local directory or docker-image://REF here (not oci-layout://, git, https or a bake target)');
      options.namedContexts[contextName] = value;
    }
    else if (name.startsWith('attest:')) {
      // buildx asks for no attestation unless told to; `--provenance=false` arrives as disabled.
      if (!/(^|,)disabled=true(,|$)/.test(value) && value !== '' && value !== 'false') refuse(name, value, 'attestations need an image store that keeps them (containerd), which berthd does not have');
    } else
      switch (name) {
        case 'filename':
          if (!value || value.split('/').includes('..')) throw new GrpcError(Code.INVALID_ARGUMENT, `invalid Dockerfile name ${JSON.stringify(value)}`);
          options.filename = value;
          break;
        case 'target':
          if (value) options.target = value;
          break;
        case 'no-cache':
          // An empty value is every stage (--no-cache); a list names the stages to rebuild (--no-cache-filter).
          if (value === '') options.noCache = true;
          else options.noCacheStages = value.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
          break;
        case 'image-resolve-mode':
          options.pull = value === 'pull';
          break;
        case 'force-network-mode':
          if (value === 'host' || value === 'none') options.networkMode = value;
          break;
        case 'add-hosts':
          // BuildKit's form is name=ip (the CLI's name:ip, converted); containers take name:ip.
          for (const entry of value.split(',').map((e) => e.trim()).filter(Boolean)) {
            const eq = entry.indexOf('=');
            if (eq <= 0) throw new GrpcError(Code.INVALID_ARGUMENT, `invalid add-hosts entry ${JSON.stringify(entry)}: expected name=ip`);
            options.extraHosts.push(`${entry.slice(0, eq)}:${entry.slice(eq + 1)}`);
          }
          break;
        case 'platform':
          for (const platform of value.split(',').filter(Boolean)) {
            if (formatPlatform(parsePlatform(platform)) !== formatPlatform(hostPlatform())) refuse(name, value, `it builds for ${formatPlatform(hostPlatform())} only`);
          }
          break;
        case 'shm-size': {
          const bytes = Number(value);
          if (!Number.isInteger(bytes) || bytes < 0) throw new GrpcError(Code.INVALID_ARGUMENT, `invalid shm-size ${JSON.stringify(value)}`);
          if (bytes) options.runResources.ShmSize = bytes;
          break;
        }
        case 'ulimit': {
          const ulimits = value.split(',').filter(Boolean).map((u) => {
            const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(u);
            if (!m) throw new GrpcError(Code.INVALID_ARGUMENT, `invalid ulimit ${JSON.stringify(u)}`);
            return { Name: m[1], Soft: Number(m[2]), Hard: Number(m[3] ?? m[2]) };
          });
          if (ulimits.length) options.runResources.Ulimits = ulimits;
          break;
        }
        case 'contextkey':
          options.contextName = value || 'context';
          break;
        case 'dockerfilekey':
          options.dockerfileName = value || 'dockerfile';
          options.dockerfileFromClient = true;
          break;
        case 'context':
          if (value) options.remoteContext = value;
          break;
        case 'cache-imports':
          options.cacheImports = parseCacheImports(value);
          break;
        default: {
          const isDefault = DEFAULTS[name];
          if (!isDefault || !isDefault(value)) refuse(name, value, 'unknown option');
        }
      }
  }
  return options;
}
