// Points in time as dockerd's filters and query parameters accept them (api/types/time
// GetTimestamp): a Go duration before now (`10m`, `1h30m`), an RFC 3339 date or date-time, or Unix
// seconds with an optional fraction.
import { InvalidParameterError } from './errors.js';

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration (`1h30m`, `-5s`, `1.5h`) in milliseconds, or undefined if it is not one. */
export function parseGoDuration(value: string): number | undefined {
  const m = /^([-+]?)((?:\d*\.?\d+(?:ns|us|µs|ms|s|m|h))+)$/.exec(value);
  if (!m) return undefined;
  let total = 0;
  for (const [, amount, unit] of m[2]!.matchAll(/(\d*\.?\d+)(ns|us|µs|ms|s|m|h)/g)) total += Number(amount) * (UNIT_MS[unit!] ?? 0);
  return m[1] === '-' ? -total : total;
}

/** Milliseconds since the epoch for a filter value such as `until=24h` or `since=2026-12-01`. */
export function parseTimestamp(value: string, now = Date.now()): number {
  const duration = parseGoDuration(value);
  if (duration !== undefined) return now - duration;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  if (value.includes('-')) {
    const ms = Date.parse(value);
    if (Number.isNaN(ms)) throw new InvalidParameterError(`parsing time ${JSON.stringify(value)}: cannot parse as RFC 3339`);
    return ms;
  }
  throw new InvalidParameterError(`failed to parse value as time or duration: ${JSON.stringify(value)}`);
}
