// The renderer's Engine API client: one function per Engine API call the GUI makes, with typed
// parameters and answers (electron/src/common/engine-types.ts). Paths and query strings are
// written here and nowhere else in the renderer; pages import this module, never host.ts's engine
// transport. Answers are not checked: they are taken as the Engine API documents them, cast here
// in one place rather than in each page. Failed calls reject with the engine's own message.
import type {
  ContainerCreateRequest,
  ContainerCreateResponse,
  ContainerInspectResponse,
  ContainerStatsResponse,
  ContainerSummary,
  CreateImageInfo,
  DataUsageType,
  EventMessage,
  ExecConfig,
  ExecStartConfig,
  IDResponse,
  ImageDeleteResponseItem,
  ImageHistoryResponseItem,
  ImageInspect,
  ImageSummary,
  NetworkCreateRequest,
  NetworkCreateResponse,
  NetworkInspect,
  NetworkSummary,
  SystemDataUsageResponse,
  Volume,
  VolumeCreateRequest,
  VolumeListResponse,
} from '../../electron/src/common/engine-types';
import { host } from './host';

/** Ends a stream (the engine's request is cancelled). */
export type StopStream = () => void;

/** How a stream ends: `onEnd` when the engine closes it, `onError` with a message when it fails. */
export interface StreamEnd {
  onEnd?(): void;
  onError?(message: string): void;
}

/** An exec's hijacked connection: keystrokes in, terminal bytes out through the handlers. */
export interface HijackedStream {
  write(data: string | Uint8Array): void;
  close(): void;
}

/** The Engine API's list filters, `{"label": ["a=b"], "status": ["running"]}`. */
export type Filters = Record<string, string[]>;

type QueryValue = string | number | boolean | string[] | undefined;

/**
 * `?a=1&b=x`: undefined values left out, booleans as 1 and 0 (what the docker CLI sends), lists
 * as the key repeated, everything percent-encoded.
 */
function query(params: Record<string, QueryValue>): string {
  const pairs: string[] = [];
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [typeof value === 'boolean' ? (value ? '1' : '0') : String(value)];
    for (const v of values) pairs.push(`${encodeURIComponent(key)}=${encodeURIComponent(v)}`);
  }
  return pairs.length ? `?${pairs.join('&')}` : '';
}

/** A container, exec, volume or network ID or name as one path segment. */
function segment(idOrName: string): string {
  return encodeURIComponent(idOrName);
}

/**
 * An image reference in a path. The engine routes `/images/{name}/…` with the name's slashes,
 * colon and @ as they are (`registry:5000/team/app@sha256:…`), as the docker CLI sends them.
 */
function imagePath(reference: string): string {
  return encodeURIComponent(reference).replace(/%2F/gi, '/').replace(/%3A/gi, ':').replace(/%40/g, '@');
}

/** A call that must succeed, its answer taken as the type the Engine API documents for it. */
async function call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  return (await host.call(method, path, body)) as T;
}

/** A call whose answer carries nothing the GUI needs (start, stop, remove…). */
async function act(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<void> {
  await host.call(method, path, body);
}

/** A stream of JSON lines, each handed on as T. Blank lines and lines that are not JSON carry nothing. */
function jsonLines<T>(method: 'GET' | 'POST', path: string, onValue: (value: T) => void, end: StreamEnd): StopStream {
  return host.stream(
    path,
    {
      onLine: (line) => {
        if (!line.trim()) return;
        let value: T;
        try {
          value = JSON.parse(line) as T;
        } catch {
          return;
        }
        onValue(value);
      },
      ...end,
    },
    method,
  );
}

// ---- containers -------------------------------------------------------------------------------

export function listContainers(options: { all?: boolean; filters?: Filters } = {}): Promise<ContainerSummary[]> {
  return call('GET', `/containers/json${query({ all: options.all, filters: options.filters && JSON.stringify(options.filters) })}`);
}

export function inspectContainer(id: string): Promise<ContainerInspectResponse> {
  return call('GET', `/containers/${segment(id)}/json`);
}

/** Creates a container from the Run form's body; `name` empty or absent: the engine picks one. */
export function createContainer(body: ContainerCreateRequest, options: { name?: string } = {}): Promise<ContainerCreateResponse> {
  return call('POST', `/containers/create${query({ name: options.name || undefined })}`, body);
}

export function startContainer(id: string): Promise<void> {
  return act('POST', `/containers/${segment(id)}/start`);
}

export function stopContainer(id: string): Promise<void> {
  return act('POST', `/containers/${segment(id)}/stop`);
}

export function restartContainer(id: string): Promise<void> {
  return act('POST', `/containers/${segment(id)}/restart`);
}

export function pauseContainer(id: string): Promise<void> {
  return act('POST', `/containers/${segment(id)}/pause`);
}

export function unpauseContainer(id: string): Promise<void> {
  return act('POST', `/containers/${segment(id)}/unpause`);
}

/** `force` stops a running container first; `volumes` removes its anonymous volumes too. */
export function removeContainer(id: string, options: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
  return act('DELETE', `/containers/${segment(id)}${query({ force: options.force, v: options.volumes })}`);
}

/**
 * A container's log, stdout and stderr, as text lines: the last `tail` lines, then new ones as
 * they are written while `follow`. Lines come in batches (all that arrived together), each batch
 * from one stream.
 */
export function streamContainerLogs(
  id: string,
  options: { follow: boolean; tail?: number | 'all'; timestamps?: boolean },
  handlers: StreamEnd & { onLines(lines: string[], stream?: 'stdout' | 'stderr'): void },
): StopStream {
  const { onLines, ...end } = handlers;
  const path = `/containers/${segment(id)}/logs${query({ follow: options.follow, stdout: true, stderr: true, tail: options.tail, timestamps: options.timestamps })}`;
  return host.stream(path, { onLine: (line, stream) => onLines([line], stream), onLines, ...end });
}

/** A running container's resource use, one sample a second. */
export function streamContainerStats(id: string, handlers: StreamEnd & { onSample(sample: ContainerStatsResponse): void }): StopStream {
  const { onSample, ...end } = handlers;
  return jsonLines('GET', `/containers/${segment(id)}/stats${query({ stream: true })}`, onSample, end);
}

// ---- exec -------------------------------------------------------------------------------------

export function createExec(containerId: string, config: ExecConfig): Promise<IDResponse> {
  return call('POST', `/containers/${segment(containerId)}/exec`, config);
}

/** Starts an exec on a hijacked connection: raw bytes both ways (a TTY's, with `Tty`). */
export function startExec(execId: string, config: ExecStartConfig, handlers: StreamEnd & { onBytes(bytes: Uint8Array): void }): HijackedStream {
  return host.hijack(`/exec/${segment(execId)}/start`, config, handlers);
}

/** The exec's TTY size, in characters. */
export function resizeExec(execId: string, size: { cols: number; rows: number }): Promise<void> {
  return act('POST', `/exec/${segment(execId)}/resize${query({ h: size.rows, w: size.cols })}`);
}

// ---- events -----------------------------------------------------------------------------------

/** The engine's events from now on, as they happen (containers, images, volumes, networks…). */
export function watchEvents(handlers: StreamEnd & { onEvent(event: EventMessage): void }, options: { filters?: Filters } = {}): StopStream {
  const { onEvent, ...end } = handlers;
  return jsonLines('GET', `/events${query({ filters: options.filters && JSON.stringify(options.filters) })}`, onEvent, end);
}

// ---- images -----------------------------------------------------------------------------------

export function listImages(): Promise<ImageSummary[]> {
  return call('GET', '/images/json');
}

export function inspectImage(reference: string): Promise<ImageInspect> {
  return call('GET', `/images/${imagePath(reference)}/json`);
}

export function imageHistory(reference: string): Promise<ImageHistoryResponseItem[]> {
  return call('GET', `/images/${imagePath(reference)}/history`);
}

/**
 * Pulls an image, its progress one message at a time (per layer: waiting, downloading with byte
 * counts, extracting, complete; then summary lines). A failed pull ends with `onError`, or with a
 * message whose `error` says why when the engine had already started answering.
 */
export function pullImage(image: { fromImage: string; tag: string }, handlers: StreamEnd & { onProgress(message: CreateImageInfo): void }): StopStream {
  const { onProgress, ...end } = handlers;
  return jsonLines('POST', `/images/create${query({ fromImage: image.fromImage, tag: image.tag })}`, onProgress, end);
}

/** Removes a tag (the image goes with its last one) or an image by ID; `force` removes every tag. */
export function removeImage(reference: string, options: { force?: boolean } = {}): Promise<ImageDeleteResponseItem[]> {
  return call('DELETE', `/images/${imagePath(reference)}${query({ force: options.force })}`);
}

// ---- volumes ----------------------------------------------------------------------------------

export function listVolumes(): Promise<VolumeListResponse> {
  return call('GET', '/volumes');
}

export function createVolume(request: VolumeCreateRequest = {}): Promise<Volume> {
  return call('POST', '/volumes/create', request);
}

/** The engine refuses (409, "volume is in use") while a container uses the volume. */
export function removeVolume(name: string): Promise<void> {
  return act('DELETE', `/volumes/${segment(name)}`);
}

// ---- networks ---------------------------------------------------------------------------------

export function listNetworks(): Promise<NetworkSummary[]> {
  return call('GET', '/networks');
}

export function inspectNetwork(id: string): Promise<NetworkInspect> {
  return call('GET', `/networks/${segment(id)}`);
}

export function createNetwork(request: NetworkCreateRequest): Promise<NetworkCreateResponse> {
  return call('POST', '/networks/create', request);
}

/** The engine refuses while containers are attached, and for its predefined networks. */
export function removeNetwork(id: string): Promise<void> {
  return act('DELETE', `/networks/${segment(id)}`);
}

// ---- system -----------------------------------------------------------------------------------

/**
 * What images, containers, volumes and the build cache take on disk. `types` spares the engine
 * sizing what is not asked for (API 1.42; older engines ignore it and answer everything).
 */
export function systemDataUsage(options: { types?: DataUsageType[] } = {}): Promise<SystemDataUsageResponse> {
  return call('GET', `/system/df${query({ type: options.types })}`);
}
