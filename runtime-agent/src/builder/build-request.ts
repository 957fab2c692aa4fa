// One build as POST /build asks for it: the context received into a directory of its own (from the
// request's body or a remote URL), the build, the tags, and the directory removed whatever happens.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';

import type { ImageService } from '../images/image-service.js';
import { removeTree } from '../util/remove-tree.js';
import { familiarString } from '../vocabulary/reference.js';
import { ignoreRules, receiveContext } from './build-context.js';
import type { BuildOptions, BuildOutput, Builder } from './builder.js';
import { fetchRemoteContext } from './remote-context.js';

export interface BuildRequest extends Omit<BuildOptions, 'contextDir' | 'ignored'> {
  /** The context: a tar (or a bare Dockerfile) in the request's body, or a URL the engine fetches. */
  context: { body: Readable } | { remote: string };
}

export interface BuildRequestOutput extends BuildOutput {
  /** The image is built (before it is tagged). */
  built(id: string): void;
  tagged(name: string): void;
}

/** Builds in `workRoot/<random>`; returns the image ID. */
export async function runBuildRequest(builder: Builder, images: ImageService, workRoot: string, request: BuildRequest, out: BuildRequestOutput): Promise<string> {
  const contextDir = path.join(workRoot, randomBytes(16).toString('hex'));
  await fs.mkdir(contextDir, { recursive: true, mode: 0o700 });
  try {
    if ('remote' in request.context) await fetchRemoteContext(request.context.remote, contextDir);
    else await receiveContext(request.context.body, contextDir);
    const { context: _context, ...options } = request;
    const id = await builder.build({ ...options, contextDir, ignored: await ignoreRules(contextDir, request.dockerfile) }, out);
    out.built(id);
    for (const tag of request.tags) {
      await images.tag(id, familiarString(tag));
      out.tagged(familiarString(tag));
    }
    return id;
  } finally {
    await removeTree(contextDir).catch(() => undefined);
  }
}
