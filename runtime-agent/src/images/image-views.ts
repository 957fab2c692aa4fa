// Images as the Engine API shows them: the list items of GET /images/json, the document of
// GET /images/{name}/json, and the rows of GET /images/{name}/history.
import type { ImageService } from './image-service.js';
import type { ImageRecord } from '../vocabulary/image-record.js';
import type { ContainerConfig, ImageConfig } from '../vocabulary/media-types.js';

export interface ImageSummary {
  Containers: number;
  Created: number;
  Id: string;
  Labels: Record<string, string> | null;
  ParentId: string;
  RepoDigests: string[];
  RepoTags: string[];
  SharedSize: number;
  Size: number;
  VirtualSize: number;
}

function unixSeconds(iso: string | undefined): number {
  const ms = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
}

export function createdSeconds(config: ImageConfig): number {
  return unixSeconds(config.created);
}

export async function imageSummary(service: ImageService, record: ImageRecord, containers = -1): Promise<ImageSummary> {
  const config = await service.config(record.id);
  const size = await service.size(record);
  const tags = service.images.repoTags(record.id);
  const digests = service.images.repoDigests(record.id);
  return {
    Containers: containers,
    Created: createdSeconds(config),
    Id: record.id,
    Labels: config.config?.Labels ?? null,
    ParentId: record.parent ?? '',
    // dockerd shows untagged images with these placeholders (the CLI prints <none>).
    RepoDigests: digests.length || tags.length ? digests : ['<none>@<none>'],
    RepoTags: tags.length ? tags : ['<none>:<none>'],
    SharedSize: -1,
    Size: size,
    VirtualSize: size,
  };
}

/** API 1.43 dropped the `<none>:<none>` placeholders of untagged images: empty lists instead. */
export function withoutPlaceholders(summary: ImageSummary): ImageSummary {
  return {
    ...summary,
    RepoTags: summary.RepoTags.filter((t) => t !== '<none>:<none>'),
    RepoDigests: summary.RepoDigests.filter((d) => d !== '<none>@<none>'),
  };
}

/** The Config object with every key dockerd writes, so SDKs that index into it find them. */
function fullContainerConfig(c: ContainerConfig | undefined): Record<string, unknown> {
  return {
    Hostname: '',
    Domainname: '',
    User: '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: null,
    Cmd: null,
    Image: '',
    Volumes: null,
    WorkingDir: '',
    Entrypoint: null,
    OnBuild: null,
    Labels: null,
    ...(c ?? {}),
  };
}

export async function imageInspect(service: ImageService, record: ImageRecord): Promise<Record<string, unknown>> {
  const config = await service.config(record.id);
  const size = await service.size(record);
  const lower = await service.snapshots.lowerDirs(service.topChainId(record) ?? '').catch(() => []);
  return {
    Id: record.id,
    RepoTags: service.images.repoTags(record.id),
    RepoDigests: service.images.repoDigests(record.id),
    Parent: record.parent ?? '',
    Comment: typeof config.comment === 'string' ? config.comment : (config.history?.[config.history.length - 1]?.comment ?? ''),
    Created: config.created ?? '',
    Container: config.container ?? '',
    ContainerConfig: fullContainerConfig(config.container_config),
    DockerVersion: config.docker_version ?? '',
    Author: config.author ?? '',
    Config: fullContainerConfig(config.config),
    Architecture: config.architecture,
    ...(config.variant ? { Variant: config.variant } : {}),
    Os: config.os,
    Size: size,
    VirtualSize: size,
    GraphDriver: {
      Data: lower.length ? { LowerDir: lower.join(':') } : null,
      Name: 'overlay2',
    },
    RootFS: { Type: 'layers', Layers: config.rootfs?.diff_ids ?? [] },
    Metadata: { LastTagTime: record.added },
  };
}

export interface HistoryRow {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

export async function imageHistory(service: ImageService, record: ImageRecord): Promise<HistoryRow[]> {
  const config = await service.config(record.id);
  const history = config.history?.length ? config.history : record.layers.map(() => ({}) as NonNullable<ImageConfig['history']>[number]);
  const rows: HistoryRow[] = [];
  let layerIndex = 0;
  for (const entry of history) {
    let size = 0;
    if (!entry.empty_layer) {
      const layer = record.layers[layerIndex++];
      size = layer ? ((await service.snapshots.get(layer.chainId))?.contentSize ?? 0) : 0;
    }
    rows.push({ Id: '<missing>', Created: unixSeconds(entry.created), CreatedBy: entry.created_by ?? '', Tags: null, Size: size, Comment: entry.comment ?? '' });
  }
  rows.reverse();
  const top = rows[0];
  if (top) {
    top.Id = record.id;
    const tags = service.images.repoTags(record.id);
    top.Tags = tags.length ? tags : null;
  }
  return rows;
}
