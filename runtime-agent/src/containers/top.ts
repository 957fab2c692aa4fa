// `docker top`: the host's `ps` output narrowed to a container's PIDs, split into columns.
import { execFile } from 'node:child_process';

import { InvalidParameterError } from '../util/errors.js';

export async function processTable(pids: number[], psArgs: string): Promise<{ Titles: string[]; Processes: string[][] }> {
  const args = psArgs.split(/\s+/).filter(Boolean);
  const out = await new Promise<string>((resolve, reject) =>
    execFile('ps', args, { maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) => (err ? reject(new InvalidParameterError(`Error running ps: ${stderr.trim() || err.message}`)) : resolve(stdout))),
  );
  const lines = out.split('\n').filter(Boolean);
  const titles = (lines[0] ?? '').trim().split(/\s+/);
  const pidColumn = titles.indexOf('PID');
  if (pidColumn === -1) throw new InvalidParameterError(`Couldn't find PID field in ps output`);
  const wanted = new Set(pids.map(String));
  const processes = lines.slice(1).map((line) => {
    const fields = line.trim().split(/\s+/);
    return [...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')];
  });
  return { Titles: titles, Processes: processes.filter((p) => wanted.has(p[pidColumn] ?? '')) };
}
