// Running a system tool (ip, nft, iptables-restore...) with optional input on stdin; a failure
// carries the tool's own stderr, which is what a user can act on.
import { spawn } from 'node:child_process';

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
