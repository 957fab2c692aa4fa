// HEALTHCHECK: a probe run inside the container every interval (with `runc exec`, output captured),
// folded into State.Health the way dockerd does it: starting -> healthy / unhealthy after
// `retries` consecutive failures, failures during the start period not counted, the last five
// results kept, and a health_status event on every change.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';

import { log } from '../util/log.js';
import type { ContainerRecord } from '../vocabulary/container-record.js';

export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  Retries?: number;
}

export interface HealthState {
  Status: 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  Log: { Start: string; End: string; ExitCode: number; Output: string }[];
}

const SECOND_NS = 1e9;
const DEFAULTS = { interval: 30 * SECOND_NS, timeout: 30 * SECOND_NS, startPeriod: 0, retries: 3 };
const MAX_OUTPUT = 4096;

/** The probe command, or undefined when there is none (no HEALTHCHECK, or NONE). */
export function probeCommand(health: HealthConfig | undefined): string[] | undefined {
  const test = health?.Test;
  if (!test || test.length === 0 || test[0] === 'NONE') return undefined;
  if (test[0] === 'CMD-SHELL') return ['/bin/sh', '-c', test.slice(1).join(' ')];
  if (test[0] === 'CMD') return test.slice(1);
  return test;
}

export interface HealthHost {
  find(id: string): ContainerRecord | undefined;
  save(record: ContainerRecord): Promise<void>;
  publish(record: ContainerRecord, action: string): void;
  runtimeBinary: string;
  runtimeRoot: string;
  bundle(id: string): string;
}

export class HealthMonitor {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly host: HealthHost) {}

  /** Starts probing a container that just started (no-op without a healthcheck). */
  start(record: ContainerRecord): void {
    this.stop(record.Id);
    const health = record.Config.Healthcheck as HealthConfig | undefined;
    if (!probeCommand(health)) return;
    record.State.Health = { Status: 'starting', FailingStreak: 0, Log: [] };
    this.schedule(record.Id, health?.Interval || DEFAULTS.interval);
  }

  stop(id: string): void {
    const timer = this.timers.get(id);
    if (timer) clearTimeout(timer);
    this.timers.delete(id);
  }

  private schedule(id: string, delayNs: number): void {
    this.timers.set(id, setTimeout(() => void this.probe(id), delayNs / 1e6));
  }

  private async probe(id: string): Promise<void> {
    const record = this.host.find(id);
    if (!record || record.State.Status !== 'running') return this.stop(id);
    const health = record.Config.Healthcheck as HealthConfig;
    const command = probeCommand(health) ?? [];
    const timeoutNs = health.Timeout || DEFAULTS.timeout;
    const start = new Date();
    const { code, output } = await this.exec(record, command, timeoutNs);
    const state: HealthState = record.State.Health ?? { Status: 'starting', FailingStreak: 0, Log: [] };
    state.Log = [...state.Log, { Start: start.toISOString(), End: new Date().toISOString(), ExitCode: code, Output: output }].slice(-5);
    const inStartPeriod = Date.now() - Date.parse(record.State.StartedAt) < (health.StartPeriod || DEFAULTS.startPeriod) / 1e6;
    const previous = state.Status;
    if (code === 0) {
      state.Status = 'healthy';
      state.FailingStreak = 0;
    } else if (!inStartPeriod) {
      state.FailingStreak += 1;
      if (state.FailingStreak >= (health.Retries || DEFAULTS.retries)) state.Status = 'unhealthy';
    }
    record.State.Health = state;
    await this.host.save(record).catch((err: unknown) => log.warn('health: save failed', { id, error: String(err) }));
    if (state.Status !== previous || code !== 0 || previous === 'starting') this.host.publish(record, `health_status: ${state.Status}`);
    if (this.host.find(id)?.State.Status === 'running') this.schedule(id, health.Interval || DEFAULTS.interval);
  }

  private async exec(record: ContainerRecord, command: string[], timeoutNs: number): Promise<{ code: number; output: string }> {
    const bundle = this.host.bundle(record.Id);
    const spec = JSON.parse(await fs.readFile(path.join(bundle, 'config.json'), 'utf8')) as { process: Record<string, unknown> };
    const processFile = path.join(bundle, 'health-probe.json');
    await fs.writeFile(processFile, JSON.stringify({ ...spec.process, terminal: false, args: command }));
    return new Promise((resolve) => {
      execFile(
        this.host.runtimeBinary,
        [`--root=${this.host.runtimeRoot}`, 'exec', '--process', processFile, record.Id],
        { timeout: timeoutNs / 1e6, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024 },
        (err, stdout, stderr) => {
          const output = (stdout + stderr).slice(0, MAX_OUTPUT);
          if (!err) return resolve({ code: 0, output });
          const timedOut = (err as { killed?: boolean }).killed;
          resolve({ code: timedOut ? -1 : typeof err.code === 'number' ? err.code : 1, output: timedOut ? `Health check exceeded timeout (${timeoutNs / SECOND_NS}s)` : output });
        },
      );
    });
  }
}
