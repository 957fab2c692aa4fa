// berthd inside the Berth guest (vm-image/build.sh bundles this file with esbuild into
// /opt/berth/berthd.cjs, which vm-image/rootfs/berthd-start.cjs loads; berth-init runs that with the
// engine's own options). First it does what the host asked on the kernel command line (its key, the shared
// folders, the debug shell), read through the guest contract; then it runs the engine in VM mode, on
// the socket and SSH port the host expects.
import { readFileSync } from 'node:fs';

import { AUTHORIZED_KEYS_FILE, applyBootArguments } from '../vm/guest-boot.js';
import { GUEST_ENGINE_SOCKET, GUEST_SSH_PORT, formatMilestone, type BootMilestone } from '../vm/guest-contract.js';
import { main } from './berthd.js';

/** On the serial console (berthd's stderr, inherited from init), which the host reads. */
const consoleLine = (line: string) => process.stderr.write(`${line}\n`);
const milestone = (name: BootMilestone) => consoleLine(formatMilestone(name, readFileSync('/proc/uptime', 'utf8').split(' ')[0] ?? '?'));

async function runInGuest(): Promise<void> {
  const { arguments: boot, problems } = await applyBootArguments(readFileSync('/proc/cmdline', 'utf8'));
  for (const problem of problems) consoleLine(`berth: ${problem}`);
  milestone('guestConfigured');

  await main([
    ...process.argv.slice(2),
    '--host', `unix://${GUEST_ENGINE_SOCKET}`,
    '--ssh-listen', `0.0.0.0:${GUEST_SSH_PORT}`,
    '--ssh-authorized-keys', AUTHORIZED_KEYS_FILE,
    ...(boot.debugShell ? ['--ssh-debug-shell'] : []),
  ]);
  // main returns once the engine and the SSH server listen (it exits by itself on failure).
  milestone('engineReady');
}

// A CommonJS bundle (berthd-start.cjs's V8 code cache is for scripts, not modules): no top-level await.
runInGuest().catch((err: unknown) => {
  consoleLine(`berth: berthd failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
