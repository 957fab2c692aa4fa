// Live resource use of one container from the engine's stats stream (one sample a second): CPU,
// memory, network and block I/O, charted over the last two minutes.
import { useEffect, useState } from 'react';

import type { ContainerStatsResponse } from '../../../electron/src/common/engine-types';
import { LineChart } from '../components/LineChart';
import * as engine from '../engine-client';
import { bytes } from '../format';

const SAMPLES = 120;

export interface StatsPoint { cpu: number; memory: number; memoryLimit: number; rx: number; tx: number; read: number; write: number; pids: number }

/** One sample as `docker stats` computes it: CPU against the whole machine, memory without page cache. */
export function statsPoint(s: ContainerStatsResponse): StatsPoint {
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
  const systemDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats.system_cpu_usage ?? 0);
  const cache = s.memory_stats.stats?.inactive_file ?? s.memory_stats.stats?.total_inactive_file ?? 0;
  const networks = Object.values(s.networks ?? {});
  const io = s.blkio_stats?.io_service_bytes_recursive ?? [];
  const sumIo = (op: string) => io.filter((e) => e.op.toLowerCase() === op).reduce((a, e) => a + e.value, 0);
  return {
    cpu: systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * (s.cpu_stats.online_cpus ?? 1) * 100 : 0,
    memory: Math.max(0, (s.memory_stats.usage ?? 0) - cache),
    memoryLimit: s.memory_stats.limit ?? 0,
    rx: networks.reduce((a, n) => a + n.rx_bytes, 0),
    tx: networks.reduce((a, n) => a + n.tx_bytes, 0),
    read: sumIo('read'),
    write: sumIo('write'),
    pids: s.pids_stats?.current ?? 0,
  };
}

export function StatsTab({ id, running }: { id: string; running: boolean }) {
  const [points, setPoints] = useState<StatsPoint[]>([]);
  const [error, setError] = useState<string>();
  useEffect(() => {
    if (!running) return;
    return engine.streamContainerStats(id, {
      onSample: (sample) => {
        const point = statsPoint(sample);
        setPoints((old) => [...old, point].slice(-SAMPLES));
      },
      onError: setError,
    });
  }, [id, running]);
  if (!running) return <p className="muted">The container is not running: no stats.</p>;
  const last = points[points.length - 1];
  return (
    <div className="stats" aria-label="Stats">
      {error && <div role="alert" className="error">{error}</div>}
      {!last && !error && <p className="muted">Waiting for the first sample…</p>}
      <div className="charts">
        <LineChart label="CPU" values={points.map((p) => p.cpu)} floor={5} format={(v) => `${v.toFixed(1)} %`} />
        <LineChart label="Memory" values={points.map((p) => p.memory)} floor={16 * 1024 * 1024} format={bytes} />
        <LineChart label="Network received" values={points.map((p) => p.rx)} floor={1024} format={bytes} />
        <LineChart label="Block I/O written" values={points.map((p) => p.write)} floor={1024} format={bytes} />
      </div>
      {last && (
        <p className="muted">
          Memory limit {last.memoryLimit ? bytes(last.memoryLimit) : 'none'} · {last.pids} processes · sent {bytes(last.tx)} · read {bytes(last.read)}
        </p>
      )}
    </div>
  );
}
