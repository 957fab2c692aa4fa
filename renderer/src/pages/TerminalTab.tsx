// A shell in the container: `exec -it sh` through the Engine API's hijacked stream, resized with
// the panel.
import type { Terminal } from '@xterm/xterm';
import { useState } from 'react';

import { XtermView, type TerminalSession } from '../components/XtermView';
import * as engine from '../engine-client';

export function TerminalTab({ id }: { id: string }) {
  const [error, setError] = useState<string>();
  const connect = (term: Terminal): TerminalSession => {
    let closed = false;
    let connection: engine.HijackedStream | undefined;
    let execId = '';
    const resize = (cols: number, rows: number) => {
      // A resize that fails (the shell just exited) changes nothing worth telling.
      if (execId) engine.resizeExec(execId, { cols, rows }).catch(() => undefined);
    };
    void (async () => {
      try {
        const exec = await engine.createExec(id, { AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: true, Cmd: ['sh'], Env: [`COLUMNS=${term.cols}`, `LINES=${term.rows}`] });
        if (closed) return;
        execId = exec.Id;
        connection = engine.startExec(exec.Id, { Detach: false, Tty: true }, {
          onBytes: (bytes) => term.write(bytes),
          onEnd: () => term.write('\r\n[session ended]\r\n'),
          onError: setError,
        });
        term.onData((data) => connection?.write(data));
        resize(term.cols, term.rows);
      } catch (err) {
        setError(err instanceof Error ? err.message : String(err));
      }
    })();
    return {
      resize,
      close: () => {
        closed = true;
        connection?.close();
      },
    };
  };
  return (
    <>
      {error && <div role="alert" className="error">{error}</div>}
      <XtermView connect={connect} label="Terminal" />
    </>
  );
}
