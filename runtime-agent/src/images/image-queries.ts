// The filters of `docker images` and `docker image prune`, applied to the image store.
import { Filters, globMatch } from '../util/filters.js';
import { InvalidParameterError } from '../util/errors.js';
import type { ImageService } from './image-service.js';
import type { ImageRecord } from '../vocabulary/image-record.js';
import { createdSeconds, imageSummary, type ImageSummary } from './image-views.js';
import { familiarName, familiarString, parseReference } from '../vocabulary/reference.js';

export const IMAGE_LIST_FILTERS = ['dangling', 'label', 'before', 'since', 'reference', 'until'] as const;
export const IMAGE_PRUNE_FILTERS = ['dangling', 'label', 'label!', 'until'] as const;

export async function listImages(service: ImageService, rawFilters: string | null, all: boolean): Promise<ImageSummary[]> {
  const filters = Filters.parse(rawFilters, IMAGE_LIST_FILTERS);
  const dangling = danglingFilter(filters);
  const before = filters.has('before') ? await createdOf(service, filters.get('before')) : undefined;
  const since = filters.has('since') ? await createdOf(service, filters.get('since')) : undefined;
  const untilMs = filters.until();
  const until = untilMs === undefined ? undefined : untilMs / 1000;
  const patterns = filters.get('reference');
  const children = new Set(service.images.all().map((i) => i.parent).filter(Boolean));

  const result: ImageSummary[] = [];
  for (const record of service.images.all()) {
    const tags = service.images.repoTags(record.id);
    const refs = service.images.refsOf(record.id);
    // Intermediate build images (untagged parents) only show with -a.
    if (!all && tags.length === 0 && children.has(record.id) && refs.length === 0) continue;
    if (dangling === true && tags.length > 0) continue;
    if (dangling === false && tags.length === 0) continue;
    const config = await service.config(record.id);
    const created = createdSeconds(config);
    if (before !== undefined && created >= before) continue;
    if (since !== undefined && created <= since) continue;
    if (until !== undefined && created >= until) continue;
    if (!filters.matchLabels('label', config.config?.Labels)) continue;
    let summary = await imageSummary(service, record);
    if (patterns.length) {
      const matching = refs.map(parseReference).filter((ref) => patterns.some((p) => globMatch(p, familiarName(ref)) || globMatch(p, familiarString(ref))));
      if (matching.length === 0) continue;
      // dockerd narrows the names shown to the ones that matched.
      summary = {
        ...summary,
        RepoTags: matching.filter((r) => r.tag).map(familiarString).sort(),
        RepoDigests: matching.filter((r) => r.digest).map(familiarString).sort(),
      };
    }
    result.push(summary);
  }
  return result.sort((a, b) => b.Created - a.Created || a.Id.localeCompare(b.Id));
}

function danglingFilter(filters: Filters): boolean | undefined {
  try {
    return filters.bool('dangling');
  } catch {
    throw new InvalidParameterError(`Invalid filter 'dangling=[${filters.get('dangling').join(' ')}]'`);
  }
}

async function createdOf(service: ImageService, names: string[]): Promise<number> {
  const record = service.images.resolve(names[0] ?? '');
  return createdSeconds(await service.config(record.id));
}

/** Whether `image prune`'s filters keep an image (true = do not delete). */
export async function pruneKeeps(service: ImageService, record: ImageRecord, filters: Filters): Promise<boolean> {
  const config = await service.config(record.id);
  const labels = config.config?.Labels;
  const until = filters.until();
  if (until !== undefined && createdSeconds(config) * 1000 > until) return true;
  // An image without a configuration is not held back by label filters (dockerd).
  if (!config.config) return false;
  return !filters.matchPruneLabels(labels);
}
