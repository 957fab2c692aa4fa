// Running a system tool (ip, nft, iptables-restore...) with optional input on stdin; a failure
// carries the tool's own stderr, which is what a user can act on.
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(`${command}: ${stderr.trim() || `exit status ${exitCode}`}`);
  }
}

export function runCommand(command: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error) => reject(new CommandError(command, error.message, null)));
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString());
      else reject(new CommandError([command, ...args.slice(0, 2)].join(' '), Buffer.concat(err).toString(), code));
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

const MAX_STDERR = 64 * 1024;

/**
 * Runs a command whose stdout is the answer (`tar -c` for export and docker cp), writing it to
 * `out` as it comes. A failure (exit status, signal, spawn error) rejects with the command's
 * stderr; `out` stays open for the caller, who knows what was already sent. When `out` closes
 * first (the client left), the command is killed and this resolves: nobody is left to tell.
 */
export function pipeCommandOutput(command: string, args: string[], out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let clientGone = false;
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < MAX_STDERR) stderr += chunk.toString();
    });
    const onClose = () => {
      clientGone = true;
      child.kill('SIGKILL');
    };
    out.once('close', onClose);
    child.stdout.pipe(out, { end: false });
    child.on('error', (error) => {
      out.off('close', onClose);
      reject(new CommandError(command, error.message, null));
    });
    child.on('close', (code, signal) => {
      out.off('close', onClose);
      child.stdout.unpipe(out);
      if (code === 0 || clientGone) resolve();
      else reject(new CommandError([command, ...args.slice(0, 2)].join(' '), stderr || `killed by ${signal}`, code));
    });
  });
}
