// POST /containers/create: the request body checked and merged with the image's config the way
// dockerd does (ENTRYPOINT/CMD, Env, WorkingDir, User, StopSignal, Labels).
import type { ContainerConfig, ImageConfig } from '../vocabulary/media-types.js';
import { InvalidParameterError } from '../util/errors.js';
import type { HostConfig } from '../vocabulary/container-record.js';

export interface CreateRequest extends ContainerConfig {
  Image?: string;
  Hostname?: string;
  Domainname?: string;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  StopTimeout?: number;
  HostConfig?: HostConfig;
  NetworkingConfig?: unknown;
  /** --mac-address before API 1.44 (later versions put it in the endpoint). */
  MacAddress?: string;
}

function stringList(value: unknown, field: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new InvalidParameterError(`invalid ${field}: expected a list of strings`);
  return value as string[];
}

function nonNegative(value: unknown, field: string): void {
  if (value === undefined || value === null) return;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new InvalidParameterError(`invalid ${field}: expected a number`);
  if (value < 0) throw new InvalidParameterError(`invalid ${field}: must not be negative`);
}

/** Type checks of the fields the engine uses; the CLI has checked most, SDKs may not have. */
export function validateCreateRequest(body: CreateRequest): void {
  if (typeof body.Image !== 'string' || body.Image === '') throw new InvalidParameterError('Config cannot be empty in order to create a container');
  stringList(body.Cmd, 'Cmd');
  stringList(body.Entrypoint, 'Entrypoint');
  const env = stringList(body.Env, 'Env') ?? [];
  for (const e of env) if (e.startsWith('=')) throw new InvalidParameterError(`invalid environment variable: ${e}`);
  const hc = body.HostConfig ?? {};
  nonNegative(hc.Memory, 'Memory');
  nonNegative(hc.NanoCpus, 'NanoCpus');
  nonNegative(hc.CpuShares, 'CpuShares');
  if (hc.Memory && hc.Memory > 0 && hc.Memory < 6 * 1024 * 1024) throw new InvalidParameterError('Minimum memory limit allowed is 6MB');
  if (hc.MemorySwap && hc.MemorySwap > 0 && hc.Memory && hc.MemorySwap < hc.Memory) {
    throw new InvalidParameterError('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  const policy = hc.RestartPolicy?.Name ?? '';
  if (!['', 'no', 'always', 'unless-stopped', 'on-failure'].includes(policy)) throw new InvalidParameterError(`invalid restart policy '${policy}'`);
  if (hc.AutoRemove && policy && policy !== 'no') throw new InvalidParameterError("can't create 'AutoRemove' container with restart policy");
}

/** ENTRYPOINT + CMD as dockerd combines them: a given Entrypoint drops the image's CMD. */
export function resolveCommand(body: CreateRequest, image: ImageConfig): string[] {
  const imageConfig = image.config ?? {};
  const entrypoint = body.Entrypoint !== undefined && body.Entrypoint !== null ? stringList(body.Entrypoint, 'Entrypoint') ?? [] : (imageConfig.Entrypoint ?? []);
  const entrypointGiven = body.Entrypoint !== undefined && body.Entrypoint !== null;
  let cmd = stringList(body.Cmd, 'Cmd');
  if (cmd === undefined || cmd.length === 0) cmd = entrypointGiven ? [] : (imageConfig.Cmd ?? []);
  const full = [...(entrypoint ?? []), ...cmd];
  if (full.length === 0) throw new InvalidParameterError('No command specified');
  return full;
}

/** The image's Env with the request's on top (same name replaces). */
export function mergeEnv(imageEnv: string[] | null | undefined, requested: string[] | null | undefined): string[] {
  const result = new Map<string, string>();
  for (const entry of [...(imageEnv ?? []), ...(requested ?? [])]) {
    const eq = entry.indexOf('=');
    result.set(eq === -1 ? entry : entry.slice(0, eq), entry);
  }
  if (![...result.keys()].includes('PATH')) result.set('PATH', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  return [...result.values()];
}
