// What the host and the Berth guest agree on, in the one module both import: the host
// (electron/src/node/vm) formats the kernel command line and reads the console; berthd in the guest
// parses the one and writes the other. berth-init, which must stay shell, holds two milestones and
// the power-off code as literals, and guest-contract.test.ts reads it to keep them equal to these.
//
// One source, compiled into each side: esbuild bundles it into berthd for the guest image, and
// electron/src/node/vm/guest-contract.ts is a symlink to this file, so tsc builds it into the
// host's own dist and the desktop app ships it without shipping the engine (a dependency on
// @berth/runtime-agent would pack all of berthd and its packages into app.asar).
// Plain data and pure functions without Node APIs, so the renderer's shared code may load it too.

/** The Engine API socket inside the guest; the host forwards its own docker.sock to it over SSH. */
export const GUEST_ENGINE_SOCKET = '/run/berth/docker.sock';

/** The guest port of berthd's SSH server, which QEMU's user networking forwards a host port to. */
export const GUEST_SSH_PORT = 22;

/** Exit codes of berthd that berth-init acts on; any other exit is a crash, and berthd is restarted. */
export const GUEST_EXIT_CODES = {
  /** The host asked for a shutdown and the containers are stopped: sync, unmount, power off. */
  powerOff: 64,
} as const;

/** The program name the host runs over SSH for control requests; berthd's SSH server answers it. */
export const CONTROL_PROGRAM = 'berth-control';
export const CONTROL_COMMANDS = ['status', 'shutdown', 'resize'] as const;
export type ControlCommand = (typeof CONTROL_COMMANDS)[number];

// ---- kernel command line -------------------------------------------------------------------

export type ShareKind = '9p' | 'virtiofs';

/** A host folder the guest mounts, at `path` (the host's own path, so bind mounts mean the same folder on both sides). */
export interface GuestShare {
  /** The device's mount tag in QEMU's command line. */
  tag: string;
  kind: ShareKind;
  /** An absolute path; any characters, spaces and ':' included. */
  path: string;
}

/** Everything the host tells the guest at boot. */
export interface GuestBootArguments {
  /** The host's public key, one OpenSSH line: the only key berthd's SSH server accepts. */
  authorizedKey?: string;
  shares: GuestShare[];
  /** Lets the host run commands and a shell over SSH (debugging; never for ordinary use). */
  debugShell: boolean;
}

/** What the guest read, and each word it refused with why (the guest logs them and boots on). */
export interface ParsedBootArguments {
  arguments: GuestBootArguments;
  problems: string[];
}

/** The `berth.*` keys. Each is written by formatBootArguments and read by parseBootArguments. */
const KEY = {
  authorizedKey: 'berth.authorized_key',
  share: 'berth.share',
  debug: 'berth.debug',
} as const;

const SHARE_TAG = /^[A-Za-z0-9_-]{1,31}$/;

/**
 * Guest directories a share must not cover: mounting a host folder on one of them, or on a parent
 * of one, would hide what the guest runs from (its programs, the data disk, the engine socket).
 */
const GUEST_SYSTEM_PATHS = ['/bin', '/dev', '/etc', '/lib', '/lib64', '/opt/berth', '/proc', '/run/berth', '/sbin', '/sys', '/usr', '/var/lib/berth'];
/** The kernel's own file systems: nothing of the host belongs inside them. */
const KERNEL_FILESYSTEMS = ['/dev', '/proc', '/sys'];

/** Why `path` cannot be a share's mount point in the guest, or undefined when it can. */
export function sharePathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return `${JSON.stringify(path)} is not an absolute path`;
  if (path.includes('\0')) return `${JSON.stringify(path)} contains a NUL character`;
  // Half a UTF-16 pair has no UTF-8 spelling, so it could not be written on the command line.
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(path)) return `${JSON.stringify(path)} is not valid Unicode`;
  const segments = path.slice(1).split('/');
  if (path !== '/' && segments.some((s) => s === '' || s === '.' || s === '..')) return `${JSON.stringify(path)} is not a clean path (empty, "." or ".." parts)`;
  const covered = GUEST_SYSTEM_PATHS.find((system) => path === '/' || system === path || system.startsWith(`${path}/`));
  if (covered) return `${JSON.stringify(path)} would hide the guest's ${covered}`;
  const inside = KERNEL_FILESYSTEMS.find((kernel) => path.startsWith(`${kernel}/`));
  if (inside) return `${JSON.stringify(path)} is inside the guest's ${inside}`;
  return undefined;
}

/**
 * The guest's arguments as kernel command-line words. The kernel splits its command line at spaces
 * (and knows double quotes), so share paths are percent-encoded beyond a safe set; the key goes in
 * base64. Throws on what the guest would refuse, so the host reports it before booting anything.
 */
export function formatBootArguments(args: GuestBootArguments): string[] {
  const words: string[] = [];
  if (args.authorizedKey !== undefined) {
    const key = args.authorizedKey.trim();
    const problem = authorizedKeyProblem(key);
    if (problem) throw new Error(`the host key cannot be handed to the guest: ${problem}`);
    words.push(`${KEY.authorizedKey}=${toBase64(key)}`);
  }
  const tags = new Set<string>();
  for (const share of args.shares) {
    if (!SHARE_TAG.test(share.tag)) throw new Error(`share tag ${JSON.stringify(share.tag)}: use 1 to 31 letters, digits, '_' or '-'`);
    if (tags.has(share.tag)) throw new Error(`share tag ${JSON.stringify(share.tag)} is used twice`);
    tags.add(share.tag);
    const problem = sharePathProblem(share.path);
    if (problem) throw new Error(`${share.path} cannot be shared with the guest: ${problem}`);
    words.push(`${KEY.share}=${share.tag}:${share.kind}:${encodePath(share.path)}`);
  }
  if (args.debugShell) words.push(`${KEY.debug}=1`);
  return words;
}

/**
 * The guest's side: the `berth.*` words of a kernel command line (/proc/cmdline). Other words are
 * the kernel's and are skipped. A `berth.*` word that is unknown or malformed is left out and
 * reported in `problems`, so that one bad share cannot keep the engine, and with it the host's
 * only way in, from starting.
 */
export function parseBootArguments(commandLine: string): ParsedBootArguments {
  const parsed: GuestBootArguments = { shares: [], debugShell: false };
  const problems: string[] = [];
  for (const word of kernelWords(commandLine)) {
    if (!word.startsWith('berth.')) continue;
    const equals = word.indexOf('=');
    const key = equals < 0 ? word : word.slice(0, equals);
    const value = equals < 0 ? undefined : word.slice(equals + 1);
    const refuse = (why: string) => problems.push(`boot argument ${quoteWord(word)} ignored: ${why}`);
    if (value === undefined) {
      refuse('it has no value');
      continue;
    }
    switch (key) {
      case KEY.authorizedKey: {
        const key = fromBase64(value);
        const problem = key === undefined ? 'not base64' : authorizedKeyProblem(key);
        if (problem) refuse(problem);
        else if (parsed.authorizedKey !== undefined) refuse('a host key was given already');
        else parsed.authorizedKey = key;
        break;
      }
      case KEY.share: {
        const share = parseShare(value);
        if (typeof share === 'string') refuse(share);
        else if (parsed.shares.some((s) => s.tag === share.tag)) refuse(`tag ${share.tag} is taken by an earlier share`);
        else parsed.shares.push(share);
        break;
      }
      case KEY.debug:
        if (value === '1' || value === '0') parsed.debugShell = value === '1';
        else refuse('use 1 or 0');
        break;
      default:
        refuse(`unknown (known: ${Object.values(KEY).join(', ')})`);
    }
  }
  return { arguments: parsed, problems };
}

/** `tag:kind:path`; the path is last, so a ':' in it needs no escaping. */
function parseShare(value: string): GuestShare | string {
  const [tag, kind, ...rest] = value.split(':');
  if (tag === undefined || kind === undefined || rest.length === 0) return 'expected tag:kind:path';
  if (!SHARE_TAG.test(tag)) return `tag ${JSON.stringify(tag)}: use 1 to 31 letters, digits, '_' or '-'`;
  if (kind !== '9p' && kind !== 'virtiofs') return `kind ${JSON.stringify(kind)}: use 9p or virtiofs`;
  const path = decodePath(rest.join(':'));
  if (path === undefined) return 'the path has a broken %-escape';
  const problem = sharePathProblem(path);
  return problem ?? { tag, kind, path };
}

function authorizedKeyProblem(key: string): string | undefined {
  if (!key) return 'the key is empty';
  if (/[\r\n\0]/.test(key)) return 'the key must be one line';
  if (!/^[a-z0-9@.-]+ [A-Za-z0-9+/]+={0,2}( |$)/.test(key)) return 'not an OpenSSH public key ("type base64 [comment]")';
  return undefined;
}

/** Words as the kernel splits them: at spaces, except inside double quotes (which it drops). */
function kernelWords(commandLine: string): string[] {
  const words: string[] = [];
  let word = '';
  let quoted = false;
  let started = false;
  for (const char of commandLine) {
    if (char === '"') {
      quoted = !quoted;
      started = true;
    } else if (!quoted && /\s/.test(char)) {
      if (started) words.push(word);
      word = '';
      started = false;
    } else {
      word += char;
      started = true;
    }
  }
  if (started) words.push(word);
  return words;
}

/** Shown in a problem: hostile or huge words are cut, control characters escaped. */
function quoteWord(word: string): string {
  return JSON.stringify(word.length > 120 ? `${word.slice(0, 120)}…` : word);
}

// Bytes kept as they are in a share's path; everything else (spaces, quotes, '%', non-ASCII) is %XX.
const PATH_SAFE = /[A-Za-z0-9/._~:@+,=-]/;

function encodePath(path: string): string {
  let out = '';
  for (const char of path) out += PATH_SAFE.test(char) ? char : encodeURIComponent(char).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return out;
}

function decodePath(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

// btoa/atob rather than Buffer: this module loads where there is no Buffer (the renderer).
function toBase64(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** Strict: atob alone skips spaces and takes missing padding, which would let two spellings mean one key. */
function fromBase64(text: string): string | undefined {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text) || !text) return undefined;
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

// ---- boot milestones on the serial console ---------------------------------------------------

/**
 * Lines the guest prints to its console on the way up, as `berth: <text> at <uptime>s` (the
 * guest's uptime, so the split of boot time does not depend on when the host looked). The first
 * two come from berth-init (shell), the others from berthd through formatMilestone.
 */
export const BOOT_MILESTONES = {
  /** berth-init runs: the kernel and the initramfs are done. */
  initStarted: 'init started',
  /** berth-init starts berthd: file systems, data disk and network are up. */
  berthdStarting: 'starting berthd',
  /** berthd has done what the kernel command line asks: the host's key, the shared folders. */
  guestConfigured: 'boot arguments applied',
  /** The Engine API and the SSH server answer. */
  engineReady: 'engine ready',
} as const;
export type BootMilestone = keyof typeof BOOT_MILESTONES;

/** Printed by berth-init itself, with `at "<text>"` (checked by guest-contract.test.ts). */
export const INIT_MILESTONES: readonly BootMilestone[] = ['initStarted', 'berthdStarting'];

/** The console line for a milestone; `uptime` is the first field of /proc/uptime. */
export function formatMilestone(milestone: BootMilestone, uptime: string): string {
  return `berth: ${BOOT_MILESTONES[milestone]} at ${uptime}s`;
}

const MILESTONE_LINE = /^berth: (.+) at (\d+(?:\.\d+)?)s\r?$/gm;

/**
 * The milestones in a console log, in the order they appeared, with the guest's uptime in seconds.
 * A guest that boots twice into the same log (berthd restarted) shows the later ones last.
 */
export function readMilestones(consoleText: string): { milestone: BootMilestone; uptime: number }[] {
  const byText = new Map(Object.entries(BOOT_MILESTONES).map(([name, text]) => [text as string, name as BootMilestone]));
  const found: { milestone: BootMilestone; uptime: number }[] = [];
  for (const match of consoleText.matchAll(MILESTONE_LINE)) {
    const milestone = byText.get(match[1]!);
    if (milestone) found.push({ milestone, uptime: Number(match[2]) });
  }
  return found;
}

/** The guest's uptime in seconds at the last time it printed `milestone`, if it has. */
export function milestoneUptime(consoleText: string, milestone: BootMilestone): number | undefined {
  return readMilestones(consoleText).filter((m) => m.milestone === milestone).pop()?.uptime;
}
