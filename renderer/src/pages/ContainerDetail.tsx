// One container: its logs (followed live, searchable, with timestamps on demand), live stats,
// its inspect, and a terminal into it.
import { Suspense, lazy, useEffect, useMemo, useRef, useState } from 'react';

import { host } from '../host';
import { useStore } from '../store';
import { StatsTab } from './StatsTab';

// xterm is most of the bundle's weight: loaded when the tab is first opened.
const TerminalTab = lazy(() => import('./TerminalTab').then((m) => ({ default: m.TerminalTab })));

const MAX_LINES = 5000;

export function ContainerDetail({ id }: { id: string }) {
  const [tab, setTab] = useState<'logs' | 'stats' | 'inspect' | 'terminal'>('logs');
  const [lines, setLines] = useState<string[]>([]);
  const [inspect, setInspect] = useState<unknown>(undefined);
  const [timestamps, setTimestamps] = useState(false);
  const [search, setSearch] = useState('');
  const [error, setError] = useState<string>();
  const bottom = useRef<HTMLDivElement>(null);

  useEffect(() => {
    setLines([]);
    let pending: string[] = [];
    // Lines arrive fast (10,000 a second is fine): render in batches, once per frame.
    let frame = 0;
    const flush = () => {
      frame = 0;
      const batch = pending;
      pending = [];
      setLines((old) => [...old, ...batch].slice(-MAX_LINES));
    };
    const stop = host.stream(`/containers/${id}/logs?follow=1&stdout=1&stderr=1&tail=500${timestamps ? '&timestamps=1' : ''}`, {
      onLine: (line) => {
        pending.push(line);
        frame ||= requestAnimationFrame(flush);
      },
      onError: setError,
    });
    return () => {
      stop();
      cancelAnimationFrame(frame);
    };
  }, [id, timestamps]);

  // Read again when the engine's events change the container's state (started, stopped…).
  const state = useStore((s) => s.containers.find((c) => c.Id === id || c.Id.startsWith(id))?.Status);
  useEffect(() => {
    host.call('GET', `/containers/${id}/json`).then(setInspect, (err: Error) => setError(err.message));
  }, [id, state]);

  // A block body: newer Chromium returns a Promise from scrollIntoView, and an effect may only
  // return a cleanup function.
  useEffect(() => {
    bottom.current?.scrollIntoView({ block: 'end' });
  }, [lines]);
  const shown = useMemo(() => (search ? lines.filter((l) => l.includes(search)) : lines), [lines, search]);
  const name = (inspect as { Name?: string } | undefined)?.Name?.replace(/^\//, '') ?? id.slice(0, 12);

  return (
    <section>
      <header>
        <h1>{name}</h1>
        <div role="tablist">
          <button role="tab" aria-selected={tab === 'logs'} onClick={() => setTab('logs')}>Logs</button>
          <button role="tab" aria-selected={tab === 'stats'} onClick={() => setTab('stats')}>Stats</button>
          <button role="tab" aria-selected={tab === 'inspect'} onClick={() => setTab('inspect')}>Inspect</button>
          <button role="tab" aria-selected={tab === 'terminal'} onClick={() => setTab('terminal')}>Terminal</button>
        </div>
      </header>
      {error && <div role="alert" className="error">{error}</div>}
      {tab === 'logs' && (
        <>
          <div className="toolbar">
            <input type="search" placeholder="Search logs" aria-label="Search logs" value={search} onChange={(e) => setSearch(e.target.value)} />
            <label><input type="checkbox" checked={timestamps} onChange={(e) => setTimestamps(e.target.checked)} /> Timestamps</label>
          </div>
          <pre className="logs" aria-label="Logs">
            {shown.join('\n')}
            <div ref={bottom} />
          </pre>
        </>
      )}
      {tab === 'terminal' && (
        <Suspense fallback={<p className="muted">Loading the terminal…</p>}>
          <TerminalTab id={id} />
        </Suspense>
      )}
      {tab === 'stats' && <StatsTab id={id} running={(inspect as { State?: { Running?: boolean } } | undefined)?.State?.Running ?? false} />}
      {tab === 'inspect' && <pre className="inspect">{inspect === undefined ? 'Loading…' : JSON.stringify(inspect, null, 2)}</pre>}
    </section>
  );
}
