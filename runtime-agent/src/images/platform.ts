// Picking the manifest for this machine out of a manifest list / OCI index.
import { arch } from 'node:os';

import { NotFoundError } from '../util/errors.js';
import type { Descriptor, Platform } from '../vocabulary/media-types.js';

/** Node's process.arch names -> OCI's GOARCH names. */
const ARCH_MAP: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

export function hostPlatform(): Platform {
  const architecture = ARCH_MAP[arch()] ?? arch();
  return architecture === 'arm64' ? { os: 'linux', architecture, variant: 'v8' } : { os: 'linux', architecture };
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** Parses `linux/arm64/v8`; an empty string means the host's platform. */
export function parsePlatform(value: string | undefined): Platform {
  if (!value) return hostPlatform();
  const [os = '', architecture = '', variant] = value.toLowerCase().split('/');
  const normalized = architecture === 'x86_64' || architecture === 'x86-64' ? 'amd64' : architecture === 'aarch64' ? 'arm64' : architecture;
  return { os, architecture: normalized, ...(variant ? { variant } : normalized === 'arm64' ? { variant: 'v8' } : {}) };
}

function matches(want: Platform, have: Platform | undefined): boolean {
  if (!have) return false;
  if (have.os !== want.os || have.architecture !== want.architecture) return false;
  if (want.architecture === 'arm64') return !have.variant || have.variant === 'v8' || have.variant === want.variant;
  return !want.variant || !have.variant || want.variant === have.variant;
}

export function selectManifest(manifests: Descriptor[], want: Platform, reference: string): Descriptor {
  const found = manifests.find((m) => matches(want, m.platform) && m.platform?.os !== 'unknown');
  if (!found) throw new NotFoundError(`no matching manifest for ${formatPlatform(want)} in the manifest list entries (${reference})`);
  return found;
}
