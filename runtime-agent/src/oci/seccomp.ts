// The default seccomp filter: dockerd's own default profile (installed by scripts/install-deps.sh
// from Debian's docker.io sources, and shipped in the VM image), turned into the OCI form for this
// machine's architecture and the container's capabilities, as dockerd does. The containers
// project's profile (Podman's, looser: it allows mount, setns, ptrace...) is only a fallback.
import { readFileSync } from 'node:fs';

import { InvalidParameterError } from '../util/errors.js';
import { log } from '../util/log.js';

interface DockerSeccompRule {
  names?: string[];
  name?: string;
  action: string;
  args?: unknown[] | null;
  errnoRet?: number;
  includes?: { arches?: string[]; caps?: string[]; minKernel?: string };
  excludes?: { arches?: string[]; caps?: string[] };
}

interface DockerSeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  archMap?: { architecture: string; subArchitectures?: string[] }[];
  architectures?: string[];
  syscalls?: DockerSeccompRule[];
}

export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures: string[];
  syscalls: { names: string[]; action: string; args?: unknown[]; errnoRet?: number }[];
}

/** dockerd's own profile (Debian's docker sources, see scripts/install-deps.sh), else the containers project's. */
export const PROFILE_PATHS = ['/usr/share/berth/seccomp/docker-default.json', '/usr/share/containers/seccomp.json'];
const NODE_TO_GO_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', s390x: 's390x', ppc64: 'ppc64le', riscv64: 'riscv64' };
const GO_TO_SECCOMP_ARCH: Record<string, string> = { amd64: 'SCMP_ARCH_X86_64', arm64: 'SCMP_ARCH_AARCH64', arm: 'SCMP_ARCH_ARM', '386': 'SCMP_ARCH_X86', s390x: 'SCMP_ARCH_S390X', ppc64le: 'SCMP_ARCH_PPC64LE', riscv64: 'SCMP_ARCH_RISCV64' };

let defaultProfile: DockerSeccompProfile | null | undefined;

function loadDefaultProfile(): DockerSeccompProfile | null {
  if (defaultProfile !== undefined) return defaultProfile;
  for (const file of PROFILE_PATHS) {
    try {
      defaultProfile = JSON.parse(readFileSync(file, 'utf8')) as DockerSeccompProfile;
      if (file !== PROFILE_PATHS[0]) log.warn("dockerd's seccomp profile is missing: using the containers project's, which allows more", { file });
      return defaultProfile;
    } catch {
      // try the next place
    }
  }
  log.warn('no default seccomp profile found: containers run without a seccomp filter', { looked: PROFILE_PATHS.join(', ') });
  defaultProfile = null;
  return null;
}

/** Converts a Docker-format profile for this architecture and the given capabilities. */
export function toOciSeccomp(profile: DockerSeccompProfile, capabilities: string[]): OciSeccomp {
  const goArch = NODE_TO_GO_ARCH[process.arch] ?? process.arch;
  const arch = GO_TO_SECCOMP_ARCH[goArch] ?? '';
  const mapped = profile.archMap?.find((a) => a.architecture === arch);
  const architectures = mapped ? [mapped.architecture, ...(mapped.subArchitectures ?? [])] : (profile.architectures ?? []);
  const syscalls: OciSeccomp['syscalls'] = [];
  for (const rule of profile.syscalls ?? []) {
    const inc = rule.includes ?? {};
    const exc = rule.excludes ?? {};
    if (inc.arches?.length && !inc.arches.includes(goArch)) continue;
    if (inc.caps?.length && !inc.caps.every((c) => capabilities.includes(c))) continue;
    if (exc.arches?.length && exc.arches.includes(goArch)) continue;
    if (exc.caps?.length && exc.caps.some((c) => capabilities.includes(c))) continue;
    const names = rule.names?.length ? rule.names : rule.name ? [rule.name] : [];
    if (names.length === 0) continue;
    syscalls.push({ names, action: rule.action, ...(rule.args?.length ? { args: rule.args } : {}), ...(rule.errnoRet !== undefined ? { errnoRet: rule.errnoRet } : {}) });
  }
  return { defaultAction: profile.defaultAction, ...(profile.defaultErrnoRet !== undefined ? { defaultErrnoRet: profile.defaultErrnoRet } : {}), architectures, syscalls };
}

/**
 * The filter for a container: none when privileged or `--security-opt seccomp=unconfined`, the
 * given profile for `seccomp=<json>` (the CLI sends the file's content), else the default.
 */
export function seccompFor(securityOpts: string[], privileged: boolean, capabilities: string[]): OciSeccomp | undefined {
  const option = securityOpts.find((o) => o.startsWith('seccomp=') || o.startsWith('seccomp:'));
  const value = option?.slice('seccomp='.length);
  if (value === 'unconfined') return undefined;
  if (value) {
    try {
      return toOciSeccomp(JSON.parse(value) as DockerSeccompProfile, capabilities);
    } catch {
      throw new InvalidParameterError('Decoding seccomp profile failed: invalid JSON');
    }
  }
  if (privileged) return undefined;
  const profile = loadDefaultProfile();
  return profile ? toOciSeccomp(profile, capabilities) : undefined;
}
