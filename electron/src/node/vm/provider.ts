// The VM behind one interface, whatever runs it: QEMU here (and on Linux and Windows), Apple's
// Virtualization framework and Hyper-V later. The host agent only talks to this.
import type { EventEmitter } from 'node:events';

import type { VmSettings } from './qemu-command.js';

export type VmState = 'stopped' | 'starting' | 'running' | 'stopping';

export interface VmProvider extends EventEmitter {
  readonly name: string;
  /** Starts the VM process; resolves once it runs (the guest boots on its own time). */
  start(settings: VmSettings): Promise<void>;
  /** Kills the VM process (a clean shutdown goes through the guest's control channel first). */
  stop(): Promise<void>;
  state(): VmState;
  /** Path of the serial console log. */
  consoleLog(): string | undefined;
  // emits 'exit' (code: number | null) when the VM process ends on its own
}

export class ProviderNotAvailableError extends Error {}

export function providerFor(name: string, make: { qemu: () => VmProvider }): VmProvider {
  if (name === 'qemu') return make.qemu();
  if (name === 'apple-virtualization') throw new ProviderNotAvailableError('the Apple Virtualization provider is not built yet: use "qemu" (with HVF) on macOS for now');
  if (name === 'hyper-v') throw new ProviderNotAvailableError('the Hyper-V provider is not built yet: use "qemu" (with WHPX) on Windows for now');
  throw new ProviderNotAvailableError(`unknown VM provider "${name}" (known: qemu, apple-virtualization, hyper-v)`);
}
