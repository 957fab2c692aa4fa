// BuildKit's dockerfile.v0 frontend on berthd's builder: the Dockerfile, its .dockerignore and the
// context come from the client's session into a private directory, the builder runs the stages,
// and every step shows as a BuildKit vertex (`[build 2/4] RUN make`, CACHED, its output).
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

import type { Builder, BuildSecrets, NamedContext, StepHandle, StepInfo, StepObserver } from '../builder/builder.js';
import { BuildCancelledError, StepFailedError } from '../builder/builder.js';
import { DockerfileError } from '../builder/dockerfile.js';
import type { ImageService } from '../images/image-service.js';
import type { RegistryClient } from '../registry/client.js';
import { removeTree } from '../util/remove-tree.js';
import { parseNormalizedNamed, referenceString } from '../vocabulary/reference.js';
import { ProgressReporter, type JsonMessage } from '../vocabulary/progress.js';
import { dockerignoreLines, ignoreRules, receiveContext } from '../builder/build-context.js';
import { fetchRemoteContext } from '../builder/remote-context.js';
import { receiveDirectory } from './filesync.js';
import { isSessionUpload, uploadStream } from './upload.js';
import { parseDockerfileOptions } from './frontend-attrs.js';
import { importBuildCaches } from './remote-cache/import.js';
import { Code, GrpcError } from './grpc/status.js';
import type { BuildJob, SolvedRef } from './jobs.js';
import type { Vertex } from './progress.js';
import { sessionCredentials } from './session-auth.js';
import { forwardAgent, getSecret } from './session-secrets.js';
import type { Session } from './sessions.js';

export interface FrontendDeps {
  builder: Builder;
  images: ImageService;
  /** Where contexts are received (one private directory per build). */
  workRoot: string;
  /** For `--cache-from type=registry` (an image's inline cache). */
  registry?: RegistryClient;
}

/** .dockerignore's lines as fsutil's exclude patterns. */
function ignorePatterns(text: string): string[] {
  return dockerignoreLines(text).map((l) => {
    const negated = l.startsWith('!');
    const body = path.posix.normalize((negated ? l.slice(1) : l).trim()).replace(/^\/+/, '');
    return `${negated ? '!' : ''}${body}`;
  });
}

async function readIfExists(file: string): Promise<string | undefined> {
  return fs.readFile(file, 'utf8').catch(() => undefined);
}

export async function solveDockerfile(deps: FrontendDeps, job: BuildJob, session: Session, attrs: Record<string, string>, signal: AbortSignal): Promise<SolvedRef> {
  const options = parseDockerfileOptions(attrs);
  const progress = job.progress;
  const dir = path.join(deps.workRoot, randomBytes(16).toString('hex'));
  const dockerfileDir = path.join(dir, 'dockerfile');
  const ignoreDir = path.join(dir, 'dockerignore');
  const contextDir = path.join(dir, 'context');
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await Promise.all([dockerfileDir, ignoreDir, contextDir].map((d) => fs.mkdir(d)));
  try {
    const transfer = (vertexName: string, what: string, name: string, into: string, patterns: { include?: string[]; exclude?: string[] }) =>
      progress.run(vertexName, async (vertex) => {
        // A status every 100 ms at most: a context of 10,000 files would otherwise make 10,000.
        let shown = 0;
        const onProgress = (bytes: number) => {
          if (Date.now() - shown < 100) return;
          shown = Date.now();
          vertex.status(`transferring ${what}:`, { current: bytes });
        };
        const received = await receiveDirectory(session, into, { name, ...(patterns.include ? { includePatterns: patterns.include } : {}), ...(patterns.exclude ? { excludePatterns: patterns.exclude } : {}), signal, onProgress });
        vertex.status(`transferring ${what}:`, { current: received.bytes, done: true });
        return received;
      });
    const basename = path.posix.basename(options.filename);
    const loadDockerfile = async (): Promise<void> => {
      await transfer(`[internal] load build definition from ${basename}`, 'dockerfile', options.dockerfileName, dockerfileDir, { include: [options.filename, `${options.filename}.dockerignore`] });
      if (!(await fs.stat(path.join(dockerfileDir, options.filename)).catch(() => undefined))?.isFile()) {
        throw new GrpcError(Code.NOT_FOUND, `failed to read dockerfile: open ${options.filename}: no such file or directory`);
      }
    };
    let dockerfileFrom = dockerfileDir;
    const contextDigests = new Map<string, string>();
    let ignored: (relative: string) => boolean = () => false;
    if (options.remoteContext) {
      // A Git or http(s) URL, or a tar from the client's stdin: the Dockerfile and .dockerignore
      // are in it, unless the client sends the Dockerfile apart (-f with a remote context).
      const remote = options.remoteContext;
      await progress.run(isSessionUpload(remote) ? '[internal] load remote build context' : `[internal] load git source ${remote}`, async () => {
        if (isSessionUpload(remote)) await receiveContext(uploadStream(session, remote, signal), contextDir);
        else await fetchRemoteContext(remote, contextDir);
      });
      if (options.dockerfileFromClient) await loadDockerfile();
      else dockerfileFrom = contextDir;
      ignored = await ignoreRules(contextDir, options.filename);
    } else {
      await loadDockerfile();
      // `<Dockerfile>.dockerignore` beside the Dockerfile wins over the context's .dockerignore.
      let ignoreText = await readIfExists(path.join(dockerfileDir, `${options.filename}.dockerignore`));
      if (ignoreText === undefined) {
        await transfer('[internal] load .dockerignore', 'context', options.contextName, ignoreDir, { include: ['.dockerignore'] });
        ignoreText = await readIfExists(path.join(ignoreDir, '.dockerignore'));
      }
      // The client applies the patterns: what they exclude never arrives.
      const exclude = ignorePatterns(ignoreText ?? '');
      const received = await transfer('[internal] load build context', 'context', options.contextName, contextDir, exclude.length ? { exclude } : {});
      for (const [relative, digest] of received.digests) contextDigests.set(path.join(contextDir, relative), digest);
    }

    // --build-context: each local one is a directory of the client's, with its own .dockerignore.
    const namedContexts = new Map<string, NamedContext>();
    for (const [index, [name, value]] of Object.entries(options.namedContexts).entries()) {
      if (value.startsWith('docker-image://')) {
        namedContexts.set(name, { kind: 'image', ref: value.slice('docker-image://'.length) });
        continue;
      }
      const sessionName = value.slice('local:'.length);
      const namedDir = path.join(dir, `named-${index}`);
      const namedIgnore = path.join(dir, `named-${index}-ignore`);
      await Promise.all([fs.mkdir(namedDir), fs.mkdir(namedIgnore)]);
      await transfer(`[context ${name}] load .dockerignore`, 'context', sessionName, namedIgnore, { include: ['.dockerignore'] });
      const exclude = ignorePatterns((await readIfExists(path.join(namedIgnore, '.dockerignore'))) ?? '');
      const namedReceived = await transfer(`[context ${name}] load from client`, 'context', sessionName, namedDir, exclude.length ? { exclude } : {});
      const digests = new Map([...namedReceived.digests].map(([relative, digest]) => [path.join(namedDir, relative), digest]));
      namedContexts.set(name, { kind: 'directory', dir: namedDir, ignored: () => false, digests });
    }

    await importBuildCaches(deps.images, deps.registry, session, options.cacheImports, signal, progress);
    const steps = new VertexSteps(job);
    const stageImages: string[] = [];
    const reporter = new ProgressReporter(() => undefined);
    try {
      const imageId = await deps.builder.build(
        {
          contextDir,
          dockerfileDir: dockerfileFrom,
          dockerfile: options.filename,
          tags: [],
          buildArgs: options.buildArgs,
          labels: options.labels,
          ...(options.target ? { target: options.target } : {}),
          noCache: options.noCache,
          ...(options.noCacheStages.length ? { noCacheStages: options.noCacheStages } : {}),
          entitlements: job.entitlements,
          ...(namedContexts.size ? { namedContexts } : {}),
          secrets: sessionSecrets(session, signal),
          pull: options.pull,
          quiet: false,
          ...(options.networkMode ? { networkMode: options.networkMode } : {}),
          extraHosts: options.extraHosts,
          runResources: options.runResources,
          ignored,
          contextDigests,
          buildkit: true,
          signal,
          registryAuth: sessionCredentials(session, signal),
          onStageBuilt: (id) => stageImages.push(id),
        },
        { stream: () => undefined, progress: reporter, steps },
      );
      const config = Buffer.from(JSON.stringify(await deps.images.config(imageId)));
      return { imageId, config, stageImages };
    } catch (err) {
      throw steps.fail(err);
    }
  } finally {
    await removeTree(dir).catch(() => undefined);
  }
}

/** The client's secrets and ssh agents, as RUN --mount=type=secret|ssh asks for them. */
function sessionSecrets(session: Session, signal: AbortSignal): BuildSecrets {
  return {
    secret: (id) =>
      getSecret(session, id, signal).catch((err: unknown) => {
        if (err instanceof GrpcError && err.code === Code.NOT_FOUND) return undefined;
        throw err;
      }),
    sshAgent: (id) => forwardAgent(session, id),
  };
}

/** The builder's steps as vertexes; stages may run side by side, each step with its own vertex. */
class VertexSteps implements StepObserver {
  constructor(private readonly job: BuildJob) {}

  started(step: StepInfo): StepHandle {
    // A step that only changes the config: BuildKit does not show it.
    if (step.number === 0) return { cached: () => undefined, output: () => undefined, done: () => undefined, failed: () => undefined };
    const prefix = `${step.stage ? `${step.stage} ` : ''}${step.number}/${step.count}`;
    const vertex = this.job.progress.vertex(`[${prefix}] ${displayText(step)}`).start();
    return {
      cached: () => vertex.cached(),
      output: (text, stream) => vertex.log(text, stream === 'stderr' ? 2 : 1),
      progress: new ProgressReporter((message) => pullProgress(vertex, message)),
      done: () => vertex.complete(),
      failed: (err) => vertex.complete(failureMessage(err)),
    };
  }

  /** The error BuildKit would report for a failed build. */
  fail(err: unknown): Error {
    if (err instanceof GrpcError) return err;
    if (err instanceof BuildCancelledError) return new GrpcError(Code.CANCELLED, failureMessage(err));
    return new GrpcError(Code.UNKNOWN, failureMessage(err));
  }
}

function failureMessage(err: unknown): string {
  if (err instanceof StepFailedError && err.command) return `process "${err.command}" did not complete successfully: exit code: ${err.code}`;
  // BuildKit's words: `dockerfile parse error on line 3: ...`.
  if (err instanceof DockerfileError) return err.line > 0 ? `dockerfile parse error on line ${err.line}: ${err.detail}` : `dockerfile parse error: ${err.detail}`;
  if (err instanceof BuildCancelledError) return 'context canceled';
  return err instanceof Error ? err.message : String(err);
}

/** A pull's progress as the FROM step's status lines, one per layer. */
function pullProgress(vertex: Vertex, message: JsonMessage): void {
  const detail = message.progressDetail as { current?: number; total?: number } | undefined;
  if (!message.id || !detail) return;
  vertex.status(String(message.id), { name: `${message.status} ${message.id}`, current: detail.current ?? 0, total: detail.total ?? 0, done: /complete|exists/i.test(String(message.status)) });
}

/** FROM as BuildKit shows it: the base image's full name. */
function displayText(step: StepInfo): string {
  if (step.keyword !== 'FROM') return step.text;
  const base = step.text.trim().split(/\s+/)[1] ?? '';
  try {
    if (base && !base.includes('$') && base.toLowerCase() !== 'scratch') return `FROM ${referenceString(parseNormalizedNamed(base))}`;
  } catch {
    // Not a reference: a stage name, shown as written.
  }
  return step.text;
}
