// --cache-to and --cache-from as BuildKit's client sends them (CacheOptionsEntry: a type and its
// attributes), checked before the build: a type or an option berthd would not honour is refused
// by name, never dropped.
import { Code, GrpcError } from '../grpc/status.js';

export interface CacheEntry {
  type: string;
  attrs: Record<string, string>;
}

const anything = () => true;
const nonEmpty = (v: string) => v !== '';
const flag = (v: string) => ['', 'true', 'false', '1', '0'].includes(v);

const EXPORT_OPTIONS: Record<string, Record<string, (value: string) => boolean>> = {
  local: {
    dest: nonEmpty,
    mode: (v) => ['', 'min', 'max'].includes(v),
    // The tag of index.json is the client's business (it writes the file).
    tag: anything,
    'ignore-error': flag,
    // Layers go as berthd stores them (OCI media types, uncompressed or as pulled).
    'oci-mediatypes': (v) => ['', 'true', '1'].includes(v),
    'image-manifest': (v) => ['', 'false', '0'].includes(v),
  },
  inline: {
    mode: (v) => ['', 'min'].includes(v),
  },
};

const IMPORT_OPTIONS: Record<string, Record<string, (value: string) => boolean>> = {
  // The client resolves `digest` from index.json (by `tag`) before it sends the import.
  local: { src: nonEmpty, digest: nonEmpty, tag: anything },
  registry: { ref: nonEmpty },
};

/** What each type cannot do without (the local import's digest has a message of its own). */
const REQUIRED: Record<string, string[]> = {
  'cache-to local': ['dest'],
  'cache-from local': ['src'],
  'cache-from registry': ['ref'],
};

function check(kind: 'cache-to' | 'cache-from', table: typeof EXPORT_OPTIONS, entry: CacheEntry): void {
  const options = table[entry.type];
  const flagName = `--${kind}`;
  if (!options) throw new GrpcError(Code.UNIMPLEMENTED, `${flagName} type=${entry.type} is not supported by berthd (it has ${Object.keys(table).map((t) => `type=${t}`).join(' and ')})`);
  for (const [name, value] of Object.entries(entry.attrs)) {
    const accepts = options[name];
    if (!accepts || !accepts(value)) throw new GrpcError(Code.INVALID_ARGUMENT, `${flagName} type=${entry.type}: option ${name}=${JSON.stringify(value)} is not supported by berthd`);
  }
  for (const name of REQUIRED[`${kind} ${entry.type}`] ?? []) {
    if (!entry.attrs[name]) throw new GrpcError(Code.INVALID_ARGUMENT, `${flagName} type=${entry.type} needs ${name}=`);
  }
  if (kind === 'cache-from' && entry.type === 'local' && !entry.attrs.digest) throw new GrpcError(Code.INVALID_ARGUMENT, `--cache-from type=local,src=${entry.attrs.src}: the client named no manifest digest (is there an index.json in that directory?)`);
}

export function checkCacheExport(entry: CacheEntry): void {
  check('cache-to', EXPORT_OPTIONS, entry);
}

export function checkCacheImport(entry: CacheEntry): void {
  check('cache-from', IMPORT_OPTIONS, entry);
}

/** SolveRequest.Cache's entries (protobuf messages) as CacheEntry. */
export function cacheEntries(list: unknown): CacheEntry[] {
  return ((list ?? []) as { Type?: unknown; Attrs?: Record<string, unknown> }[]).map((e) => ({
    type: String(e.Type ?? ''),
    attrs: Object.fromEntries(Object.entries(e.Attrs ?? {}).map(([k, v]) => [k, String(v)])),
  }));
}
