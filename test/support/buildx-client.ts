// trixie's docker CLI with buildx, pointed at one test engine: the `docker` and `dockerOk` every
// BuildKit test file runs, and the build contexts they write.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';

import { run, type RunResult, type TestEngine } from './berthd.js';
import { trixieClients } from './trixie-clients.js';

export interface DockerOptions {
  cwd?: string;
  input?: string | Buffer;
  /** Added to the client's environment for this call. */
  env?: NodeJS.ProcessEnv;
}

export interface BuildxClient {
  /** The environment the CLI runs with (DOCKER_HOST, DOCKER_CONFIG with the plugins). */
  env: NodeJS.ProcessEnv;
  docker(args: string[], options?: DockerOptions): Promise<RunResult>;
  /** docker that must succeed; the failure message shows its output. */
  dockerOk(args: string[], options?: DockerOptions): Promise<RunResult>;
}

/** trixie's CLI 26.1 with buildx 0.13.1 and compose v2 against `engine`; `configDir` becomes DOCKER_CONFIG. */
export function buildxClient(engine: TestEngine, configDir: string): BuildxClient {
  const clients = trixieClients();
  const env = clients.env(`unix://${engine.socket}`, configDir);
  const docker = (args: string[], options: DockerOptions = {}) =>
    run(clients.docker, args, { env: { ...env, ...options.env }, ...(options.cwd ? { cwd: options.cwd } : {}), ...(options.input !== undefined ? { input: options.input } : {}) });
  return {
    env,
    docker,
    async dockerOk(args, options) {
      const res = await docker(args, options);
      assert.equal(res.code, 0, `docker ${args.join(' ')} failed:\n${res.stdout}\n${res.stderr}`);
      return res;
    },
  };
}

/** Writes a build context under `dir`: file name -> content; a name ending in `@0600` (say) gets that mode. */
export async function writeContext(dir: string, files: Record<string, string>): Promise<string> {
  for (const [spec, content] of Object.entries(files)) {
    const [file, mode] = spec.split('@') as [string, string | undefined];
    await fs.mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await fs.writeFile(path.join(dir, file), content);
    if (mode) await fs.chmod(path.join(dir, file), parseInt(mode, 8));
  }
  return dir;
}
