// One container: its logs (followed live, searchable, with timestamps on demand), live stats,
// its inspect, and a terminal into it.
import { Suspense, lazy, useEffect, useMemo, useRef, useState } from 'react';

import type { ContainerInspectResponse } from '../../../electron/src/common/engine-types';
import { LogView } from '../components/LogView';
import * as engine from '../engine-client';
import { useStore } from '../store';
import { StatsTab } from './StatsTab';

// xterm is most of the bundle's weight: loaded when the tab is first opened.
const TerminalTab = lazy(() => import('./TerminalTab').then((m) => ({ default: m.TerminalTab })));

const MAX_LINES = 20_000;

export function ContainerDetail({ id }: { id: string }) {
  const [tab, setTab] = useState<'logs' | 'stats' | 'inspect' | 'terminal'>('logs');
  // The log lives in a ref, trimmed now and then; `version` tells React it grew.
  const lines = useRef<string[]>([]);
  const [version, setVersion] = useState(0);
  const [inspect, setInspect] = useState<ContainerInspectResponse>();
  const [timestamps, setTimestamps] = useState(false);
  const [search, setSearch] = useState('');
  const [error, setError] = useState<string>();

  useEffect(() => {
    lines.current = [];
    setVersion((v) => v + 1);
    // Lines arrive fast (10,000 a second is fine): render once per frame.
    let frame = 0;
    const flush = () => {
      frame = 0;
      if (lines.current.length > MAX_LINES * 1.25) lines.current = lines.current.slice(-MAX_LINES);
      setVersion((v) => v + 1);
    };
    const stop = engine.streamContainerLogs(id, { follow: true, tail: 500, timestamps }, {
      onLines: (batch) => {
        for (const line of batch) lines.current.push(line);
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
    engine.inspectContainer(id).then(setInspect, (err: Error) => setError(err.message));
  }, [id, state]);

  // A new array per version: LogView re-renders when it changes.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const shown = useMemo(() => (search ? lines.current.filter((l) => l.includes(search)) : [...lines.current]), [version, search]);
  const name = inspect?.Name.replace(/^\//, '') ?? id.slice(0, 12);

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
          <LogView lines={shown} label="Logs" />
        </>
      )}
      {tab === 'terminal' && (
        <Suspense fallback={<p className="muted">Loading the terminal…</p>}>
          <TerminalTab id={id} />
        </Suspense>
      )}
      {tab === 'stats' && <StatsTab id={id} running={inspect?.State.Running ?? false} />}
      {tab === 'inspect' && <pre className="inspect">{inspect === undefined ? 'Loading…' : JSON.stringify(inspect, null, 2)}</pre>}
    </section>
  );
}
