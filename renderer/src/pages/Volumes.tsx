// Volumes: each with its size, its driver, when it was made and the containers that use it;
// create, remove (the engine says when a volume is in use), and open one to browse its files.
import { useState } from 'react';

import * as engine from '../engine-client';
import { useStore } from '../store';
import { errorText, formatAge, formatDate, formatSize } from '../format';
import { removeVolume, useVolumeData, type VolumeUser } from './volumes/volume-data';
import './resources.css';

export function UsedBy({ users }: { users: VolumeUser[] | undefined }) {
  if (!users?.length) return <span className="muted">Not used</span>;
  return (
    <ul className="plain inline">
      {users.map((u) => (
        <li key={u.id}><a href={`#/container/${u.id}`}>{u.name}</a>{u.state !== 'running' && <span className="muted"> ({u.state})</span>}</li>
      ))}
    </ul>
  );
}

function CreateVolume({ onError }: { onError(message: string | undefined): void }) {
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const create = async () => {
    if (name && !/^[A-Za-z0-9][A-Za-z0-9_.-]+$/.test(name)) return onError(`"${name}" is not a valid volume name: letters, digits, _ . - (two characters or more, starting with a letter or digit).`);
    setBusy(true);
    try {
      await engine.createVolume(name ? { Name: name } : {});
      setName('');
      onError(undefined);
    } catch (err) {
      onError(`Cannot create the volume: ${errorText(err)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="toolbar" onSubmit={(e) => { e.preventDefault(); void create(); }}>
      <input aria-label="New volume name" placeholder="New volume name (optional)" value={name} onChange={(e) => setName(e.target.value)} />
      <button type="submit" disabled={busy}>Create</button>
    </form>
  );
}

export function Volumes() {
  const volumes = useStore((s) => s.volumes);
  const loaded = useStore((s) => s.loaded);
  const { usage, users, error: loadError } = useVolumeData();
  const [error, setError] = useState<string>();
  const [query, setQuery] = useState('');
  const shown = volumes.filter((v) => !query || v.Name.toLowerCase().includes(query.toLowerCase())).sort((a, b) => a.Name.localeCompare(b.Name));

  return (
    <section className="resources">
      <header>
        <h1>Volumes</h1>
        <input type="search" placeholder="Search" aria-label="Search volumes" value={query} onChange={(e) => setQuery(e.target.value)} />
      </header>
      <CreateVolume onError={setError} />
      {error && <div role="alert" className="error">{error} <button onClick={() => setError(undefined)}>Dismiss</button></div>}
      {loadError && <div role="alert" className="error">Cannot read volume sizes: {loadError}</div>}
      {!loaded && <p className="muted" role="status">Loading volumes…</p>}
      {loaded && volumes.length === 0 && <p className="empty">No volumes yet. Create one above, or run a container with <code>-v name:/path</code>.</p>}
      {loaded && volumes.length > 0 && (
        <table aria-label="Volumes">
          <thead>
            <tr><th scope="col">Name</th><th scope="col">Driver</th><th scope="col" className="num">Size</th><th scope="col">Created</th><th scope="col">Used by</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
          </thead>
          <tbody>
            {shown.map((v) => {
              const u = usage.get(v.Name);
              return (
                <tr key={v.Name} data-name={v.Name}>
                  <td><a href={`#/volume/${encodeURIComponent(v.Name)}`} className="name">{v.Name}</a></td>
                  <td>{v.Driver}</td>
                  <td className="num">{u ? formatSize(u.UsageData?.Size) : <span className="muted">…</span>}</td>
                  <td title={formatDate(u?.CreatedAt)}>{formatAge(u?.CreatedAt)}</td>
                  <td><UsedBy users={users.get(v.Name)} /></td>
                  <td className="actions"><button onClick={() => void removeVolume(v.Name, users.get(v.Name)).then((r) => setError(r.error))}>Remove</button></td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {loaded && volumes.length > 0 && shown.length === 0 && <p className="empty">No volume matches “{query}”.</p>}
    </section>
  );
}
