// RUN as a build step: the command (shell or exec form, or heredocs), its cache key, and a
// container on the stage's image whose changes become the step's layer. Through BuildKit it also
// takes --mount (run-mounts.ts), --network and --security.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { changesTar } from '../containers/changes.js';
import { readJsonLog } from '../containers/json-log.js';
import { ContainerRootfs } from '../containers/rootfs.js';
import type { ContainerConfig } from '../vocabulary/media-types.js';
import { BuildCancelledError, DEFAULT_PATH, DEFAULT_SHELL, PROXY_ARGS, quoteCommand, StepFailedError } from './build-types.js';
import { DockerfileError, type Instruction } from './dockerfile.js';
import { commitLayer, withStateView, type BuildState } from './image-steps.js';
import { mountKey, parseRunMount, prepareRunMounts, type PreparedMounts, type RunMount } from './run-mounts.js';
import type { StepContext } from './step-context.js';
import { shortId } from './step-text.js';

/** Where a heredoc with an interpreter line (`#!/usr/bin/env python3`) is put to be run. */
const HEREDOC_DIR = '/dev/pipes';

interface RunCommand {
  command: string[];
  /** A heredoc run as a file (it has a `#!` line): its content, mounted at command[0]. */
  script?: string;
}

/**
 * The command of a RUN. A RUN that is one heredoc runs its content: with the shell, or as a file
 * when it starts with `#!`. Heredocs within a longer command go to the shell with the command,
 * which reads them itself (`RUN cat <<EOF > /file`), as BuildKit does.
 */
function runCommand(instruction: Instruction, shell: string[]): RunCommand {
  const [first, ...others] = instruction.heredocs;
  if (first && others.length === 0 && /^<<-?(["']?)[A-Za-z_][A-Za-z0-9_]*\1$/.test(instruction.rest.trim())) {
    if (first.content.startsWith('#!')) return { command: [`${HEREDOC_DIR}/${first.name}`], script: first.content };
    return { command: [...shell, first.content] };
  }
  if (first) {
    const bodies = instruction.heredocs.map((h) => `${h.content}${h.name}\n`).join('');
    return { command: [...shell, `${instruction.rest}\n${bodies}`] };
  }
  if (!instruction.json && !instruction.rest.trim()) throw new DockerfileError(instruction.line, 'RUN requires at least one argument');
  return { command: instruction.json ?? [...shell, instruction.rest] };
}

/** --network=default|none|host (host only when the build was granted network.host). */
function networkMode(stage: StepContext, instruction: Instruction): string {
  const wanted = instruction.flags.network;
  if (wanted === undefined || wanted === 'default') return stage.options.networkMode || 'default';
  if (wanted === 'none') return 'none';
  if (wanted === 'host') {
    if (!stage.options.entitlements?.includes('network.host')) throw new DockerfileError(instruction.line, 'RUN --network=host: network.host is not allowed; grant it with docker buildx build --allow network.host');
    return 'host';
  }
  throw new DockerfileError(instruction.line, `RUN --network=${wanted}: unsupported network mode (it is default, none or host)`);
}

/** --security=sandbox|insecure (insecure, a privileged step, only when granted security.insecure). */
function privileged(stage: StepContext, instruction: Instruction): boolean {
  const wanted = instruction.flags.security;
  if (wanted === undefined || wanted === 'sandbox') return false;
  if (wanted !== 'insecure') throw new DockerfileError(instruction.line, `RUN --security=${wanted}: unsupported security mode (it is sandbox or insecure)`);
  if (!stage.options.entitlements?.includes('security.insecure')) throw new DockerfileError(instruction.line, 'RUN --security=insecure: security.insecure is not allowed; grant it with docker buildx build --allow security.insecure');
  return true;
}

export async function runStep(stage: StepContext, instruction: Instruction, state: BuildState): Promise<BuildState> {
  const options = stage.options;
  const config: ContainerConfig = state.config.config ?? {};
  const { command, script } = runCommand(instruction, config.Shell ?? DEFAULT_SHELL);
  const buildkitFlags = (instruction.flagValues.mount?.length ?? 0) > 0 || instruction.flags.network !== undefined || instruction.flags.security !== undefined;
  if (buildkitFlags && !options.buildkit) {
    const flag = instruction.flagValues.mount?.length ? 'mount' : instruction.flags.network !== undefined ? 'network' : 'security';
    throw new DockerfileError(instruction.line, `the --${flag} option requires BuildKit (docker buildx build, or DOCKER_BUILDKIT=1)`);
  }
  const network = networkMode(stage, instruction);
  const insecure = privileged(stage, instruction);
  let sshIndex = 0;
  const mounts: RunMount[] = (instruction.flagValues.mount ?? []).map((spec) => {
    const mount = parseRunMount(stage.expand(spec, state), instruction.line, sshIndex);
    if (mount.type === 'ssh') sshIndex++;
    return mount;
  });
  const targets = mounts.map((m) => m.target).filter(Boolean);
  const duplicate = targets.find((t, i) => targets.indexOf(t) !== i);
  if (duplicate) throw new DockerfileError(instruction.line, `RUN: two mounts on ${duplicate}`);

  const args = stage.runArgs();
  const argPrefix = args.length ? `|${args.length} ${args.map(([n, v]) => `${n}=${v}`).join(' ')} ` : '';
  const createdBy = `${argPrefix}${command.join(' ')}`;
  // Only what BuildKit's flags add joins the key, so a plain RUN keeps the key it always had.
  const extra = buildkitFlags ? [await Promise.all(mounts.map((m) => mountKey(stage, m, instruction.line))), instruction.flags.network ?? '', insecure, script ?? ''] : script ? [[], '', false, script] : [];
  const key = `run:${JSON.stringify([createdBy, options.networkMode ?? '', options.extraHosts, ...extra])}`;
  const cached = await stage.cached(state, { createdBy, makesLayer: true, config, cacheKey: key });
  if (cached) return stage.reuse(cached);
  if (!state.imageId) throw new StepFailedError(`The command '${quoteCommand(command)}' returned a non-zero code: 127`, 127, quoteCommand(command));

  const env = [...(config.Env ?? [DEFAULT_PATH])];
  for (const [name, value] of args) if (!env.some((e) => e.startsWith(`${name}=`))) env.push(`${name}=${value}`);
  for (const name of PROXY_ARGS) if (name in options.buildArgs && options.buildArgs[name] !== null) env.push(`${name}=${options.buildArgs[name]}`);

  const lowerDirs = await withStateView(stage.images, state, async (view) => view.lowerDirs);
  const prepared = await prepareRunMounts(stage, mounts, lowerDirs, instruction.line, quoteCommand(command));
  let scriptDir: string | undefined;
  try {
    if (script) {
      scriptDir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-heredoc-'));
      const file = path.join(scriptDir, 'script');
      await fs.writeFile(file, script, { mode: 0o755 });
      prepared.mounts.push({ Type: 'bind', Source: file, Target: command[0], ReadOnly: true });
    }
    return await runContainer(stage, state, { command, env, config, network, insecure, prepared, createdBy, key });
  } finally {
    await prepared.release();
    if (scriptDir) await fs.rm(scriptDir, { recursive: true, force: true });
  }
}

async function runContainer(stage: StepContext, state: BuildState, run: { command: string[]; env: string[]; config: ContainerConfig; network: string; insecure: boolean; prepared: PreparedMounts; createdBy: string; key: string }): Promise<BuildState> {
  const options = stage.options;
  const containers = stage.containers;
  const { Id } = await containers.create(
    {
      Image: state.imageId,
      Cmd: run.command,
      Entrypoint: [],
      Env: [...run.env, ...run.prepared.env],
      ...(run.config.User ? { User: run.config.User } : {}),
      ...(run.config.WorkingDir ? { WorkingDir: run.config.WorkingDir } : {}),
      Labels: {},
      HostConfig: {
        ...(options.runResources ?? {}),
        NetworkMode: run.network,
        ExtraHosts: options.extraHosts,
        ...(run.prepared.mounts.length ? { Mounts: run.prepared.mounts } : {}),
        ...(run.insecure ? { Privileged: true } : {}),
      },
    },
    undefined,
  );
  stage.say(` ---> Running in ${Id.slice(0, 12)}`);
  const kill = () => void containers.kill(Id, 'SIGKILL').catch(() => undefined);
  options.signal?.addEventListener('abort', kill, { once: true });
  try {
    if (options.signal?.aborted) throw new BuildCancelledError();
    const record = containers.store.get(Id);
    const exited = containers.wait(Id, 'next-exit');
    await containers.start(Id);
    for await (const entry of readJsonLog(containers.logPath(record), { follow: true, stopped: exited, maxFile: 1 })) {
      if (stage.handle && stage.out.steps) stage.handle.output(entry.text, entry.stream);
      else if (!options.quiet) stage.out.stream(entry.text);
    }
    const code = await exited;
    if (options.signal?.aborted) throw new BuildCancelledError();
    if (code !== 0) throw new StepFailedError(`The command '${quoteCommand(run.command)}' returned a non-zero code: ${code}`, code, quoteCommand(run.command));
    const upper = new ContainerRootfs(containers.store.dir(Id)).upper;
    const next = await commitLayer(stage.images, state, changesTar(upper, run.prepared.mountPoints), run.createdBy, run.config, run.key);
    stage.say(`Removing intermediate container ${Id.slice(0, 12)}`);
    stage.say(` ---> ${shortId(next.imageId)}`);
    return next;
  } finally {
    options.signal?.removeEventListener('abort', kill);
    // The next step need not wait for the container to go (an unmount and a directory removal).
    stage.afterwards(containers.remove(Id, { force: true }));
  }
}
