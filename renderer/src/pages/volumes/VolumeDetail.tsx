// One volume: its facts (driver, mount point, size, labels, options), the containers that mount
// it and where, and its files.
import { useState } from 'react';

import { useStore } from '../../store';
import { formatAge, formatDate, formatSize } from '../../format';
import { FileBrowser } from './FileBrowser';
import { removeVolume, useVolumeData } from './volume-data';
import '../resources.css';

function Pairs({ label, values }: { label: string; values: Record<string, string> | null | undefined }) {
  const entries = Object.entries(values ?? {});
  return (
    <div><dt>{label}</dt><dd>{entries.length ? <ul className="plain">{entries.map(([k, v]) => <li key={k}><code>{k}={v}</code></li>)}</ul> : <span className="muted">None</span>}</dd></div>
  );
}

export function VolumeDetail({ name }: { name: string }) {
  const volumes = useStore((s) => s.volumes);
  const loaded = useStore((s) => s.loaded);
  const { usage, users, loading, error: loadError } = useVolumeData();
  const [error, setError] = useState<string>();
  const volume = volumes.find((v) => v.Name === name);
  const u = usage.get(name);
  const mountedBy = users.get(name) ?? [];

  const remove = async () => {
    const result = await removeVolume(name, mountedBy);
    setError(result.error);
    if (result.removed) location.hash = '#/volumes';
  };

  return (
    <section className="resources">
      <nav aria-label="Breadcrumb" className="crumbs"><a href="#/volumes">Volumes</a> <span aria-hidden="true">›</span> <span>{name}</span></nav>
      <header>
        <h1>{name}</h1>
        {volume && <div className="toolbar"><button onClick={() => void remove()}>Remove</button></div>}
      </header>
      {error && <div role="alert" className="error">{error} <button onClick={() => setError(undefined)}>Dismiss</button></div>}
      {loadError && <div role="alert" className="error">Cannot read the volume's size: {loadError}</div>}
      {!loaded && <p className="muted" role="status">Loading the volume…</p>}
      {loaded && !volume && <div role="alert" className="error">There is no volume named {name}. <a href="#/volumes">All volumes</a></div>}
      {volume && (
        <>
          <dl className="facts">
            <div><dt>Driver</dt><dd>{volume.Driver}</dd></div>
            <div><dt>Size</dt><dd>{loading ? <span className="muted">Measuring…</span> : formatSize(u?.UsageData?.Size)}</dd></div>
            <div><dt>Created</dt><dd title={formatDate(u?.CreatedAt)}>{formatAge(u?.CreatedAt)}</dd></div>
            <div><dt>Scope</dt><dd>{u?.Scope ?? 'local'}</dd></div>
            <div><dt>Mount point</dt><dd><code>{volume.Mountpoint}</code></dd></div>
            <Pairs label="Labels" values={volume.Labels} />
            <Pairs label="Options" values={u?.Options} />
          </dl>
          <h2>Used by <span className="muted count">{mountedBy.length}</span></h2>
          {mountedBy.length === 0 ? (
            <p className="empty">No container uses this volume.</p>
          ) : (
            <table aria-label="Containers using this volume">
              <thead><tr><th scope="col">Container</th><th scope="col">State</th><th scope="col">Mounted at</th><th scope="col">Access</th></tr></thead>
              <tbody>
                {mountedBy.map((c) => (
                  <tr key={`${c.id}-${c.destination}`}>
                    <td><a href={`#/container/${c.id}`}>{c.name}</a></td>
                    <td className={`state ${c.state}`}>{c.state}</td>
                    <td><code>{c.destination}</code></td>
                    <td>{c.readOnly ? 'read-only' : 'read-write'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h2>Files</h2>
          <FileBrowser volume={name} />
        </>
      )}
    </section>
  );
}
