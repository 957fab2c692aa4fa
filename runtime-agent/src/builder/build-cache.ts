// The build cache as `docker builder prune`, `docker system df` and `docker system prune` see it:
// the images build steps made (records with a step key) that no tag names and no container uses,
// and the RUN --mount=type=cache directories. Without `all`, only step images no kept image is
// built on (what a removed build left) go; cache directories go unless a step uses them now.
import type { ImageService } from '../images/image-service.js';
import { CacheMounts } from './cache-mounts.js';
import { InvalidParameterError } from '../util/errors.js';
import type { Filters } from '../util/filters.js';
import type { ImageRecord } from '../vocabulary/image-record.js';

export const BUILD_CACHE_FILTERS = ['until', 'id', 'parent', 'type', 'description', 'inuse', 'shared', 'private'] as const;

/** A cache entry as the Engine API's BuildCache object shows it. */
export interface BuildCacheEntry {
  ID: string;
  Parents: string[] | null;
  Type: 'regular' | 'exec.cachemount';
  Description: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt: string | null;
  UsageCount: number;
}

function hex(id: string): string {
  return id.replace(/^sha256:/, '');
}

/** Build-step images no tag names and no container uses: the cache. */
function cacheImages(images: ImageService): ImageRecord[] {
  return images.images.all().filter((i) => i.buildCache && images.images.refsOf(i.id).length === 0 && images.usage.imageUsers(i.id).length === 0);
}

/** Images kept images are built on: their own chains, back to the first step. */
function neededAncestors(images: ImageService): Set<string> {
  const needed = new Set<string>();
  for (const image of images.images.all()) {
    if (!images.images.refsOf(image.id).length && !images.usage.imageUsers(image.id).length) continue;
    for (let parent = image.parent; parent && !needed.has(parent); parent = images.images.get(parent)?.parent) needed.add(parent);
  }
  return needed;
}

async function entry(images: ImageService, record: ImageRecord): Promise<BuildCacheEntry> {
  const config = await images.config(record.id);
  const step = config.history?.at(-1);
  const top = images.topChainId(record);
  // A RUN, COPY or ADD step holds its layer; a metadata step holds nothing of its own.
  const size = step && !step.empty_layer && top ? ((await images.snapshots.get(top))?.contentSize ?? 0) : 0;
  return {
    ID: hex(record.id),
    Parents: record.parent ? [hex(record.parent)] : null,
    Type: 'regular',
    Description: step?.created_by ?? '',
    InUse: false,
    Shared: false,
    Size: size,
    CreatedAt: record.added,
    LastUsedAt: null,
    UsageCount: 0,
  };
}

export async function listBuildCache(images: ImageService): Promise<BuildCacheEntry[]> {
  const steps = await Promise.all(cacheImages(images).map((record) => entry(images, record)));
  const mounts = (await CacheMounts.of(images.dataRoot).list()).map(
    (m): BuildCacheEntry => ({ ID: m.key, Parents: null, Type: 'exec.cachemount', Description: m.description, InUse: m.inUse, Shared: m.sharing === 'shared', Size: m.size, CreatedAt: m.created, LastUsedAt: m.lastUsed, UsageCount: m.usageCount }),
  );
  return [...steps, ...mounts];
}

/** `docker builder prune [-a] [--filter ...] [--keep-storage N]`. */
export async function pruneBuildCache(images: ImageService, options: { all: boolean; keepStorage: number; filters: Filters }): Promise<{ deleted: BuildCacheEntry[]; reclaimed: number }> {
  const { filters } = options;
  const until = filters.until();
  for (const name of ['inuse', 'shared', 'private'] as const) filters.bool(name);
  for (const type of filters.get('type')) if (!['regular', 'source.local', 'source.git.checkout', 'exec.cachemount', 'frontend', 'internal'].includes(type)) throw new InvalidParameterError(`invalid filter 'type=${type}'`);
  const needed = options.all ? new Set<string>() : neededAncestors(images);
  const candidates = (await listBuildCache(images)).filter((e) => {
    if (needed.has(`sha256:${e.ID}`)) return false;
    if (until !== undefined && Date.parse(e.CreatedAt) > until) return false;
    if (filters.has('id') && !filters.get('id').some((id) => e.ID.startsWith(hex(id)))) return false;
    if (filters.has('parent') && !filters.get('parent').some((p) => e.Parents?.some((own) => own.startsWith(hex(p))))) return false;
    if (filters.has('description') && !filters.get('description').some((d) => e.Description.includes(d))) return false;
    if (filters.has('type') && !filters.get('type').includes(e.Type)) return false;
    const inUse = filters.bool('inuse');
    const shared = filters.bool('shared');
    const isPrivate = filters.bool('private');
    if (inUse !== undefined && inUse !== e.InUse) return false;
    if (shared !== undefined && shared !== e.Shared) return false;
    if (isPrivate !== undefined && isPrivate === e.Shared) return false;
    // A cache a running step uses stays.
    if (e.InUse) return false;
    return true;
  });
  // --keep-storage: the newest entries stay as long as they fit in it.
  candidates.sort((a, b) => Date.parse(b.CreatedAt) - Date.parse(a.CreatedAt));
  let kept = 0;
  const doomed = candidates.filter((e) => {
    if (options.keepStorage > 0 && kept + e.Size <= options.keepStorage) {
      kept += e.Size;
      return false;
    }
    return true;
  });
  const before = await images.diskUsage();
  const mounts = CacheMounts.of(images.dataRoot);
  let mountBytes = 0;
  for (const e of doomed.filter((d) => d.Type === 'exec.cachemount')) if (await mounts.remove(e.ID)) mountBytes += e.Size;
  await images.deleteRecords(doomed.filter((d) => d.Type === 'regular').map((e) => `sha256:${e.ID}`));
  await images.collectGarbage();
  return { deleted: doomed, reclaimed: mountBytes + Math.max(0, before - (await images.diskUsage())) };
}
