// A shell in the container: `exec -it sh` through the Engine API's hijacked stream, resized with
// the panel.
import type { Terminal } from '@xterm/xterm';
import { useState } from 'react';

import { XtermView, type TerminalSession } from '../components/XtermView';
import { host } from '../host';

export function TerminalTab({ id }: { id: string }) {
  const [error, setError] = useState<string>();
  const connect = (term: Terminal): TerminalSession => {
    let closed = false;
    let connection: { write(data: string): void; close(): void } | undefined;
    let execId = '';
    const resize = (cols: number, rows: number) => {
      if (execId) void host.request('POST', `/exec/${execId}/resize?h=${rows}&w=${cols}`);
    };
    void (async () => {
      try {
        const exec = await host.call<{ Id: string }>('POST', `/containers/${id}/exec`, { AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: true, Cmd: ['sh'], Env: [`COLUMNS=${term.cols}`, `LINES=${term.rows}`] });
        if (closed) return;
        execId = exec.Id;
        connection = host.hijack(`/exec/${exec.Id}/start`, { Detach: false, Tty: true }, {
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
