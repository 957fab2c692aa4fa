// `docker logs`: the entries of a container's json-file log that a request asks for: the streams
// chosen, since/until, the last N (tail), then new ones for as long as the container runs (follow).
import { InvalidParameterError } from '../util/errors.js';
import type { ContainerRecord } from '../vocabulary/container-record.js';
import type { LogEntry } from './container-logs.js';
import type { ContainerService } from './container-service.js';
import { readJsonLog } from './json-log.js';

export interface LogQuery {
  stdout: boolean;
  stderr: boolean;
  follow: boolean;
  /** Milliseconds since the epoch. */
  since?: number;
  until?: number;
  /** The last N entries only (0: none of the past). */
  tail?: number;
  signal: AbortSignal;
}

/** Checks the request at once (before an answer starts), then yields the entries as they come. */
export function containerLogEntries(containers: ContainerService, record: ContainerRecord, query: LogQuery): AsyncGenerator<LogEntry> {
  if (!containers.logOptions(record).enabled) throw new InvalidParameterError('configured logging driver does not support reading');
  if (!query.stdout && !query.stderr) throw new InvalidParameterError('Bad parameters: you must choose at least one stream');
  return entries(containers, record, query);
}

async function* entries(containers: ContainerService, record: ContainerRecord, query: LogQuery): AsyncGenerator<LogEntry> {
  const { maxFile } = containers.logOptions(record);
  const file = containers.logPath(record);
  const accept = (e: LogEntry): boolean => {
    if ((e.stream === 'stdout' && !query.stdout) || (e.stream === 'stderr' && !query.stderr)) return false;
    const t = Date.parse(e.time);
    return !(query.since !== undefined && t < query.since) && !(query.until !== undefined && t > query.until);
  };
  const running = record.State.Status === 'running' || record.State.Status === 'paused';
  const follow = { follow: query.follow && running, stopped: containers.stopped(record), signal: query.signal, maxFile };
  if (query.tail === undefined || query.tail < 0) {
    for await (const e of readJsonLog(file, follow)) if (accept(e)) yield e;
    return;
  }
  // A tail needs the end first: read what is there and keep the last N, then follow on from there.
  const backlog: LogEntry[] = [];
  for await (const e of readJsonLog(file, { follow: false, maxFile })) if (accept(e)) backlog.push(e);
  if (query.tail > 0) yield* backlog.slice(-query.tail);
  if (!follow.follow) return;
  let skip = backlog.length;
  for await (const e of readJsonLog(file, follow)) {
    if (!accept(e)) continue;
    if (skip > 0) {
      skip--;
      continue;
    }
    yield e;
  }
}
