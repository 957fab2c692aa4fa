// The diagnostics bundle Troubleshoot offers: one .tar.gz with what is needed to understand a
// problem (status, checks, settings, the agent's log and the VM's console, the engine's version,
// info and object lists). Container environments and inspect output are left out: they may hold
// secrets.
import { promises as fs } from 'node:fs';
import type { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';

import { pack } from 'tar-stream';

import type { Check, HostStatus } from '../../common/host-api.js';
import type { BerthPaths } from './paths.js';

const LOG_TAIL = 1024 * 1024;

async function tail(file: string): Promise<string | undefined> {
  const text = await fs.readFile(file).catch(() => undefined);
  if (!text) return undefined;
  return text.subarray(Math.max(0, text.length - LOG_TAIL)).toString('utf8');
}

export interface DiagnosticsInputs {
  status: HostStatus;
  checks: Check[];
  paths: BerthPaths;
  /** Engine API GETs (path → JSON) whose answers go into engine/. */
  engine(path: string): Promise<unknown>;
}

export const diagnosticsFileName = () => `berth-diagnostics-${new Date().toISOString().replace(/[:.]/g, '-')}.tar.gz`;

export async function writeDiagnostics(out: Writable, inputs: DiagnosticsInputs): Promise<void> {
  const files: [string, string][] = [
    ['summary.json', JSON.stringify({ collectedAt: new Date().toISOString(), platform: `${process.platform}/${process.arch}`, node: process.versions.node, status: inputs.status, checks: inputs.checks }, null, 2)],
  ];
  const settings = await fs.readFile(inputs.paths.settings, 'utf8').catch(() => undefined);
  if (settings) files.push(['settings.json', settings]);
  for (const [name, file] of [['agent.log', inputs.paths.agentLog], ['console.log', inputs.paths.consoleLog]] as const) {
    const text = await tail(file);
    if (text) files.push([name, text]);
  }
  for (const [name, apiPath] of [['version', '/version'], ['info', '/info'], ['containers', '/containers/json?all=1'], ['images', '/images/json'], ['networks', '/networks'], ['volumes', '/volumes']] as const) {
    const body = await inputs.engine(apiPath).catch((err: unknown) => ({ error: err instanceof Error ? err.message : String(err) }));
    files.push([`engine/${name}.json`, JSON.stringify(body, null, 2)]);
  }
  const archive = pack();
  const done = new Promise<void>((resolve, reject) => {
    out.on('finish', resolve);
    out.on('error', reject);
  });
  archive.pipe(createGzip()).pipe(out);
  const mtime = new Date();
  for (const [name, text] of files) archive.entry({ name: `berth-diagnostics/${name}`, mode: 0o644, mtime }, text);
  archive.finalize();
  await done;
}
