// `docker import`: a root filesystem tar (plain or compressed) becomes a one-layer image, with the
// Dockerfile-style `--change` instructions applied to its config.
import type { Readable } from 'node:stream';

import { chainIds } from '../snapshots/chain-id.js';
import { decompress, detectFileCompression } from '../util/compression.js';
import { sha256Digest, sha256OfStream } from '../util/digest.js';
import { InvalidParameterError } from '../util/errors.js';
import type { ImageService } from './image-service.js';
import { MediaType, type ContainerConfig, type ImageConfig, type Platform } from '../vocabulary/media-types.js';
import { hostPlatform } from './platform.js';
import type { Reference } from '../vocabulary/reference.js';

export interface ImportOptions {
  changes: string[];
  message: string;
  /** The image's platform, as the request named it (`--platform`); the engine's by default. */
  platform?: Platform;
}

export async function importImage(images: ImageService, source: Readable, tag: Reference | undefined, options: ImportOptions): Promise<string> {
  const container = applyChanges({}, options.changes);
  return images.leases.with([], async (extend) => {
    // Keep the tar as it came (compressed or not) as the layer blob; unpack from the stored copy.
    const blob = await images.content.ingest(source);
    extend([blob.digest]);
    const kind = await detectFileCompression(images.content.blobPath(blob.digest));
    // The diff ID is only known after unpacking: unpack into a scratch chain, then look it up.
    const unpackedDiffId = await sha256OfStream(decompress(images.content.openRead(blob.digest)));
    const [chainId = ''] = chainIds([unpackedDiffId]);
    extend([chainId]);
    await images.snapshots.create(chainId, undefined, unpackedDiffId, () => decompress(images.content.openRead(blob.digest)));
    const platform = options.platform ?? hostPlatform();
    const created = new Date().toISOString();
    const config: ImageConfig = {
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      created,
      config: container,
      rootfs: { type: 'layers', diff_ids: [unpackedDiffId] },
      history: [{ created, created_by: '', comment: options.message || 'Imported from -' }],
      ...(options.message ? { comment: options.message } : {}),
    };
    const configBytes = Buffer.from(JSON.stringify(config));
    const id = sha256Digest(configBytes);
    extend([id]);
    await images.content.put(configBytes, id);
    const mediaType = kind === 'gzip' ? MediaType.DockerLayerGzip : kind === 'zstd' ? MediaType.OciLayerZstd : MediaType.OciLayer;
    await images.saveRecord(id, [{ diffId: unpackedDiffId, chainId, blob: { mediaType, digest: blob.digest, size: blob.size } }]);
    if (tag) await images.mutations.run('images', () => images.images.addRef(tag, id));
    return id;
  });
}

/** Applies `--change` instructions (the subset dockerd's import accepts) to a container config. */
export function applyChanges(base: ContainerConfig, changes: string[]): ContainerConfig {
  const config: ContainerConfig = { ...base };
  for (const change of changes) {
    const match = /^\s*(\w+)\s+([\s\S]*)$/.exec(change);
    if (!match) throw new InvalidParameterError(`dockerfile parse error: invalid change ${JSON.stringify(change)}`);
    const instruction = (match[1] ?? '').toUpperCase();
    const args = (match[2] ?? '').trim();
    switch (instruction) {
      case 'CMD':
        config.Cmd = execOrShell(args);
        break;
      case 'ENTRYPOINT':
        config.Entrypoint = execOrShell(args);
        break;
      case 'ENV':
        config.Env = [...(config.Env ?? []), ...keyValues(args).map(([k, v]) => `${k}=${v}`)];
        break;
      case 'LABEL':
        config.Labels = { ...(config.Labels ?? {}), ...Object.fromEntries(keyValues(args)) };
        break;
      case 'EXPOSE':
        config.ExposedPorts = { ...(config.ExposedPorts ?? {}), ...Object.fromEntries(args.split(/\s+/).map((p) => [p.includes('/') ? p : `${p}/tcp`, {}])) };
        break;
      case 'WORKDIR':
        config.WorkingDir = args;
        break;
      case 'USER':
        config.User = args;
        break;
      case 'STOPSIGNAL':
        config.StopSignal = args;
        break;
      case 'VOLUME': {
        // Not a JSON list of strings: the shell form, as for CMD (JSON.parse threw a 500 here).
        const list = jsonStrings(args) ?? args.split(/\s+/);
        config.Volumes = { ...(config.Volumes ?? {}), ...Object.fromEntries(list.map((v) => [v, {}])) };
        break;
      }
      case 'ONBUILD':
        config.OnBuild = [...(config.OnBuild ?? []), args];
        break;
      default:
        throw new InvalidParameterError(`${instruction} is not a valid change command`);
    }
  }
  return config;
}

/** `["a", "b"]` as a list; anything else (not JSON, not a list of strings) undefined. */
function jsonStrings(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  try {
    const parsed: unknown = JSON.parse(args);
    if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return parsed as string[];
  } catch {
    // not JSON: the shell form, as the Dockerfile reference says
  }
  return undefined;
}

function execOrShell(args: string): string[] {
  return jsonStrings(args) ?? ['/bin/sh', '-c', args];
}

/** `A=1 B="two words"` or the legacy `A 1`. */
function keyValues(args: string): [string, string][] {
  if (!args.includes('=')) {
    const space = args.indexOf(' ');
    return space === -1 ? [[args, '']] : [[args.slice(0, space), args.slice(space + 1).trim()]];
  }
  const pairs: [string, string][] = [];
  const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(args))) {
    let value = m[2] ?? '';
    if (value.startsWith('"')) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    else if (value.startsWith("'")) value = value.slice(1, -1);
    pairs.push([m[1] ?? '', value]);
  }
  return pairs;
}
