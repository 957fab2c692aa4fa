// `docker stats`: samples of a container's cgroup, each with the previous one (precpu_stats) so
// the client can compute CPU use. Streamed once a second while the container runs; one sample
// after a second (stream=0), or at once without a previous one (one-shot=1), as dockerd does.
import { sampleCgroup } from '../cgroups/stats.js';
import { interfaceCounters } from '../networks/interface-counters.js';
import { cgroupPathOf, isRunning, type ContainerRecord } from '../vocabulary/container-record.js';
import type { ContainerService } from './container-service.js';

const ZERO_TIME = '0001-01-01T00:00:00Z';
const INTERVAL_MS = 1000;

export interface StatsQuery {
  stream: boolean;
  oneShot: boolean;
  signal: AbortSignal;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

export async function* containerStats(containers: ContainerService, record: ContainerRecord, query: StatsQuery): AsyncGenerator<Record<string, unknown>> {
  const running = () => {
    const current = containers.store.find(record.Id);
    return current !== undefined && isRunning(current);
  };
  // A container on the host's network has no interfaces of its own: dockerd leaves `networks` out.
  const ownNetwork = record.HostConfig.NetworkMode !== 'host' && !record.HostConfig.NetworkMode?.startsWith('container:');
  const sample = async () => {
    if (!running()) return undefined;
    const cgroup = await sampleCgroup(cgroupPathOf(record));
    const networks = ownNetwork ? await interfaceCounters(containers.store.find(record.Id)?.State.Pid ?? 0) : undefined;
    return { ...cgroup, ...(networks && Object.keys(networks).length ? { networks } : {}) };
  };
  const base = { name: record.Name, id: record.Id, num_procs: 0, storage_stats: {} };
  const empty = { read: ZERO_TIME, cpu_stats: { cpu_usage: { total_usage: 0 }, system_cpu_usage: 0, online_cpus: 0, throttling_data: {} }, memory_stats: {}, pids_stats: {}, blkio_stats: {} };
  let previous = query.oneShot ? undefined : await sample();
  if (!query.stream && !query.oneShot) await sleep(INTERVAL_MS, query.signal);
  do {
    const current = (await sample()) ?? empty;
    const pre = previous ?? empty;
    yield { ...base, ...current, preread: pre.read, precpu_stats: pre.cpu_stats };
    previous = current;
    if (!query.stream || query.oneShot || !running()) return;
    await sleep(INTERVAL_MS, query.signal);
  } while (!query.signal.aborted);
}
