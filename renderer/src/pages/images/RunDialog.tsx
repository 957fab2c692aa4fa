// The Run form in a modal <dialog>: the browser keeps focus inside it and closes it on Escape.
// The image's config is read for hints (its exposed ports, its command).
import { useEffect, useRef } from 'react';

import * as engine from '../../engine-client';
import { RunForm } from './RunForm';
import { useLoad } from '../../useLoad';

export function RunDialog({ reference, onClose }: { reference: string; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const inspect = useLoad(() => engine.inspectImage(reference), [reference]);
  useEffect(() => {
    // No close() on cleanup: its close event would arrive after StrictMode's second mount and
    // shut the dialog; an unmounted <dialog> leaves the top layer by itself.
    if (dialog.current && !dialog.current.open) dialog.current.showModal();
  }, []);
  const config = inspect.data?.Config;
  return (
    <dialog ref={dialog} className="run-dialog" aria-labelledby="run-dialog-title" onClose={onClose}>
      <h2 id="run-dialog-title">Run a new container</h2>
      <RunForm
        target={{ reference, exposedPorts: Object.keys(config?.ExposedPorts ?? {}), cmd: config ? [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])] : null }}
        onCancel={() => dialog.current?.close()}
      />
    </dialog>
  );
}
