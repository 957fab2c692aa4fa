// `remote=` of POST /build (`docker build URL`): the build context fetched by the engine. A Git
// repository (git://, git@, github.com/..., or an http(s) URL ending in .git, with an optional
// #ref:subdir) is cloned with git; another http(s) URL is downloaded, and is the context if it is
// a (compressed) tar, else the Dockerfile itself, as with dockerd. Failures name the source.
import { Readable } from 'node:stream';
import path from 'node:path';
import { promises as fs } from 'node:fs';

import { runCommand } from '../util/command.js';
import { InvalidParameterError } from '../util/errors.js';
import { receiveContext } from './build-context.js';

const DOWNLOAD_TIMEOUT_MS = 60_000;

export function isGitUrl(remote: string): boolean {
  return /^(git:\/\/|git@|github\.com\/)/.test(remote) || /^https?:\/\/[^#]+\.git(#.*)?$/.test(remote);
}

/** Fills `dir` with the context `remote` names. */
export async function fetchRemoteContext(remote: string, dir: string): Promise<void> {
  if (isGitUrl(remote)) return cloneContext(remote, dir);
  if (!/^https?:\/\//.test(remote)) throw new InvalidParameterError(`unable to prepare context: remote ${JSON.stringify(remote)} is neither a Git repository nor an http(s) URL`);
  let response: Response;
  try {
    response = await fetch(remote, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS), redirect: 'follow' });
  } catch (err) {
    throw new InvalidParameterError(`unable to prepare context: unable to download remote context ${remote}: ${describe(err)}`);
  }
  if (!response.ok || !response.body) throw new InvalidParameterError(`unable to prepare context: unable to download remote context ${remote}: ${response.status} ${response.statusText}`);
  await receiveContext(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), dir);
}

/** `URL#ref:subdir`: a shallow clone of ref (default branch without one), the context being subdir. */
async function cloneContext(remote: string, dir: string): Promise<void> {
  const [base = '', fragment = ''] = remote.split('#');
  const [ref = '', subdir = ''] = fragment.split(':');
  const url = base.startsWith('github.com/') ? `https://${base}` : base;
  const checkout = path.join(dir, '.berth-git');
  const clone = (shallow: boolean) => runCommand('git', ['clone', '--quiet', ...(shallow ? ['--depth', '1'] : []), '--recurse-submodules', ...(ref ? ['--branch', ref] : []), '--', url, checkout]);
  try {
    // Shallow is enough; a server that cannot serve shallow clones (plain "dumb" HTTP) gets a full one.
    await clone(true).catch(async (err: unknown) => {
      if (!/shallow/i.test(describe(err))) throw err;
      await fs.rm(checkout, { recursive: true, force: true });
      await clone(false);
    });
  } catch (err) {
    throw new InvalidParameterError(`unable to prepare context: unable to 'git clone' ${base}: ${describe(err)}`);
  }
  const root = path.resolve(checkout, subdir || '.');
  if (root !== checkout && !root.startsWith(`${checkout}${path.sep}`)) throw new InvalidParameterError(`unable to prepare context: the subdirectory ${JSON.stringify(subdir)} is outside the repository`);
  const stats = await fs.stat(root).catch(() => undefined);
  if (!stats?.isDirectory()) throw new InvalidParameterError(`unable to prepare context: ${JSON.stringify(subdir)} is not a directory in ${base}`);
  // The context is the subdirectory's content, without the repository's .git.
  for (const entry of await fs.readdir(root)) if (entry !== '.git') await fs.rename(path.join(root, entry), path.join(dir, entry));
  await fs.rm(checkout, { recursive: true, force: true });
}

function describe(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err instanceof Error ? err.message : String(err)}${cause}`.replace(/\s+/g, ' ').trim();
}
