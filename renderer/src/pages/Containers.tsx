// Containers, grouped by compose project, updated from the engine's events; search, a state
// filter, and actions per row (start/stop, pause/resume, restart, remove after confirmation).
import { useMemo, useState } from 'react';

import type { ContainerStateStatus, ContainerSummary } from '../../../electron/src/common/engine-types';
import * as engine from '../engine-client';
import { useStore } from '../store';
import { containerName } from '../user-containers';

async function act(action: () => Promise<unknown>): Promise<void> {
  try {
    await action();
  } catch (err) {
    useStore.getState().setError(err instanceof Error ? err.message : String(err));
  }
}

type Filter = 'all' | 'running' | 'stopped';
const FILTERS: Record<Filter, { label: string; test(state: ContainerStateStatus): boolean }> = {
  all: { label: 'All', test: () => true },
  running: { label: 'Running', test: (s) => s === 'running' || s === 'paused' || s === 'restarting' },
  stopped: { label: 'Stopped', test: (s) => s === 'exited' || s === 'created' || s === 'dead' },
};

function Row({ c }: { c: ContainerSummary }) {
  const name = containerName(c);
  const running = c.State === 'running';
  const paused = c.State === 'paused';
  return (
    <tr data-name={name}>
      <td><a href={`#/container/${c.Id}`}>{name}</a></td>
      <td>{c.Image}</td>
      <td className={`state ${c.State}`}>{c.Status}</td>
      <td>
        {c.Ports.filter((p) => p.PublicPort).map((p) => (
          <a key={`${p.PublicPort}/${p.Type}`} href={`http://${p.IP && p.IP !== '0.0.0.0' ? p.IP : '127.0.0.1'}:${p.PublicPort}/`} target="_blank" rel="noreferrer">
            {p.PublicPort}:{p.PrivatePort}
          </a>
        ))}
      </td>
      <td className="actions">
        {running || paused ? (
          <button aria-label={`Stop ${name}`} onClick={() => act(() => engine.stopContainer(c.Id))}>Stop</button>
        ) : (
          <button aria-label={`Start ${name}`} onClick={() => act(() => engine.startContainer(c.Id))}>Start</button>
        )}
        {running && <button aria-label={`Pause ${name}`} onClick={() => act(() => engine.pauseContainer(c.Id))}>Pause</button>}
        {paused && <button aria-label={`Resume ${name}`} onClick={() => act(() => engine.unpauseContainer(c.Id))}>Resume</button>}
        <button aria-label={`Restart ${name}`} onClick={() => act(() => engine.restartContainer(c.Id))}>Restart</button>
        <button aria-label={`Remove ${name}`} onClick={() => window.confirm(`Remove ${name}?`) && act(() => engine.removeContainer(c.Id, { force: true }))}>Remove</button>
      </td>
    </tr>
  );
}

export function Containers() {
  const containers = useStore((s) => s.containers);
  const loaded = useStore((s) => s.loaded);
  const [query, setQuery] = useState('');
  const [filter, setFilter] = useState<Filter>('all');
  const groups = useMemo(() => {
    const byProject = new Map<string, ContainerSummary[]>();
    const needle = query.toLowerCase();
    for (const c of containers) {
      if (!FILTERS[filter].test(c.State)) continue;
      if (needle && !`${c.Names.join(' ')} ${c.Image} ${c.Id.slice(0, 12)}`.toLowerCase().includes(needle)) continue;
      const project = c.Labels?.['com.docker.compose.project'] ?? '';
      byProject.set(project, [...(byProject.get(project) ?? []), c]);
    }
    return [...byProject.entries()].sort(([a], [b]) => a.localeCompare(b));
  }, [containers, query, filter]);
  return (
    <section>
      <header>
        <h1>Containers</h1>
        <div className="toolbar">
          <input type="search" placeholder="Search" aria-label="Search containers" value={query} onChange={(e) => setQuery(e.target.value)} />
          <select aria-label="Show" value={filter} onChange={(e) => setFilter(e.target.value as Filter)}>
            {Object.entries(FILTERS).map(([key, f]) => <option key={key} value={key}>{f.label}</option>)}
          </select>
        </div>
      </header>
      {!loaded && <p className="muted">Loading…</p>}
      {loaded && containers.length === 0 && <p className="muted">No containers yet. Run one with <code>docker run</code>, or from an image on the Images page.</p>}
      {loaded && containers.length > 0 && groups.length === 0 && <p className="muted">No container matches.</p>}
      {groups.map(([project, rows]) => (
        <table key={project || '-'} aria-label={project ? `Compose project ${project}` : 'Containers'}>
          {project && <caption>{project}</caption>}
          <thead>
            <tr><th>Name</th><th>Image</th><th>Status</th><th>Ports</th><th /></tr>
          </thead>
          <tbody>{rows.map((c) => <Row key={c.Id} c={c} />)}</tbody>
        </table>
      ))}
    </section>
  );
}
