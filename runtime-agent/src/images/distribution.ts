// GET /distribution/{name}/json: what a registry holds under a name, without pulling it: the
// manifest's descriptor and the platforms it serves (compose v2 and `buildx imagetools` ask this
// before deciding what to pull or build).
import type { AuthConfig } from '../registry/auth-config.js';
import type { RegistryClient } from '../registry/client.js';
import { SystemError } from '../util/errors.js';
import { isIndexMediaType, type ImageConfig, type ImageIndex, type ImageManifest, type Platform } from '../vocabulary/media-types.js';
import { DEFAULT_TAG, type Reference } from '../vocabulary/reference.js';

const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

export interface DistributionInspect {
  Descriptor: { mediaType: string; digest: string; size: number };
  Platforms: Platform[] | null;
}

export async function distributionInspect(registry: RegistryClient, ref: Reference, auth: AuthConfig | undefined): Promise<DistributionInspect> {
  const repository = registry.repository(ref.domain, ref.path, auth, ['pull']);
  const manifest = await repository.getManifest(ref.digest ?? ref.tag ?? DEFAULT_TAG);
  const descriptor = { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.body.length };
  const parsed = JSON.parse(manifest.body.toString('utf8')) as Partial<Omit<ImageIndex & ImageManifest, 'schemaVersion'>> & { architecture?: string; schemaVersion?: number };
  if (isIndexMediaType(manifest.mediaType)) {
    return { Descriptor: descriptor, Platforms: (parsed.manifests ?? []).map((m) => m.platform).filter((p): p is Platform => Boolean(p)) };
  }
  if (parsed.schemaVersion === 1) return { Descriptor: descriptor, Platforms: [{ os: 'linux', architecture: parsed.architecture ?? '' }] };
  if (!parsed.config?.digest) return { Descriptor: descriptor, Platforms: null };
  // A single-platform image: its platform is in its configuration.
  const { stream } = await repository.fetchBlob(parsed.config.digest);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    // A configuration is a few kilobytes: a registry that sends more is not sending one.
    if (size > MAX_CONFIG_BYTES) throw new SystemError(`image configuration for ${ref.domain}/${ref.path} is larger than ${MAX_CONFIG_BYTES} bytes`);
    chunks.push(chunk);
  }
  let config: ImageConfig;
  try {
    config = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ImageConfig;
  } catch {
    throw new SystemError(`invalid image configuration for ${ref.domain}/${ref.path}`);
  }
  const platform: Platform = { architecture: config.architecture ?? '', os: config.os ?? '', ...(config.variant ? { variant: config.variant } : {}) };
  return { Descriptor: descriptor, Platforms: config.os || config.architecture ? [platform] : null };
}
