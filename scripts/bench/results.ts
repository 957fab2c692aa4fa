// What the benchmarks hand to scripts/bench/all.ts: one row per operation and engine, appended as
// a JSON line to the file named by BENCH_JSON (the bash benches write the same rows through
// bench_json in lib.sh). A benchmark run on its own has no BENCH_JSON and only prints.
import { appendFileSync } from 'node:fs';

export interface ResultRow {
  /** The benchmark script: pull, run, ports, build, dashboard, host, vm-boot. */
  suite: string;
  /** The operation measured; rows of different engines with the same name are compared. */
  name: string;
  /** berthd (for host, vm-boot and dashboard: Berth as a whole), or the reference: dockerd, buildkit. */
  engine: string;
  /** Unit of the samples: ms unless said otherwise. */
  unit: string;
  /** On a reference engine's row: the goal for berthd's time over this engine's; on a row only
   *  berthd has: an absolute goal. Empty when there is none. */
  goal: string;
  /** Iterations run before the samples and thrown away. */
  warmups: number;
  /** The timed iterations, in the order they ran. */
  samples: number[];
}

export function record(row: ResultRow): void {
  const file = process.env.BENCH_JSON;
  if (file) appendFileSync(file, `${JSON.stringify(row)}\n`);
}

export function minMedian(samples: readonly number[]): { min: number; median: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { min: sorted[0] ?? NaN, median };
}

/**
 * Makes `cleanup` run once, whether the benchmark ends normally (call the returned function from a
 * finally block) or is stopped with SIGINT/SIGTERM (all.ts sends SIGTERM when it is interrupted):
 * Node would otherwise exit on the signal without running any finally block, leaving VMs, engines
 * and temp dirs behind.
 */
export function cleanupOnSignal(cleanup: () => unknown): () => Promise<void> {
  let done: Promise<void> | undefined;
  const once = () => (done ??= Promise.resolve().then(cleanup).then(() => undefined));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`bench: ${signal}, cleaning up`);
      once()
        .catch((err: unknown) => console.error('bench: cleanup failed:', err))
        .finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
  return once;
}
