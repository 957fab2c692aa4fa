// The flags of COPY and ADD that need more than a lookup: --chmod (octal, or symbolic as chmod(1)
// and BuildKit's Dockerfile frontend take it), --exclude patterns, and the remote sources ADD names
// (URLs and git repositories), which this builder refuses since it fetches nothing from the network.

/** A --chmod value: the mode each copied file and directory gets from the mode it had. */
export interface ModeChange {
  /** As written, for the cache key and messages. */
  text: string;
  /** The new permission bits (07777) of an entry whose bits were `mode`. */
  apply(mode: number, isDirectory: boolean): number;
}

/**
 * The umask a symbolic mode without `u`, `g`, `o` or `a` is relative to (`+x`, `=rw`): buildkitd's,
 * which runs with the usual 022.
 */
const UMASK = 0o022;

/** Permission bits each class letter covers (set-id bits go with u and g; sticky is handled apart). */
const WHO_BITS: Record<string, number> = { u: 0o4700, g: 0o2070, o: 0o0007, a: 0o6777 };

interface Action {
  op: '+' | '-' | '=';
  /** Permission letters (r, w, x, X, s, t) and at most one class to copy from (u, g, o). */
  perms: string;
}

interface Clause {
  who: string;
  actions: Action[];
}

export class ChmodError extends Error {}

/**
 * Parses --chmod: an octal number up to 07777, or a symbolic mode (`u=rwx,g=rx,o=rx`, `+x`,
 * `a+r`, `go-w`, `=rw,+X`), as BuildKit's frontend accepts it since Dockerfile 1.14.
 */
export function parseChmod(text: string): ModeChange {
  if (/^[0-9]+$/.test(text)) {
    const value = /^[0-7]+$/.test(text) ? parseInt(text, 8) : NaN;
    if (Number.isNaN(value) || value > 0o7777) throw new ChmodError(`invalid chmod parameter: '${text}'. it should be octal string and between 0 and 07777`);
    return { text, apply: () => value };
  }
  const clauses = parseSymbolic(text);
  return { text, apply: (mode, isDirectory) => applySymbolic(clauses, mode & 0o7777, isDirectory) };
}

/** Is this --chmod value an octal number (what the classic builder accepts)? */
export function isOctalMode(text: string): boolean {
  return /^[0-7]+$/.test(text);
}

function parseSymbolic(text: string): Clause[] {
  const bad = (why: string) => new ChmodError(`invalid chmod parameter: '${text}': ${why}; use an octal mode (0755) or a symbolic one as chmod(1) takes it (u=rwx,go=rx or +x)`);
  const clauses: Clause[] = [];
  for (const part of text.split(',')) {
    const m = /^([ugoa]*)((?:[-+=][rwxXst]*|[-+=][ugo])+)$/.exec(part);
    if (!m) throw bad(part === '' ? 'an empty clause' : `'${part}' is not [ugoa...][+-=][rwxXst...]`);
    const actions: Action[] = [];
    for (const a of m[2]!.matchAll(/([-+=])([ugo]|[rwxXst]*)/g)) actions.push({ op: a[1] as Action['op'], perms: a[2]! });
    clauses.push({ who: m[1]!, actions });
  }
  return clauses;
}

function applySymbolic(clauses: Clause[], original: number, isDirectory: boolean): number {
  let mode = original;
  for (const clause of clauses) {
    const whoGiven = clause.who !== '';
    // Without a class, the bits the umask masks are left alone (chmod(1)).
    const who = whoGiven ? [...clause.who].reduce((bits, c) => bits | WHO_BITS[c]!, 0) : 0o6777 & ~UMASK;
    const onlyOther = whoGiven && !/[uga]/.test(clause.who);
    for (const action of clause.actions) {
      let perm = 0;
      if (/^[ugo]$/.test(action.perms)) {
        const shift = action.perms === 'u' ? 6 : action.perms === 'g' ? 3 : 0;
        const bits = (mode >> shift) & 7;
        perm = (bits << 6) | (bits << 3) | bits;
      } else {
        for (const p of action.perms) {
          if (p === 'r') perm |= 0o444;
          else if (p === 'w') perm |= 0o222;
          else if (p === 'x') perm |= 0o111;
          // X: execute/search only for directories and files some class may already execute.
          else if (p === 'X' && (isDirectory || (original & 0o111) !== 0)) perm |= 0o111;
          else if (p === 's' && !onlyOther) perm |= 0o6000;
          else if (p === 't' && !onlyOther) perm |= 0o1000;
        }
      }
      const sticky = perm & 0o1000;
      const bits = (perm & who) | sticky;
      if (action.op === '+') mode |= bits;
      else if (action.op === '-') mode &= ~bits;
      else {
        // `=`: the classes named (all of them when none is) lose every bit, then get these.
        mode &= ~(whoGiven ? [...clause.who].reduce((b, c) => b | WHO_BITS[c]!, 0) : 0o6777);
        mode |= bits;
      }
    }
  }
  return mode & 0o7777;
}

/**
 * --exclude patterns, matched with .dockerignore's rules (`*`, `**`, `!`) against a copied path as
 * it lands below the destination (a file source's own name; a directory source's content relative
 * to it; a --parents source's path below its pivot).
 */
export async function excludeMatcher(patterns: string[]): Promise<((relative: string) => boolean) | undefined> {
  if (patterns.length === 0) return undefined;
  const factory = (await import('@balena/dockerignore')).default as unknown as (options?: { ignorecase?: boolean }) => { add(p: string[]): { ignores(p: string): boolean } };
  const rules = factory().add(patterns);
  return (relative) => relative !== '' && relative !== '.' && rules.ignores(relative);
}

/** A git repository as ADD names one: `git@host:repo`, `git://`, `ssh://`, or an http(s) URL ending `.git`. */
export function isGitSource(source: string): boolean {
  if (/^(git@[^:]+:|git:\/\/|ssh:\/\/)/.test(source)) return true;
  const m = /^https?:\/\/[^/?#]+(\/[^?#]*)?/.exec(source);
  return Boolean(m && /\.git\/?$/.test(m[1] ?? ''));
}

/** An http(s) URL that is not a git repository. */
export function isUrlSource(source: string): boolean {
  return /^https?:\/\//.test(source) && !isGitSource(source);
}

/** ADD --checksum's value: `<algorithm>:<hex>` with a digest algorithm BuildKit knows. */
export function checkChecksum(value: string): string | undefined {
  const m = /^(sha256|sha384|sha512):([a-f0-9]+)$/.exec(value);
  const lengths: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
  if (!m) return `invalid checksum digest format: '${value}' (want sha256:<64 hex digits>)`;
  if (m[2]!.length !== lengths[m[1]!]) return `invalid checksum digest length: '${value}' (${m[1]} has ${lengths[m[1]!]} hex digits)`;
  return undefined;
}
