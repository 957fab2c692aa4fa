// `docker ps`: the filters of GET /containers/json, and sizes for `-s`.
import type { ImageService } from '../images/image-service.js';
import { dirSize } from '../util/dir-size.js';
import { Filters } from '../util/filters.js';
import type { ContainerRecord } from '../vocabulary/container-record.js';
import type { ContainerService } from './container-service.js';
import { containerSummary } from './container-views.js';
import { ContainerRootfs } from './rootfs.js';

export const CONTAINER_LIST_FILTERS = ['id', 'name', 'label', 'status', 'ancestor', 'exited', 'health', 'before', 'since', 'network', 'volume', 'is-task', 'publish', 'expose'] as const;

function matches(record: ContainerRecord, filters: Filters): boolean {
  if (filters.has('id') && !filters.get('id').some((id) => record.Id.startsWith(id))) return false;
  if (filters.has('name') && !filters.get('name').some((n) => new RegExp(n.replace(/^\//, '')).test(record.Name.slice(1)))) return false;
  if (filters.has('status') && !filters.get('status').includes(record.State.Status)) return false;
  if (filters.has('exited') && !(record.State.Status === 'exited' && filters.get('exited').map(Number).includes(record.State.ExitCode))) return false;
  if (filters.has('ancestor') && !filters.get('ancestor').some((a) => a === record.ImageName || record.Image.startsWith(a) || record.Image === `sha256:${a}`)) return false;
  if (filters.has('health') && !filters.get('health').includes(record.State.Health?.Status ?? 'none')) return false;
  if (!filters.matchLabels('label', record.Config.Labels)) return false;
  return true;
}

export async function listContainers(containers: ContainerService, images: ImageService, options: { filters: string | null; all: boolean; limit: number; withSize: boolean }): Promise<Record<string, unknown>[]> {
  const filters = Filters.parse(options.filters, CONTAINER_LIST_FILTERS);
  let list = containers.store.all().sort((a, b) => Date.parse(b.Created) - Date.parse(a.Created));
  // Without -a only running ones, unless a status filter says otherwise (as dockerd).
  if (!options.all && !filters.has('status') && !filters.has('exited')) list = list.filter((c) => c.State.Status === 'running' || c.State.Status === 'paused');
  list = list.filter((c) => matches(c, filters));
  if (options.limit > 0) list = list.slice(0, options.limit);
  return Promise.all(
    list.map(async (c) => {
      const summary = containerSummary(c, containers.imageLabel(c));
      if (!options.withSize) return summary;
      const sizeRw = await dirSize(new ContainerRootfs(containers.store.dir(c.Id)).upper);
      const image = images.images.get(c.Image);
      return { ...summary, SizeRw: sizeRw, SizeRootFs: sizeRw + (image ? await images.size(image) : 0) };
    }),
  );
}
