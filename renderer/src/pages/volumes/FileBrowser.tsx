// The files of a volume, one directory at a time, read through the host's `volume.browse` call
// (a stopped helper container's archive, so it works with any engine). Directories open in place;
// the breadcrumbs lead back up.
import { useState } from 'react';

import type { VolumeEntry } from '../../../../electron/src/common/host-api';
import { host } from '../../host';
import { formatAge, formatDate, formatSize } from '../../format';
import { useLoad } from '../../useLoad';
import { formatMode } from './file-mode';

function Breadcrumbs({ volume, path, go }: { volume: string; path: string[]; go(depth: number): void }) {
  const crumbs = [volume, ...path];
  return (
    <nav aria-label="Folder path" className="crumbs">
      <ol>
        {crumbs.map((crumb, depth) => (
          <li key={`${depth}-${crumb}`}>
            {depth === crumbs.length - 1 ? (
              <span aria-current="location">{depth === 0 ? <>{crumb} <span className="muted">(root)</span></> : crumb}</span>
            ) : (
              <button className="link" onClick={() => go(depth)}>{crumb}</button>
            )}
          </li>
        ))}
      </ol>
    </nav>
  );
}

function EntryRow({ entry, open }: { entry: VolumeEntry; open(name: string): void }) {
  return (
    <tr data-entry={entry.name}>
      <td>
        {entry.type === 'directory' ? (
          <button className="link entry dir" onClick={() => open(entry.name)} aria-label={`Open folder ${entry.name}`}>
            {entry.name}/
          </button>
        ) : (
          <span className={`entry ${entry.type}`}>
            {entry.name}
            {entry.linkTarget !== undefined && <span className="muted"> → {entry.linkTarget}</span>}
          </span>
        )}
      </td>
      <td className="num">{entry.type === 'file' ? formatSize(entry.size) : <span className="muted">—</span>}</td>
      <td><code>{formatMode(entry.type, entry.mode)}</code></td>
      <td title={formatDate(entry.modified)}>{formatAge(entry.modified)}</td>
    </tr>
  );
}

export function FileBrowser({ volume }: { volume: string }) {
  const [path, setPath] = useState<string[]>([]);
  const [reloads, setReloads] = useState(0);
  const listing = useLoad(() => host.hostCall('volume.browse', { volume, path: path.join('/') }), [volume, path, reloads]);
  // While the next folder loads, the previous one's files would sit under the new breadcrumbs.
  const entries = listing.loading ? undefined : listing.data;

  return (
    <div className="file-browser">
      <div className="toolbar">
        <Breadcrumbs volume={volume} path={path} go={(depth) => setPath((p) => p.slice(0, depth))} />
        <button onClick={() => setReloads((n) => n + 1)} disabled={listing.loading}>Refresh</button>
      </div>
      {listing.loading && <p className="muted" role="status">Reading {path.length ? `/${path.join('/')}` : 'the volume'}…</p>}
      {listing.error && !listing.loading && <div role="alert" className="error">Cannot list this folder: {listing.error}</div>}
      {entries && !listing.error && entries.length === 0 && <p className="empty">This folder is empty.</p>}
      {entries && !listing.error && entries.length > 0 && (
        <table aria-label="Files" className="files">
          <thead><tr><th scope="col">Name</th><th scope="col" className="num">Size</th><th scope="col">Mode</th><th scope="col">Modified</th></tr></thead>
          <tbody>
            {path.length > 0 && (
              <tr>
                <td colSpan={4}><button className="link entry dir" onClick={() => setPath((p) => p.slice(0, -1))} aria-label="Up to the parent folder">..</button></td>
              </tr>
            )}
            {entries.map((e) => <EntryRow key={e.name} entry={e} open={(name) => setPath((p) => [...p, name])} />)}
          </tbody>
        </table>
      )}
    </div>
  );
}
