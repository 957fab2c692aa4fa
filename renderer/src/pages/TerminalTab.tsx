// A shell in the container: `exec -it sh` through the Engine API's hijacked stream, in xterm.js,
// resized with the panel.
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef, useState } from 'react';

import { host } from '../host';

export function TerminalTab({ id }: { id: string }) {
  const element = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string>();
  useEffect(() => {
    if (!element.current) return;
    const term = new Terminal({ fontSize: 13, cursorBlink: true, convertEol: false });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(element.current);
    fit.fit();
    let closed = false;
    let connection: { write(data: string): void; close(): void } | undefined;
    let execId = '';
    const resize = () => {
      fit.fit();
      if (execId) void host.request('POST', `/exec/${execId}/resize?h=${term.rows}&w=${term.cols}`);
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
        resize();
        term.focus();
      } catch (err) {
        setError(err instanceof Error ? err.message : String(err));
      }
    })();
    const observer = new ResizeObserver(resize);
    observer.observe(element.current);
    return () => {
      closed = true;
      observer.disconnect();
      connection?.close();
      term.dispose();
    };
  }, [id]);
  return (
    <>
      {error && <div role="alert" className="error">{error}</div>}
      <div className="terminal" ref={element} aria-label="Terminal" />
    </>
  );
}
