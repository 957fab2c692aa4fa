// Terminals on the host, as Docker Desktop's built-in one: a shell with DOCKER_HOST pointing at
// Berth's engine, so `docker` just works. Several tabs; each keeps running while another is shown.
import type { Terminal } from '@xterm/xterm';
import { useState } from 'react';

import { XtermView, type TerminalSession } from '../components/XtermView';
import { host } from '../host';

function connectHostShell(term: Terminal, onExit: () => void): TerminalSession {
  const session = host.hostStream('terminal.open', { cols: term.cols, rows: term.rows }, {
    onLine: () => undefined,
    onBytes: (bytes) => term.write(bytes),
    onEnd: () => {
      term.write('\r\n[shell exited]\r\n');
      onExit();
    },
    onError: (message) => term.write(`\r\n[${message}]\r\n`),
  });
  term.onData((data) => session.write(data));
  return { resize: (cols, rows) => session.resize(cols, rows), close: () => session.close() };
}

let nextTab = 1;

export function HostTerminal() {
  const [tabs, setTabs] = useState<{ id: number; exited: boolean }[]>(() => [{ id: nextTab++, exited: false }]);
  const [current, setCurrent] = useState(tabs[0]!.id);
  const add = () => {
    const id = nextTab++;
    setTabs((old) => [...old, { id, exited: false }]);
    setCurrent(id);
  };
  const close = (id: number) => {
    setTabs((old) => {
      const rest = old.filter((t) => t.id !== id);
      if (current === id && rest.length) setCurrent(rest[rest.length - 1]!.id);
      return rest;
    });
  };
  return (
    <section className="host-terminal">
      <header>
        <h1>Terminal</h1>
        <p className="muted">A shell on this computer; <code>docker</code> talks to Berth.</p>
      </header>
      <div className="toolbar" role="tablist" aria-label="Terminal tabs">
        {tabs.map((t, i) => (
          <span key={t.id} className="tab">
            <button role="tab" aria-selected={t.id === current} onClick={() => setCurrent(t.id)}>Shell {i + 1}{t.exited ? ' (exited)' : ''}</button>
            <button aria-label={`Close shell ${i + 1}`} onClick={() => close(t.id)}>×</button>
          </span>
        ))}
        <button onClick={add} aria-label="New shell">+ New</button>
      </div>
      {tabs.length === 0 && <p className="muted">No shells open. Open one with “+ New”.</p>}
      {tabs.map((t) => (
        <div key={t.id} hidden={t.id !== current} role="tabpanel">
          <XtermView label={`Host shell ${tabs.indexOf(t) + 1}`} connect={(term) => connectHostShell(term, () => setTabs((old) => old.map((o) => (o.id === t.id ? { ...o, exited: true } : o))))} />
        </div>
      ))}
    </section>
  );
}
