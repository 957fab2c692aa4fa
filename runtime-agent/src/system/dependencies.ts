// The programs and files berthd runs or reads, checked before it serves: an engine that answered
// /_ping and then failed the first `docker run` with "spawn conmon ENOENT" told its user nothing
// useful. Programs are looked up on PATH, as spawn() will look them up later.
import { execFile } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

import { PROFILE_PATHS } from '../oci/seccomp.js';

export interface Requirement {
  /** The program's name on PATH, or a label for a file found at one of `files`. */
  name: string;
  /** For a file rather than a program: the places it may be, best first. */
  files?: string[];
  /** Where it is, when not simply on PATH (the OCI runtime, which berthd also seeks in the sbin folders). */
  locate?: () => string | undefined;
  /** The Debian package that provides it. */
  debianPackage: string;
  /** What berthd uses it for, as `--check` shows it. */
  purpose: string;
  /** Without it berthd refuses to start; without an optional one, one feature is off. */
  required: boolean;
  /** Arguments that make it print its version (absent: nothing to ask, e.g. `sh`). */
  versionArgs?: string[];
  /** What is wrong with the version text, if anything (busybox's tar is not GNU tar). */
  verify?: (versionText: string) => string | undefined;
}

export interface Finding {
  requirement: Requirement;
  /** Where it was found; undefined when it was not. */
  path?: string;
  /** First line of its version text, when asked for. */
  version?: string;
  /** Found, but not usable (the wrong tar). */
  problem?: string;
}

/** Everything berthd spawns or reads, for a given OCI runtime. */
export function requirements(runtimeOption: string): Requirement[] {
  const runtimeName = path.basename(runtimeOption);
  const program = (name: string, debianPackage: string, purpose: string, versionArgs?: string[], extra: Partial<Requirement> = {}): Requirement => ({
    name,
    debianPackage,
    purpose,
    required: true,
    ...(versionArgs ? { versionArgs } : {}),
    ...extra,
  });
  return [
    program(runtimeName, runtimeName === 'crun' || runtimeName === 'runc' ? runtimeName : 'runc or crun', 'OCI runtime (--default-runtime)', ['--version'], {
      locate: () => findProgram(resolveRuntime(runtimeOption)),
    }),
    program('conmon', 'conmon', 'supervises each container, outliving berthd', ['--version']),
    program('tar', 'tar', 'unpacks layers, exports and copies files (GNU tar)', ['--version'], {
      verify: (text) => (/GNU tar/.test(text) ? undefined : 'not GNU tar (busybox?): layers need its --xattrs and --numeric-owner'),
    }),
    program('ip', 'iproute2', 'bridges, veths and addresses', ['-V']),
    program('nsenter', 'util-linux', 'configures interfaces inside a container\'s network namespace', ['--version']),
    program('mount', 'mount', 'overlay root filesystems and volume mounts', ['--version']),
    program('umount', 'mount', 'unmounts them'),
    program('iptables', 'iptables', 'isolation between networks, outbound NAT, published ports', ['--version']),
    program('iptables-restore', 'iptables', 'writes berthd\'s firewall chains in one step'),
    program('nft', 'nftables', 'sends 127.0.0.11:53 to the embedded DNS inside containers', ['--version']),
    program('getfattr', 'attr', 'finds opaque directories for docker diff and commit', ['--version']),
    program('setfattr', 'attr', 'marks opaque directories when unpacking layers'),
    program('ps', 'procps', 'docker top', ['--version']),
    program('cp', 'coreutils', 'copies an image\'s content into a new volume', ['--version']),
    program('rm', 'coreutils', 'removes large trees outside the engine\'s thread'),
    program('mknod', 'coreutils', 'writes whiteouts in overlayfs form'),
    program('sh', 'dash', 'runs batches of small commands'),
    {
      name: 'seccomp profile',
      files: PROFILE_PATHS,
      debianPackage: 'golang-github-containers-common',
      purpose: 'the default seccomp filter of every container',
      required: true,
    },
    program('zstd', 'zstd', 'zstd-compressed layers', ['--version'], { required: false }),
    program('igzip', 'isal', 'inflates gzip layers about twice as fast as zlib', ['--version'], { required: false }),
    program('tini', 'tini', 'docker run --init', ['--version'], { required: false }),
    program('git', 'git', 'docker build from a Git repository', ['--version'], { required: false }),
    program('resize2fs', 'e2fsprogs', 'grows the data disk (in the Berth VM)', [], { required: false }),
  ];
}

/** Where OCI runtimes live when PATH lacks the sbin folders (conmon wants an absolute path). */
const RUNTIME_DIRS = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin', '/sbin', '/bin'];

/** `--default-runtime runc` -> the binary's absolute path, or the name itself when it is nowhere. */
export function resolveRuntime(name: string): string {
  return findProgram(name) ?? findProgram(name, RUNTIME_DIRS.join(path.delimiter)) ?? name;
}

/** The absolute path `spawn(name)` would run, or undefined. */
export function findProgram(name: string, searchPath = process.env.PATH ?? ''): string | undefined {
  const candidates = name.includes('/') ? [name] : searchPath.split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, name));
  return candidates.find((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return statSync(candidate).isFile();
    } catch {
      return false;
    }
  });
}

function findFile(files: string[]): string | undefined {
  return files.find((file) => {
    try {
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

/** Everything a program says for its version arguments, stdout and stderr (resize2fs uses the latter). */
function versionText(binary: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(binary, args, { timeout: 5000 }, (_err, stdout, stderr) => resolve(`${stdout}\n${stderr}`.trim()));
  });
}

/**
 * Looks for every requirement. `withVersions` asks each program for its version (`--check`);
 * otherwise only programs with a `verify` are run, so that a start costs a few milliseconds.
 */
export async function inspectRequirements(list: Requirement[], options: { withVersions: boolean; searchPath?: string }): Promise<Finding[]> {
  return Promise.all(
    list.map(async (requirement): Promise<Finding> => {
      const found = requirement.files ? findFile(requirement.files) : requirement.locate ? requirement.locate() : findProgram(requirement.name, options.searchPath);
      if (!found) return { requirement };
      const ask = requirement.versionArgs && !requirement.files && (options.withVersions || requirement.verify);
      if (!ask) return { requirement, path: found };
      const text = await versionText(found, requirement.versionArgs ?? []);
      const problem = requirement.verify?.(text);
      const version = shorten(text.split('\n').find((line) => line.trim())?.trim() ?? '');
      return { requirement, path: found, ...(version ? { version } : {}), ...(problem ? { problem } : {}) };
    }),
  );
}

/** A version line fit for a table: `mount from util-linux 2.38.1 (libmount …: selinux, …)` loses its parenthesis. */
function shorten(line: string): string {
  const short = line.replace(/\s*\((?:lib|with )[^)]*\)$/, '').replace(/^\*+\s*|\s*\*+$/g, '');
  return short.length > 60 ? `${short.slice(0, 59)}…` : short;
}

/** Required things that are absent or unusable. */
export function unmet(findings: Finding[]): Finding[] {
  return findings.filter((f) => f.requirement.required && (!f.path || f.problem));
}

/** One line naming each unmet requirement and its package, and the apt line that fixes it all. */
export function unmetMessage(failures: Finding[]): string {
  const parts = failures.map((f) => `${f.requirement.name} (${f.problem ? `${f.path}: ${f.problem}; ` : ''}Debian package ${f.requirement.debianPackage})`);
  const packages = [...new Set(failures.map((f) => f.requirement.debianPackage))].filter((p) => /^[a-z0-9][a-z0-9.+-]*$/.test(p));
  const fix = packages.length ? `; install with: apt-get install ${packages.join(' ')}` : '';
  return `cannot run containers without ${parts.join(', ')}${fix}`;
}

/** The `berthd --check` report: one line per requirement. */
export function checkReport(findings: Finding[]): string {
  const rows = findings.map((f) => {
    const state = f.problem ? 'BAD' : f.path ? 'ok' : f.requirement.required ? 'MISSING' : 'absent';
    const where = f.path ?? `Debian package ${f.requirement.debianPackage}`;
    const detail = f.problem ?? f.version ?? '';
    return [state, f.requirement.name, where, detail, f.requirement.purpose];
  });
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((cell, i) => (i < 4 ? cell.padEnd(widths[i]!) : cell)).join('  ').trimEnd());
  const failures = unmet(findings);
  lines.push('', failures.length ? `berthd ${unmetMessage(failures)}` : 'berthd has everything it needs' + (findings.some((f) => !f.path) ? ' (absent optional programs turn one feature off each)' : ''));
  return lines.join('\n') + '\n';
}
