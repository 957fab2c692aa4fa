// Restart policies as dockerd applies them: whether an exit calls for a restart, and how long to wait.
import type { ContainerRecord } from '../vocabulary/container-record.js';

export function shouldRestart(record: ContainerRecord, exitCode: number): boolean {
  const policy = record.HostConfig.RestartPolicy;
  switch (policy?.Name) {
    case 'always':
    case 'unless-stopped':
      return !record.ManuallyStopped;
    case 'on-failure':
      return exitCode !== 0 && !record.ManuallyStopped && (!policy.MaximumRetryCount || record.RestartCount < policy.MaximumRetryCount);
    default:
      return false;
  }
}

/**
 * dockerd's back-off: 100 ms doubling on every restart, capped at a minute, back to 100 ms once a
 * run lasted 10 s.
 */
export function restartDelay(record: ContainerRecord): number {
  const ranMs = Date.parse(record.State.FinishedAt) - Date.parse(record.State.StartedAt);
  const previous = ranMs >= 10_000 ? 0 : record.RestartCount;
  return Math.min(60_000, 100 * 2 ** Math.min(previous, 10));
}
