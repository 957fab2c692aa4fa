// RUN --mount (BuildKit's Dockerfile syntax): what each mount means, its part in the step's cache
// key, and the container mounts it becomes for the one step. Nothing a mount brings (a secret, an
// agent socket, a cache, a bind) ends up in the step's layer.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { resolveInRoot } from '../containers/rootfs-paths.js';
import { CacheMounts, type Sharing } from './cache-mounts.js';
import { planChecksum, resolveSources } from './copy-layer.js';
import { DockerfileError } from './dockerfile.js';
import { kindInLayers, withStateFs, type BuildState } from './image-steps.js';
import type { StepContext } from './step-context.js';

export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';

export interface RunMount {
  type: MountType;
  /** Where it appears in the step's container (absolute). */
  target: string;
  /** bind/cache: a stage, image or named context to take it from (else the build context). */
  from?: string;
  /** bind/cache: the path inside `from` or the context. */
  source: string;
  readonly: boolean;
  /** cache: the cache's name (default: the target); secret/ssh: what the client calls it. */
  id: string;
  sharing: Sharing;
  mode: number;
  uid: number;
  gid: number;
  /** secret/ssh: fail when the client does not have it (else the step runs without it). */
  required: boolean;
  /** secret: an environment variable that holds it (instead of, or besides, a file). */
  env?: string;
  /** tmpfs: its size in bytes. */
  size?: number;
  /** The spec as written, for messages. */
  spec: string;
}

const TYPES: MountType[] = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];
const BOOLEAN = new Set(['true', 'false', '1', '0', '']);

/** Parses one `--mount=type=cache,target=/root/.npm,...` (its value, variables expanded). */
export function parseRunMount(spec: string, line: number, sshIndex: number): RunMount {
  const fields = new Map<string, string>();
  for (const part of spec.split(',')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? '' : part.slice(eq + 1);
    const canonical = ({ src: 'source', dst: 'target', destination: 'target', ro: 'readonly', rw: 'readwrite' } as Record<string, string>)[key] ?? key;
    if (!['type', 'from', 'source', 'target', 'readonly', 'readwrite', 'id', 'sharing', 'mode', 'uid', 'gid', 'required', 'env', 'size'].includes(canonical)) {
      throw new DockerfileError(line, `RUN --mount=${spec}: unexpected key '${key}'`);
    }
    if (eq < 0 && !['readonly', 'readwrite', 'required'].includes(canonical)) throw new DockerfileError(line, `RUN --mount=${spec}: ${key} needs a value (${key}=...)`);
    fields.set(canonical, value);
  }
  const type = (fields.get('type') ?? 'bind') as MountType;
  if (!TYPES.includes(type)) throw new DockerfileError(line, `RUN --mount=${spec}: unsupported mount type "${type}" (it is one of ${TYPES.join(', ')})`);
  const flag = (name: string): boolean | undefined => {
    const value = fields.get(name);
    if (value === undefined) return undefined;
    if (!BOOLEAN.has(value)) throw new DockerfileError(line, `RUN --mount=${spec}: invalid value for ${name}: ${value}`);
    return value === '' || value === 'true' || value === '1';
  };
  const number = (name: string, radix: number, fallback: number): number => {
    const value = fields.get(name);
    if (value === undefined) return fallback;
    const parsed = radix === 8 ? (/^[0-7]{1,4}$/.test(value) ? parseInt(value, 8) : NaN) : /^\d+$/.test(value) ? Number(value) : NaN;
    if (Number.isNaN(parsed)) throw new DockerfileError(line, `RUN --mount=${spec}: invalid ${name} ${JSON.stringify(value)}`);
    return parsed;
  };
  const readwrite = flag('readwrite');
  const readonlyFlag = flag('readonly');
  if ((type === 'secret' || type === 'ssh') && readwrite) throw new DockerfileError(line, `RUN --mount=${spec}: a ${type} mount cannot be read-write`);
  for (const name of ['from', 'source', 'sharing'] as const) {
    if (fields.has(name) && type !== 'bind' && type !== 'cache' && !(name === 'source' && type === 'secret')) throw new DockerfileError(line, `RUN --mount=${spec}: ${name} is not an option of a ${type} mount`);
  }
  if (fields.has('env') && type !== 'secret') throw new DockerfileError(line, `RUN --mount=${spec}: env is an option of secret mounts only`);
  if (fields.has('size') && type !== 'tmpfs') throw new DockerfileError(line, `RUN --mount=${spec}: size is an option of tmpfs mounts only`);
  if (fields.has('required') && type !== 'secret' && type !== 'ssh') throw new DockerfileError(line, `RUN --mount=${spec}: required is an option of secret and ssh mounts only`);

  let target = fields.get('target') ?? '';
  let id = fields.get('id') ?? '';
  if (type === 'secret') {
    if (!id && !target) throw new DockerfileError(line, `RUN --mount=${spec}: a secret mount needs an id (id=name)`);
    if (!id) id = path.posix.basename(target);
    if (!target && !fields.has('env')) target = `/run/secrets/${id}`;
  } else if (type === 'ssh') {
    if (!id) id = 'default';
    if (!target) target = `/run/buildkit/ssh_agent.${sshIndex}`;
  } else if (!target) {
    throw new DockerfileError(line, `RUN --mount=${spec}: a ${type} mount needs a target (target=/path)`);
  }
  if (target && !target.startsWith('/')) target = `/${target}`;
  if (target) target = path.posix.normalize(target);
  if (target === '/') throw new DockerfileError(line, `RUN --mount=${spec}: cannot mount over /`);
  if (type === 'cache' && !id) id = target;
  const sharing = (fields.get('sharing') ?? 'shared') as Sharing;
  if (!['shared', 'private', 'locked'].includes(sharing)) throw new DockerfileError(line, `RUN --mount=${spec}: sharing is shared, private or locked, not ${JSON.stringify(sharing)}`);
  const size = fields.has('size') ? parseSize(fields.get('size')!, spec, line) : undefined;
  const env = fields.get('env');
  if (env !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(env)) throw new DockerfileError(line, `RUN --mount=${spec}: invalid environment variable name ${JSON.stringify(env)}`);
  return {
    type,
    target,
    ...(fields.get('from') ? { from: fields.get('from')! } : {}),
    source: fields.get('source') ?? '/',
    // A bind is read-only unless asked (and then its writes are thrown away); the rest are not.
    readonly: readonlyFlag ?? (type === 'bind' ? !readwrite : false),
    id,
    sharing,
    mode: number('mode', 8, type === 'secret' ? 0o400 : type === 'ssh' ? 0o600 : 0o755),
    uid: number('uid', 10, 0),
    gid: number('gid', 10, 0),
    required: flag('required') ?? false,
    ...(env ? { env } : {}),
    ...(size !== undefined ? { size } : {}),
    spec,
  };
}

function parseSize(text: string, spec: string, line: number): number {
  const m = /^(\d+)([kmg]?)b?$/i.exec(text);
  if (!m) throw new DockerfileError(line, `RUN --mount=${spec}: invalid size ${JSON.stringify(text)}`);
  return Number(m[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[m[2]!.toLowerCase()]!;
}

/** A mount as the step's cache key sees it: a bind's content, never a secret's or a cache's. */
export async function mountKey(stage: StepContext, mount: RunMount, line: number): Promise<string> {
  const { spec: _spec, ...shape } = mount;
  if (mount.type !== 'bind') return JSON.stringify(shape);
  if (mount.from) {
    const source = await stage.mountSource(mount.from, line);
    if (source.kind === 'state') return JSON.stringify({ ...shape, image: source.state.imageId ?? 'scratch' });
    return JSON.stringify({ ...shape, content: await contentChecksum(source.dir, mount, line, source.ignored) });
  }
  return JSON.stringify({ ...shape, content: await contentChecksum(stage.options.contextDir, mount, line, stage.options.ignored) });
}

async function contentChecksum(root: string, mount: RunMount, line: number, ignored: (relative: string) => boolean): Promise<string> {
  const sources = await resolveSources(root, [mount.source], line, 'RUN --mount', ignored);
  return planChecksum({ sources, destination: mount.target, intoDirectory: false, extractArchives: false }, ignored);
}

/** The container side of a step's mounts, and what to undo when the step ends. */
export interface PreparedMounts {
  /** HostConfig.Mounts of the step's container. */
  mounts: Record<string, unknown>[];
  env: string[];
  /** Paths (relative, no leading slash) the runtime creates only to mount on: kept out of the layer. */
  mountPoints: Set<string>;
  release(): Promise<void>;
}

/** Sets up every mount of a step; on failure, what was set up is undone. */
export async function prepareRunMounts(stage: StepContext, mounts: RunMount[], lowerDirs: string[], line: number, description: string): Promise<PreparedMounts> {
  const undo: (() => Promise<void> | void)[] = [];
  const prepared: PreparedMounts = {
    mounts: [],
    env: [],
    mountPoints: new Set(),
    release: async () => {
      for (const step of undo.reverse()) await Promise.resolve(step()).catch(() => undefined);
      undo.length = 0;
    },
  };
  const bind = (source: string, target: string, readonly: boolean) => prepared.mounts.push({ Type: 'bind', Source: source, Target: target, ReadOnly: readonly });
  try {
    for (const mount of mounts) {
      if (mount.target) for (const missing of await missingPath(lowerDirs, mount.target)) prepared.mountPoints.add(missing);
      switch (mount.type) {
        case 'tmpfs':
          prepared.mounts.push({ Type: 'tmpfs', Target: mount.target, ReadOnly: mount.readonly, ...(mount.size ? { TmpfsOptions: { SizeBytes: mount.size } } : {}) });
          break;
        case 'bind': {
          const { root, release } = await holdSource(stage, mount, line);
          undo.push(release);
          const source = await resolveInRoot(root, mount.source);
          if (!(await fs.lstat(source).catch(() => undefined))) throw new DockerfileError(line, `RUN --mount=${mount.spec}: ${mount.source} not found in ${mount.from ?? 'the build context'}`);
          if (mount.readonly) bind(source, mount.target, true);
          else {
            // rw: the step may write, and what it writes is thrown away with a scratch copy.
            const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-bind-'));
            undo.push(() => fs.rm(scratch, { recursive: true, force: true }));
            const copy = path.join(scratch, 'data');
            await fs.cp(source, copy, { recursive: true, verbatimSymlinks: true });
            bind(copy, mount.target, false);
          }
          break;
        }
        case 'cache': {
          let seed: string | undefined;
          if (mount.from) {
            const held = await holdSource(stage, mount, line);
            undo.push(held.release);
            seed = await resolveInRoot(held.root, mount.source);
          }
          const cache = await CacheMounts.of(stage.images.dataRoot).acquire(mount.id, mount.sharing, { mode: mount.mode, uid: mount.uid, gid: mount.gid, ...(seed ? { seed } : {}) }, `cached mount ${mount.target} from exec ${description}${mount.id !== mount.target ? ` with id ${JSON.stringify(mount.id)}` : ''}`);
          undo.push(cache.release);
          bind(cache.dir, mount.target, mount.readonly);
          break;
        }
        case 'secret': {
          const secret = await stage.options.secrets?.secret(mount.id);
          if (!secret) {
            if (mount.required) throw new DockerfileError(line, `RUN --mount=${mount.spec}: secret ${mount.id} is required but the build was given none by that id (docker buildx build --secret id=${mount.id},src=...)`);
            break;
          }
          if (mount.env) prepared.env.push(`${mount.env}=${secret.toString('utf8')}`);
          if (mount.target) {
            const file = await privateFile(undo, 'secret', secret);
            await fs.chmod(file, mount.mode);
            await fs.chown(file, mount.uid, mount.gid);
            bind(file, mount.target, true);
          }
          break;
        }
        case 'ssh': {
          if (!stage.options.secrets) throw new DockerfileError(line, `RUN --mount=${mount.spec}: this build has no ssh agent to forward (docker buildx build --ssh ${mount.id})`);
          let agent;
          try {
            agent = await stage.options.secrets.sshAgent(mount.id);
          } catch (err) {
            if (!mount.required) break;
            throw new DockerfileError(line, `RUN --mount=${mount.spec}: no ssh agent ${mount.id} from the client (docker buildx build --ssh ${mount.id}): ${err instanceof Error ? err.message : String(err)}`);
          }
          undo.push(() => agent.close());
          await fs.chmod(agent.socketPath, mount.mode);
          await fs.chown(agent.socketPath, mount.uid, mount.gid);
          bind(agent.socketPath, mount.target, false);
          if (!prepared.env.some((e) => e.startsWith('SSH_AUTH_SOCK='))) prepared.env.push(`SSH_AUTH_SOCK=${mount.target}`);
          break;
        }
      }
    }
    return prepared;
  } catch (err) {
    await prepared.release();
    throw err;
  }
}

/** The target and its parents that the image does not have (the runtime makes them to mount on). */
async function missingPath(lowerDirs: string[], target: string): Promise<string[]> {
  const parts = target.split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    if ((await kindInLayers(lowerDirs, parts.slice(0, i).join('/'))) !== 'missing') continue;
    const missing: string[] = [];
    for (let j = i; j <= parts.length; j++) missing.push(parts.slice(0, j).join('/'));
    return missing;
  }
  return [];
}

/** A file only root can read, on a memory-backed filesystem when there is one (a secret never touches the disk). */
async function privateFile(undo: (() => Promise<void> | void)[], name: string, content: Buffer): Promise<string> {
  const base = (await fs.stat('/dev/shm').then((s) => s.isDirectory(), () => false)) ? '/dev/shm' : os.tmpdir();
  const dir = await fs.mkdtemp(path.join(base, 'berth-run-'));
  undo.push(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.chmod(dir, 0o711);
  const file = path.join(dir, name);
  await fs.writeFile(file, content, { mode: 0o400 });
  return file;
}

/** The filesystem a bind or a cache's seed comes from, readable until release(). */
async function holdSource(stage: StepContext, mount: RunMount, line: number): Promise<{ root: string; release(): Promise<void> }> {
  if (!mount.from) return { root: stage.options.contextDir, release: async () => undefined };
  const source = await stage.mountSource(mount.from, line);
  if (source.kind === 'directory') return { root: source.dir, release: async () => undefined };
  return holdStateFs(stage, source.state);
}

/** withStateFs, held open across the step's run instead of one callback. */
function holdStateFs(stage: StepContext, state: BuildState): Promise<{ root: string; release(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    let letGo!: () => void;
    const held = new Promise<void>((r) => (letGo = r));
    let opened = false;
    const finished = withStateFs(stage.images, state, async (root) => {
      opened = true;
      resolve({
        root,
        release: async () => {
          letGo();
          await finished.catch(() => undefined);
        },
      });
      await held;
    });
    finished.catch((err: unknown) => {
      if (!opened) reject(err);
    });
  });
}
