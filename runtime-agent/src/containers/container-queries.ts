// `docker ps`: the filters of GET /containers/json, with dockerd's semantics (daemon/list.go,
// API 1.43), and sizes for `-s`. Values of one filter are alternatives; different filters must all
// hold. A filter berthd does not know is refused (400 "invalid filter 'x'"), never ignored.
import type { ImageService } from '../images/image-service.js';
import { dirSize } from '../util/dir-size.js';
import { InvalidParameterError, NotFoundError } from '../util/errors.js';
import { Filters } from '../util/filters.js';
import { isRunning, type ContainerRecord } from '../vocabulary/container-record.js';
import type { ContainerService } from './container-service.js';
import { containerSummary } from './container-views.js';
import { ContainerRootfs } from './rootfs.js';

export const CONTAINER_LIST_FILTERS = ['id', 'name', 'label', 'status', 'ancestor', 'exited', 'health', 'before', 'since', 'network', 'volume', 'is-task', 'publish', 'expose', 'isolation'] as const;

const STATUSES = ['paused', 'restarting', 'removing', 'running', 'dead', 'created', 'exited'];
const HEALTH = ['starting', 'healthy', 'unhealthy', 'none'];


/** dockerd's Match: the value itself, or an unanchored regular expression (a bad one matches nothing). */
function matchesPattern(pattern: string, value: string): boolean {
  if (pattern === value) return true;
  try {
    return new RegExp(pattern).test(value);
  } catch {
    return false;
  }
}

/** `before=`/`since=`: a container by full ID, name, or unique ID prefix. */
function findContainer(all: ContainerRecord[], value: string): ContainerRecord {
  const name = value.replace(/^\//, '');
  const found = all.find((c) => c.Id === value || c.Name.slice(1) === name) ?? (() => {
    const byPrefix = all.filter((c) => c.Id.startsWith(value));
    return byPrefix.length === 1 ? byPrefix[0] : undefined;
  })();
  if (!found) throw new NotFoundError(`No such container: ${value}`);
  return found;
}

/** `publish=`/`expose=` values: `8080`, `8080/udp`, `8000-8080/tcp` as the set of "port/proto" they name. */
function portSet(filters: Filters, name: 'publish' | 'expose'): Set<string> | undefined {
  if (!filters.has(name)) return undefined;
  const ports = new Set<string>();
  for (const value of filters.get(name)) {
    if (value.includes(':')) throw new InvalidParameterError(`filter for '${name}' should not contain ':': ${value}`);
    const [range = '', proto = 'tcp'] = value.split('/');
    const m = /^(\d+)(?:-(\d+))?$/.exec(range);
    const first = Number(m?.[1]);
    const last = m?.[2] ? Number(m[2]) : first;
    if (!m || first > 65535 || last > 65535) throw new InvalidParameterError(`error while looking up for ${name} ${value}: invalid port ${JSON.stringify(range)}`);
    if (last < first) throw new InvalidParameterError(`error while looking up for ${name} ${value}: Invalid range specified for the Port: ${range}`);
    for (let port = first; port <= last; port++) ports.add(`${port}/${proto || 'tcp'}`);
  }
  return ports;
}

/** A compiled set of conditions for one request. */
class ContainerFilter {
  private readonly publish: Set<string> | undefined;
  private readonly expose: Set<string> | undefined;
  private readonly exited: number[];
  private readonly isTask: boolean | undefined;

  constructor(
    private readonly filters: Filters,
    /** Image IDs the `ancestor` values name, with their descendants; undefined without the filter. */
    private readonly ancestors: Set<string> | undefined,
  ) {
    for (const status of filters.get('status')) if (!STATUSES.includes(status)) throw new InvalidParameterError(`invalid filter 'status=${status}'`);
    for (const health of filters.get('health')) if (!HEALTH.includes(health)) throw new InvalidParameterError(`unrecognized filter value for health: ${health}`);
    this.exited = filters.get('exited').map((value) => {
      if (!/^[+-]?\d+$/.test(value)) throw new InvalidParameterError(`invalid filter 'exited=${value}': strconv.Atoi: parsing "${value}": invalid syntax`);
      return Number(value);
    });
    this.isTask = filters.bool('is-task');
    this.publish = portSet(filters, 'publish');
    this.expose = portSet(filters, 'expose');
  }

  matches(record: ContainerRecord): boolean {
    const f = this.filters;
    const name = record.Name.slice(1);
    if (f.has('name') && !f.get('name').some((n) => matchesPattern(n, name) || matchesPattern(n, record.Name))) return false;
    if (f.has('id') && !f.get('id').some((id) => record.Id.startsWith(id) || matchesPattern(id, record.Id))) return false;
    // berthd runs no swarm tasks.
    if (this.isTask === true) return false;
    if (!f.matchLabels('label', record.Config.Labels)) return false;
    // Only containers that ran and stopped have an exit code to match.
    if (this.exited.length && !(this.exited.includes(record.State.ExitCode) && !isRunning(record) && record.State.StartedAt && !record.State.StartedAt.startsWith('0001-'))) return false;
    if (f.has('status') && !f.get('status').includes(record.State.Status)) return false;
    if (f.has('health') && !f.get('health').includes(record.State.Health?.Status ?? 'none')) return false;
    if (f.has('volume') && !f.get('volume').some((v) => (record.MountPoints ?? []).some((m) => m.Destination === v || (m.Name ? m.Name === v : m.Source === v)))) return false;
    if (this.ancestors && !this.ancestors.has(record.Image)) return false;
    if (f.has('network') && !f.get('network').some((n) => Object.entries(record.NetworkSettings?.Networks ?? {}).some(([key, e]) => key === n || (e.NetworkID && e.NetworkID.startsWith(n))))) return false;
    if (this.publish || this.expose) {
      // Ports as a running container has them: bound host ports, and exposed ones with or without a binding.
      const ports = Object.entries(isRunning(record) ? (record.NetworkSettings?.Ports ?? {}) : {});
      const published = ports.some(([key, bindings]) => (bindings ?? []).some((b) => this.publish?.has(`${b.HostPort}/${key.split('/')[1] ?? 'tcp'}`)));
      const exposed = ports.some(([key]) => this.expose?.has(key.includes('/') ? key : `${key}/tcp`));
      if (!published && !exposed) return false;
    }
    return true;
  }
}

/** The images `ancestor` values name (by name, ID or digest) and every image built on them. */
function ancestorImages(images: ImageService, values: string[]): Set<string> | undefined {
  if (!values.length) return undefined;
  const ids = new Set(values.map((v) => images.images.find(v)?.id).filter((id): id is string => Boolean(id)));
  for (let grew = true; grew; ) {
    grew = false;
    for (const image of images.images.all()) {
      if (image.parent && ids.has(image.parent) && !ids.has(image.id)) {
        ids.add(image.id);
        grew = true;
      }
    }
  }
  return ids;
}

export async function listContainers(containers: ContainerService, images: ImageService, options: { filters: string | null; all: boolean; limit: number; withSize: boolean }): Promise<Record<string, unknown>[]> {
  const filters = Filters.parse(options.filters, CONTAINER_LIST_FILTERS);
  const filter = new ContainerFilter(filters, ancestorImages(images, filters.get('ancestor')));
  const all = containers.store.all();
  // Newest first; `before` and `since` cut this order at the container they name.
  let list = [...all].sort((a, b) => Date.parse(b.Created) - Date.parse(a.Created));
  for (const value of filters.get('before')) {
    const at = list.indexOf(findContainer(all, value));
    list = at === -1 ? [] : list.slice(at + 1);
  }
  for (const value of filters.get('since')) {
    const at = list.indexOf(findContainer(all, value));
    if (at !== -1) list = list.slice(0, at);
  }
  // Without -a only running ones, unless a status filter or a limit says otherwise (as dockerd).
  if (!options.all && !filters.has('status') && !(options.limit > 0)) list = list.filter(isRunning);
  list = list.filter((c) => filter.matches(c));
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
