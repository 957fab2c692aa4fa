// POST /build (the classic builder the CLI uses when the engine does not offer BuildKit).
import path from 'node:path';

import { BUILD_CACHE_FILTERS, pruneBuildCache } from '../../builder/build-cache.js';
import { runBuildRequest } from '../../builder/build-request.js';
import { StepFailedError } from '../../builder/builder.js';
import { DockerfileError } from '../../builder/dockerfile.js';
import type { Engine } from '../../engine.js';
import { formatPlatform, hostPlatform, parsePlatform } from '../../images/platform.js';
import { decodeRegistryConfigHeader } from '../../registry/auth-config.js';
import { parseNormalizedNamed } from '../../vocabulary/reference.js';
import { InvalidParameterError, errorMessage } from '../../util/errors.js';
import { Filters } from '../../util/filters.js';
import { ProgressReporter } from '../../vocabulary/progress.js';
import type { Router } from '../router.js';

function jsonParam<T>(value: string | null, name: string, fallback: T): T {
  if (!value) return fallback;
  try {
    return JSON.parse(value) as T;
  } catch {
    throw new InvalidParameterError(`invalid ${name}: ${value}`);
  }
}

/** The resource limits of `docker build` (--memory, --cpu-*, --shm-size, --ulimit) for its RUN containers. */
function buildResources(q: URLSearchParams): Record<string, unknown> {
  const number = (name: string): number | undefined => {
    const value = q.get(name);
    if (value === null || value === '') return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InvalidParameterError(`invalid ${name}: ${value}`);
    return n || undefined;
  };
  const ulimits = jsonParam<{ Name: string; Soft: number; Hard: number }[]>(q.get('ulimits'), 'ulimits', []);
  const resources: Record<string, unknown> = {
    Memory: number('memory'),
    MemorySwap: q.get('memswap') === '-1' ? -1 : number('memswap'),
    CpuShares: number('cpushares'),
    CpuPeriod: number('cpuperiod'),
    CpuQuota: number('cpuquota'),
    ShmSize: number('shmsize'),
    CpusetCpus: q.get('cpusetcpus') || undefined,
    ...(ulimits.length ? { Ulimits: ulimits } : {}),
  };
  return Object.fromEntries(Object.entries(resources).filter(([, v]) => v !== undefined));
}

export function registerBuildRoutes(router: Router, engine: Engine): void {
  const builder = engine.builder;

  router.post('/build/prune', async (ctx) => {
    const keepStorage = Number(ctx.query.get('keep-storage') ?? '0');
    if (!Number.isInteger(keepStorage) || keepStorage < 0) throw new InvalidParameterError(`invalid keep-storage: ${ctx.query.get('keep-storage')}`);
    const filters = Filters.parse(ctx.query.get('filters'), BUILD_CACHE_FILTERS);
    const { deleted, reclaimed } = await pruneBuildCache(engine.images, { all: ctx.flag('all'), keepStorage, filters });
    ctx.send(200, { CachesDeleted: deleted.length ? deleted.map((e) => e.ID) : null, SpaceReclaimed: reclaimed });
  });

  router.post('/build', async (ctx) => {
    const q = ctx.query;
    const tags = q.getAll('t').filter(Boolean).map((t) => parseNormalizedNamed(t));
    const dockerfile = path.posix.normalize(q.get('dockerfile') || 'Dockerfile').replace(/^\/+/, '');
    if (dockerfile.startsWith('..')) throw new InvalidParameterError(`the Dockerfile (${dockerfile}) must be within the build context`);
    const buildArgs = jsonParam<Record<string, string | null>>(q.get('buildargs'), 'buildargs', {});
    const labels = jsonParam<Record<string, string>>(q.get('labels'), 'labels', {});
    const extraHosts = q.getAll('extrahosts').flatMap((h) => h.split(',')).map((h) => h.trim()).filter(Boolean);
    const quiet = ctx.flag('q');
    const registryAuth = decodeRegistryConfigHeader(ctx.header('x-registry-config'));
    const cacheFrom = jsonParam<unknown>(q.get('cachefrom'), 'cachefrom', []);
    if (!Array.isArray(cacheFrom) || !cacheFrom.every((c) => typeof c === 'string')) throw new InvalidParameterError('invalid cachefrom: a JSON list of image names is expected');
    const remote = q.get('remote');
    // What dockerd's classic builder takes and berthd cannot do is refused, not ignored.
    if (ctx.flag('squash')) throw new InvalidParameterError('squash is only supported with experimental mode');
    const platform = q.get('platform');
    if (platform && formatPlatform(parsePlatform(platform)) !== formatPlatform(hostPlatform())) {
      throw new InvalidParameterError(`berthd's classic builder builds for ${formatPlatform(hostPlatform())} only, not ${platform}`);
    }
    if (q.get('outputs')) throw new InvalidParameterError('outputs are a BuildKit feature; the classic builder stores the image');
    const runResources = buildResources(q);

    const stream = ctx.messageStream();
    try {
      await runBuildRequest(
        builder,
        engine.images,
        path.join(engine.config.dataRoot, 'build'),
        {
          context: remote ? { remote } : { body: ctx.req },
          dockerfile,
          tags,
          buildArgs,
          labels,
          ...(q.get('target') ? { target: q.get('target')! } : {}),
          noCache: ctx.flag('nocache'),
          pull: ctx.flag('pull'),
          quiet,
          ...(q.get('networkmode') ? { networkMode: q.get('networkmode')! } : {}),
          extraHosts,
          registryAuth,
          cacheFrom: cacheFrom as string[],
          runResources,
        },
        {
          stream: (text) => stream.write({ stream: text }),
          // -q prints the image ID only: the pull of a FROM image is not shown either (dockerd).
          progress: quiet ? new ProgressReporter(() => undefined) : stream.reporter,
          built: (id) => {
            stream.write({ aux: { ID: id } });
            stream.write({ stream: quiet ? `${id}\n` : `Successfully built ${id.slice(7, 19)}\n` });
          },
          tagged: (name) => {
            if (!quiet) stream.write({ stream: `Successfully tagged ${name}\n` });
          },
        },
      );
    } catch (err) {
      const message = err instanceof StepFailedError || err instanceof DockerfileError ? err.message : errorMessage(err);
      stream.write({ errorDetail: { message, ...(err instanceof StepFailedError ? { code: err.code } : {}) }, error: message });
    } finally {
      stream.end();
    }
  });
}
