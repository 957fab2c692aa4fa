// POST /build (the classic builder the CLI uses when the engine does not offer BuildKit).
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

import { ignoreRules, receiveContext } from '../../builder/build-context.js';
import { Builder, StepFailedError } from '../../builder/builder.js';
import { DockerfileError } from '../../builder/dockerfile.js';
import type { Engine } from '../../engine.js';
import { familiarString, parseNormalizedNamed } from '../../vocabulary/reference.js';
import { InvalidParameterError, errorMessage } from '../../util/errors.js';
import { removeTree } from '../../util/remove-tree.js';
import type { Router } from '../router.js';

function jsonParam<T>(value: string | null, name: string, fallback: T): T {
  if (!value) return fallback;
  try {
    return JSON.parse(value) as T;
  } catch {
    throw new InvalidParameterError(`invalid ${name}: ${value}`);
  }
}

export function registerBuildRoutes(router: Router, engine: Engine): void {
  const builder = new Builder(engine.images, engine.containers, engine.puller);

  router.post('/build', async (ctx) => {
    const q = ctx.query;
    const tags = q.getAll('t').filter(Boolean).map((t) => parseNormalizedNamed(t));
    const dockerfile = path.posix.normalize(q.get('dockerfile') || 'Dockerfile').replace(/^\/+/, '');
    if (dockerfile.startsWith('..')) throw new InvalidParameterError(`the Dockerfile (${dockerfile}) must be within the build context`);
    const buildArgs = jsonParam<Record<string, string | null>>(q.get('buildargs'), 'buildargs', {});
    const labels = jsonParam<Record<string, string>>(q.get('labels'), 'labels', {});
    const extraHosts = q.getAll('extrahosts').flatMap((h) => h.split(',')).map((h) => h.trim()).filter(Boolean);
    const quiet = ctx.flag('q');

    const contextDir = path.join(engine.config.dataRoot, 'build', randomBytes(16).toString('hex'));
    await fs.mkdir(contextDir, { recursive: true, mode: 0o700 });
    const stream = ctx.messageStream();
    try {
      await receiveContext(ctx.req, contextDir);
      const id = await builder.build(
        {
          contextDir,
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
          ignored: await ignoreRules(contextDir, dockerfile),
        },
        { stream: (text) => stream.write({ stream: text }), progress: stream.reporter },
      );
      stream.write({ aux: { ID: id } });
      if (quiet) stream.write({ stream: `${id}\n` });
      else stream.write({ stream: `Successfully built ${id.slice(7, 19)}\n` });
      for (const tag of tags) {
        await engine.images.tag(id, familiarString(tag));
        if (!quiet) stream.write({ stream: `Successfully tagged ${familiarString(tag)}\n` });
      }
    } catch (err) {
      const message = err instanceof StepFailedError || err instanceof DockerfileError ? err.message : errorMessage(err);
      stream.write({ errorDetail: { message, ...(err instanceof StepFailedError ? { code: err.code } : {}) }, error: message });
    } finally {
      stream.end();
      await removeTree(contextDir).catch(() => undefined);
    }
  });
}
