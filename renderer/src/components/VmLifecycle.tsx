// Start / stop / restart of the VM with their progress lines, for every page that offers them.
import { useState } from 'react';

import { host } from '../host';

export type VmAction = 'vm.start' | 'vm.stop' | 'vm.restart';

export function useVmLifecycle(onDone?: () => void): { progress: string[]; busy: VmAction | undefined; run(action: VmAction): void } {
  const [progress, setProgress] = useState<string[]>([]);
  const [busy, setBusy] = useState<VmAction>();
  const run = (action: VmAction) => {
    setBusy(action);
    setProgress([]);
    host.hostStream(action, undefined, {
      onLine: (line) => setProgress((old) => [...old, line]),
      onEnd: () => {
        setBusy(undefined);
        onDone?.();
      },
      onError: (message) => {
        setProgress((old) => [...old, `Failed: ${message}`]);
        setBusy(undefined);
        onDone?.();
      },
    });
  };
  return { progress, busy, run };
}

export function ProgressList({ lines }: { lines: string[] }) {
  if (!lines.length) return null;
  return (
    <ol className="progress" aria-label="Progress">
      {lines.map((line, i) => <li key={i}>{line}</li>)}
    </ol>
  );
}
