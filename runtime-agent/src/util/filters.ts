// The `filters` query parameter of list and prune endpoints: JSON of name -> values, in either the
// current map form {"dangling":{"true":true}} or the legacy list form {"dangling":["true"]}.
import { InvalidParameterError } from './errors.js';
import { parseTimestamp } from './timestamps.js';

export class Filters {
  private constructor(private readonly values: Map<string, string[]>) {}

  static parse(raw: string | null | undefined, allowed: readonly string[]): Filters {
    const values = new Map<string, string[]>();
    if (raw) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        throw new InvalidParameterError(`invalid filter: ${raw}`);
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidParameterError(`invalid filter: ${raw}`);
      for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
        let list: string[];
        if (Array.isArray(value)) list = value.map(String);
        else if (typeof value === 'object' && value !== null) list = Object.entries(value).filter(([, on]) => on).map(([k]) => k);
        else throw new InvalidParameterError(`invalid filter: ${raw}`);
        if (!allowed.includes(name)) throw new InvalidParameterError(`invalid filter '${name}'`);
        values.set(name, list);
      }
    }
    return new Filters(values);
  }

  has(name: string): boolean {
    return (this.values.get(name)?.length ?? 0) > 0;
  }

  get(name: string): string[] {
    return this.values.get(name) ?? [];
  }

  /** A boolean filter such as `dangling`; throws dockerd's message for other values. */
  bool(name: string): boolean | undefined {
    const list = this.get(name);
    if (list.length === 0) return undefined;
    const normalized = list.map((v) => v.toLowerCase());
    if (normalized.every((v) => v === 'true' || v === '1')) return true;
    if (normalized.every((v) => v === 'false' || v === '0')) return false;
    throw new InvalidParameterError(`invalid filter '${name}=${list.join(',')}'`);
  }

  /** `until=` of the prune endpoints, in milliseconds since the epoch; one value at most. */
  until(): number | undefined {
    const values = this.get('until');
    if (values.length > 1) throw new InvalidParameterError('more than one until filter specified');
    return values[0] === undefined ? undefined : parseTimestamp(values[0]);
  }

  /**
   * What prunes take: every `label` matches, and not every `label!` does (dockerd excludes an
   * object only when all the `label!` conditions hold for it).
   */
  matchPruneLabels(labels: Record<string, string> | null | undefined): boolean {
    if (!this.matchLabels('label', labels)) return false;
    return !(this.has('label!') && this.matchLabels('label!', labels));
  }

  /** label=key or label=key=value against a label map. */
  matchLabels(name: string, labels: Record<string, string> | null | undefined): boolean {
    return this.get(name).every((cond) => {
      const eq = cond.indexOf('=');
      const key = eq === -1 ? cond : cond.slice(0, eq);
      if (!labels || !(key in labels)) return false;
      return eq === -1 || labels[key] === cond.slice(eq + 1);
    });
  }
}

/** Go's path.Match for the `reference` filter: `*` and `?` do not cross `/`. */
export function globMatch(pattern: string, value: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end === -1) return false;
      re += '[' + pattern.slice(i + 1, end).replace(/\\/g, '\\\\') + ']';
      i = end;
    } else if (c === '\\' && i + 1 < pattern.length) {
      re += '\\' + pattern[++i];
    } else re += c.replace(/[.+^${}()|\]\\]/g, '\\$&');
  }
  try {
    return new RegExp(re + '$').test(value);
  } catch {
    return false;
  }
}
