// Sizes, times and errors as people read them.

/** Memory and disk of a machine, in binary units (what `free -h` shows). */
export function bytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(0)} KiB`;
  return `${n} B`;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Image, layer and file sizes in decimal units, as the docker CLI prints them. */
export function formatSize(bytes: number | undefined): string {
  if (bytes === undefined || bytes < 0 || !Number.isFinite(bytes)) return '—';
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(value >= 10 ? 1 : 2)} ${units[unit]}`;
}

/** Engine times come as Unix seconds (lists, history) or ISO text (inspect); both are accepted. */
export function toDate(time: number | string | undefined): Date | undefined {
  if (time === undefined || time === '' || time === 0) return undefined;
  const date = typeof time === 'number' ? new Date(time * 1000) : new Date(time);
  return Number.isNaN(date.getTime()) || date.getFullYear() < 1971 ? undefined : date;
}

export function formatAge(time: number | string | undefined, now = Date.now()): string {
  const date = toDate(time);
  if (!date) return '—';
  const seconds = Math.round((now - date.getTime()) / 1000);
  if (seconds < 0) return 'just now';
  const steps: [number, string][] = [[60, 'second'], [60, 'minute'], [24, 'hour'], [30, 'day'], [12, 'month'], [Infinity, 'year']];
  let value = seconds;
  for (const [per, unit] of steps) {
    if (value < per) return value === 0 && unit === 'second' ? 'just now' : `${value} ${unit}${value === 1 ? '' : 's'} ago`;
    value = Math.floor(value / per);
  }
  return '—';
}

/** Full local date and time, for a title attribute beside a relative age. */
export function formatDate(time: number | string | undefined): string {
  return toDate(time)?.toLocaleString() ?? '';
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

