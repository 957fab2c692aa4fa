// Platforms (os/architecture/variant) as dockerd reads and compares them, by the rules of
// containerd's `platforms` package that dockerd uses: the `--platform` specifier syntax and its
// errors, the names that mean the same platform (x86_64 = amd64, aarch64 = arm64 = arm64/v8), which
// platforms an engine for one platform can run (amd64 runs 386, arm64 runs arm/v8..v5), and the
// choice of a manifest out of a manifest list or OCI index.
import { arch } from 'node:os';

import { InvalidParameterError, NotFoundError } from '../util/errors.js';
import type { Descriptor, Platform } from '../vocabulary/media-types.js';

/** Node's process.arch names -> OCI's GOARCH names. */
const ARCH_MAP: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/** GOOS and GOARCH values: a specifier of one component must name one of these. */
const KNOWN_OS = new Set(['aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux', 'nacl', 'netbsd', 'openbsd', 'plan9', 'solaris', 'windows', 'zos']);
const KNOWN_ARCH = new Set(['386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'ppc64', 'ppc64le', 'loong64', 'mips', 'mipsle', 'mips64', 'mips64le', 'mips64p32', 'mips64p32le', 'ppc', 'riscv', 'riscv64', 's390', 's390x', 'sparc', 'sparc64', 'wasm']);

const COMPONENT_RE = /^[A-Za-z0-9_-]+$/;

/** The engine's own platform: the architecture Node runs as (the guest's, inside the VM). */
export function hostPlatform(): Platform {
  const architecture = ARCH_MAP[arch()] ?? arch();
  return architecture === 'arm64' ? { os: 'linux', architecture, variant: 'v8' } : { os: 'linux', architecture };
}

/** `linux/arm64/v8`; "unknown" for a platform without an OS (an image config that names none). */
export function formatPlatform(p: Platform): string {
  if (!p.os) return 'unknown';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

function normalizeOs(os: string): string {
  const lower = os.toLowerCase();
  if (lower === '') return hostPlatform().os;
  return lower === 'macos' ? 'darwin' : lower;
}

/** The one spelling of an architecture and its variant (arm64/v8 is plain arm64, arm is arm/v7). */
function normalizeArch(architecture: string, variant: string): { architecture: string; variant: string } {
  const a = architecture.toLowerCase();
  const v = variant.toLowerCase();
  switch (a) {
    case 'i386':
      return { architecture: '386', variant: '' };
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return { architecture: 'amd64', variant: v === 'v1' ? '' : v };
    case 'aarch64':
    case 'arm64':
      return { architecture: 'arm64', variant: v === '8' || v === 'v8' ? '' : v };
    case 'armhf':
      return { architecture: 'arm', variant: 'v7' };
    case 'armel':
      return { architecture: 'arm', variant: 'v6' };
    case 'arm':
      if (v === '' || v === '7') return { architecture: 'arm', variant: 'v7' };
      return { architecture: 'arm', variant: ['5', '6', '8'].includes(v) ? `v${v}` : v };
    default:
      return { architecture: a, variant: v };
  }
}

function platform(os: string, architecture: string, variant: string): Platform {
  return { os, architecture, ...(variant ? { variant } : {}) };
}

/**
 * Parses a `--platform` specifier (`os`, `arch`, `os/arch`, `os/arch/variant`) as dockerd does.
 * The variant stays as given (`linux/arm64` has none, `linux/arm64/v8` has v8), so messages name
 * what was asked for; comparisons normalize. A bad specifier is a 400 with containerd's words.
 */
export function parsePlatformSpecifier(specifier: string): Platform {
  const quoted = JSON.stringify(specifier);
  if (specifier.includes('*')) throw new InvalidParameterError(`${quoted}: wildcards not yet supported: invalid argument`);
  const parts = specifier.split('/');
  for (const part of parts) {
    if (!COMPONENT_RE.test(part)) {
      throw new InvalidParameterError(`${JSON.stringify(part)} is an invalid component of ${quoted}: platform specifier component must match ${JSON.stringify(COMPONENT_RE.source)}: invalid argument`);
    }
  }
  const [first = '', second = '', third = ''] = parts;
  switch (parts.length) {
    case 1: {
      // An OS alone runs on the engine's architecture; an architecture alone on the engine's OS.
      const os = normalizeOs(first);
      const host = hostPlatform();
      if (KNOWN_OS.has(os)) return platform(os, host.architecture, host.architecture === 'arm' ? (host.variant ?? '') : '');
      const { architecture, variant } = normalizeArch(first, '');
      if (KNOWN_ARCH.has(architecture)) return platform(host.os, architecture, architecture === 'arm' && variant === 'v7' ? '' : variant);
      throw new InvalidParameterError(`${quoted}: unknown operating system or architecture: invalid argument`);
    }
    case 2: {
      const { architecture, variant } = normalizeArch(second, '');
      return platform(normalizeOs(first), architecture, architecture === 'arm' && variant === 'v7' ? '' : variant);
    }
    case 3: {
      const { architecture, variant } = normalizeArch(second, third);
      return platform(normalizeOs(first), architecture, architecture === 'arm64' && variant === '' ? 'v8' : variant);
    }
    default:
      throw new InvalidParameterError(`${quoted}: cannot parse platform specifier: invalid argument`);
  }
}

/**
 * A specifier, or the engine's platform for none, in the form hostPlatform() has (arm64 with its
 * v8 variant), so that `formatPlatform(parsePlatform(x)) === formatPlatform(hostPlatform())` asks
 * "is this the engine's platform?".
 */
export function parsePlatform(value: string | undefined): Platform {
  if (!value) return hostPlatform();
  const parsed = parsePlatformSpecifier(value);
  return parsed.architecture === 'arm64' && !parsed.variant ? { ...parsed, variant: 'v8' } : parsed;
}

function normalize(p: Platform): { os: string; architecture: string; variant: string } {
  return { os: normalizeOs(p.os), ...normalizeArch(p.architecture, p.variant ?? '') };
}

/** The platforms an engine for `want` runs, best first: older variants, then the 32-bit sibling. */
function runnablePlatforms(want: Platform): Platform[] {
  const p = normalize(want);
  const list: Platform[] = [platform(p.os, p.architecture, p.variant)];
  const level = Number(p.variant.replace(/^v/, ''));
  if (p.architecture === 'amd64') {
    if (Number.isInteger(level)) for (let v = level - 1; v >= 1; v--) list.push(platform(p.os, 'amd64', `v${v}`));
    list.push(platform(p.os, '386', ''));
  } else if (p.architecture === 'arm') {
    if (Number.isInteger(level)) for (let v = level - 1; v >= 5; v--) list.push(platform(p.os, 'arm', `v${v}`));
  } else if (p.architecture === 'arm64') {
    list.push(...runnablePlatforms(platform(p.os, 'arm', p.variant || 'v8')));
  }
  return list;
}

function samePlatform(a: Platform, b: Platform): boolean {
  const x = normalize(a);
  const y = normalize(b);
  return x.os === y.os && x.architecture === y.architecture && x.variant === y.variant;
}

/** Whether content for `have` runs on an engine for `want` (an index entry's platform, say). */
export function platformMatches(want: Platform, have: Platform | undefined): boolean {
  if (!have) return false;
  return runnablePlatforms(want).some((p) => samePlatform(p, have));
}

/**
 * Whether an image whose config says `have` serves `want`. Configs often leave the variant out
 * (a plain `arm` image), so without one the OS and architecture decide, as dockerd lets them.
 */
export function imagePlatformMatches(want: Platform, have: Platform): boolean {
  if (platformMatches(want, have)) return true;
  if (have.variant) return false;
  const x = normalize(want);
  const y = normalize(have);
  return x.os === y.os && x.architecture === y.architecture;
}

/**
 * The manifest for `want` out of a manifest list or OCI index: the best platform `want` runs,
 * the first entry for it. Entries without a platform or for `unknown` (attestations) never match.
 * `context` names where the index came from in the error; a pull gives none (dockerd's words).
 */
export function selectManifest(manifests: Descriptor[], want: Platform, context?: string): Descriptor {
  const usable = manifests.filter((m) => m.platform && m.platform.os !== 'unknown');
  for (const candidate of runnablePlatforms(want)) {
    const found = usable.find((m) => m.platform && samePlatform(candidate, m.platform));
    if (found) return found;
  }
  throw new NotFoundError(`no matching manifest for ${formatPlatform(want)} in the manifest list entries${context ? ` (${context})` : ''}`);
}
