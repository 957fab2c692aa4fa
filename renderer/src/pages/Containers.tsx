// Containers, grouped by compose project, updated from the engine's events; actions per row.
import { useMemo, useState } from 'react';

import { host } from '../host';
import { useStore, type ContainerRow } from '../store';

async function act(action: () => Promise<unknown>): Promise<void> {
  try {
    await action();
  } catch (err) {
    useStore.getState().setError(err instanceof Error ? err.message : String(err));
  }
}

function Row({ c }: { c: ContainerRow }) {
  const name = c.Names[0]?.replace(/^\//, '') ?? c.Id.slice(0, 12);
  const running = c.State === 'running';
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
        {running ? (
          <button onClick={() => act(() => host.call('POST', `/containers/${c.Id}/stop`))}>Stop</button>
        ) : (
          <button onClick={() => act(() => host.call('POST', `/containers/${c.Id}/start`))}>Start</button>
        )}
        <button onClick={() => act(() => host.call('POST', `/containers/${c.Id}/restart`))}>Restart</button>
        <button onClick={() => window.confirm(`Remove ${name}?`) && act(() => host.call('DELETE', `/containers/${c.Id}?force=1`))}>Remove</button>
      </td>
    </tr>
  );
}

export function Containers() {
  const containers = useStore((s) => s.containers);
  const loaded = useStore((s) => s.loaded);
  const [query, setQuery] = useState('');
  const groups = useMemo(() => {
    const byProject = new Map<string, ContainerRow[]>();
    for (const c of containers) {
      if (query && !`${c.Names.join(' ')} ${c.Image}`.toLowerCase().includes(query.toLowerCase())) continue;
      const project = c.Labels['com.docker.compose.project'] ?? '';
      byProject.set(project, [...(byProject.get(project) ?? []), c]);
    }
    return [...byProject.entries()].sort(([a], [b]) => a.localeCompare(b));
  }, [containers, query]);
  return (
    <section>
      <header>
        <h1>Containers</h1>
        <input type="search" placeholder="Search" aria-label="Search containers" value={query} onChange={(e) => setQuery(e.target.value)} />
      </header>
      {!loaded && <p className="muted">Loading…</p>}
      {loaded && containers.length === 0 && <p className="muted">No containers yet. Run one with <code>docker run</code>.</p>}
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
