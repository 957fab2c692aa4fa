// Images: pull with per-layer progress, the list (one row per tag, as `docker images`), run and
// remove from each row; a row's name opens the image's detail.
import { useMemo, useState } from 'react';

import * as engine from '../engine-client';
import { useStore } from '../store';
import { errorText, formatAge, formatDate, formatSize, shortId } from '../format';
import { rowsOf, type ImageRowView } from './images/image-rows';
import { PullPanel } from './images/PullPanel';
import { RunDialog } from './images/RunDialog';
import './resources.css';

/** Removing a tag untags it (the image goes with its last tag); a dangling image goes by ID. */
async function removeImage(row: ImageRowView): Promise<string | undefined> {
  const what = row.tag ?? shortId(row.image.Id);
  const others = (row.image.RepoTags ?? []).filter((t) => t !== row.tag && t !== '<none>:<none>').length;
  const question = row.tag && others ? `Remove the tag ${what}? The image keeps its ${others} other tag${others > 1 ? 's' : ''}.` : `Remove the image ${what}?`;
  if (!window.confirm(question)) return undefined;
  try {
    await engine.removeImage(row.tag ?? row.image.Id);
    return undefined;
  } catch (err) {
    return `Cannot remove ${what}: ${errorText(err)}`;
  }
}

function ImageRow({ row, inUse, onRun, onError }: { row: ImageRowView; inUse: boolean; onRun(reference: string): void; onError(message: string): void }) {
  const { image, tag } = row;
  const hex = image.Id.replace(/^sha256:/, '');
  return (
    <tr data-image={tag ?? image.Id}>
      <td><a href={`#/image/${hex}`}>{tag ?? <span className="muted">&lt;none&gt;</span>}</a></td>
      <td><code>{shortId(image.Id)}</code></td>
      <td title={formatDate(image.Created)}>{formatAge(image.Created)}</td>
      <td className="num">{formatSize(image.Size)}</td>
      <td>{inUse ? <span className="badge">In use</span> : <span className="muted">Unused</span>}</td>
      <td className="actions">
        <button onClick={() => onRun(tag ?? image.Id)} aria-label={`Run ${tag ?? shortId(image.Id)}`}>Run</button>
        <button onClick={() => void removeImage(row).then((m) => m && onError(m))} aria-label={`Remove ${tag ?? shortId(image.Id)}`}>Remove</button>
      </td>
    </tr>
  );
}

export function Images() {
  const images = useStore((s) => s.images);
  const loaded = useStore((s) => s.loaded);
  const containers = useStore((s) => s.containers);
  const [query, setQuery] = useState('');
  const [running, setRunning] = useState<string>();
  const [error, setError] = useState<string>();

  const used = useMemo(() => new Set(containers.map((c) => c.ImageID)), [containers]);
  const rows = useMemo(() => {
    const q = query.trim().toLowerCase();
    return rowsOf(images)
      .filter((r) => !q || `${r.tag ?? '<none>'} ${r.image.Id}`.toLowerCase().includes(q))
      .sort((a, b) => b.image.Created - a.image.Created || (a.tag ?? '~').localeCompare(b.tag ?? '~'));
  }, [images, query]);
  const total = useMemo(() => images.reduce((sum, i) => sum + i.Size, 0), [images]);

  return (
    <section className="resources">
      <header>
        <h1>Images</h1>
        <input type="search" placeholder="Search" aria-label="Search images" value={query} onChange={(e) => setQuery(e.target.value)} />
      </header>
      <PullPanel />
      {error && (
        <div role="alert" className="error">
          {error} <button onClick={() => setError(undefined)}>Dismiss</button>
        </div>
      )}
      {!loaded && <p className="muted" role="status">Loading images…</p>}
      {loaded && images.length === 0 && <p className="empty">No images yet. Pull one above.</p>}
      {loaded && images.length > 0 && (
        <>
          <p className="muted summary">{images.length} image{images.length === 1 ? '' : 's'}, {formatSize(total)}</p>
          <table aria-label="Images">
            <thead>
              <tr><th scope="col">Image</th><th scope="col">ID</th><th scope="col">Created</th><th scope="col" className="num">Size</th><th scope="col">Status</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
            </thead>
            <tbody>
              {rows.map((row) => <ImageRow key={row.key} row={row} inUse={used.has(row.image.Id)} onRun={setRunning} onError={setError} />)}
            </tbody>
          </table>
          {rows.length === 0 && <p className="empty">No image matches “{query}”.</p>}
        </>
      )}
      {running && <RunDialog reference={running} onClose={() => setRunning(undefined)} />}
    </section>
  );
}
