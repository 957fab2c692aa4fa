import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { ContainerRecord } from '../vocabulary/container-record.js';
import { restartDelay, shouldRestart } from './restart-policy.js';

function record(policy: string, max: number, restarts: number, ranMs: number, manuallyStopped = false): ContainerRecord {
  const started = Date.parse('2026-01-01T00:00:00Z');
  return {
    HostConfig: { RestartPolicy: { Name: policy as 'always', MaximumRetryCount: max } },
    RestartCount: restarts,
    ManuallyStopped: manuallyStopped,
    State: { StartedAt: new Date(started).toISOString(), FinishedAt: new Date(started + ranMs).toISOString() },
  } as unknown as ContainerRecord;
}

describe('restart policies', () => {
  it('decides like dockerd', () => {
    assert.equal(shouldRestart(record('no', 0, 0, 1), 1), false);
    assert.equal(shouldRestart(record('always', 0, 5, 1), 0), true);
    assert.equal(shouldRestart(record('always', 0, 0, 1, true), 0), false, 'a stop by the user wins');
    assert.equal(shouldRestart(record('unless-stopped', 0, 0, 1), 0), true);
    assert.equal(shouldRestart(record('on-failure', 0, 0, 1), 0), false, 'success is not a failure');
    assert.equal(shouldRestart(record('on-failure', 2, 1, 1), 1), true);
    assert.equal(shouldRestart(record('on-failure', 2, 2, 1), 1), false, 'retry count reached');
  });

  it('backs off exponentially and resets after a 10 s run', () => {
    assert.equal(restartDelay(record('always', 0, 0, 100)), 100);
    assert.equal(restartDelay(record('always', 0, 3, 100)), 800);
    assert.equal(restartDelay(record('always', 0, 20, 100)), 60_000);
    assert.equal(restartDelay(record('always', 0, 20, 10_000)), 100);
  });
});
