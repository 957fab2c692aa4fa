// Images: the list, pulling with per-layer progress, removal.
import { useState } from 'react';

import { host } from '../host';
import { useStore } from '../store';

function size(bytes: number): string {
  return bytes > 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : bytes > 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(0)} kB`;
}

export function Images() {
  const images = useStore((s) => s.images);
  const setError = useStore((s) => s.setError);
  const [reference, setReference] = useState('');
  const [layers, setLayers] = useState<Record<string, string>>({});
  const [pulling, setPulling] = useState(false);
  const pull = () => {
    if (!reference) return;
    setPulling(true);
    setLayers({});
    const [name, tag = 'latest'] = reference.split(/:(?=[^/:]+$)/);
    host.stream(`/images/create?fromImage=${encodeURIComponent(name ?? reference)}&tag=${encodeURIComponent(tag)}`, {
      onLine: (line) => {
        const m = JSON.parse(line) as { id?: string; status?: string; progress?: string; error?: string };
        if (m.error) setError(m.error);
        if (m.id && m.status) setLayers((old) => ({ ...old, [m.id!]: `${m.status} ${m.progress ?? ''}`.trim() }));
      },
      onEnd: () => setPulling(false),
      onError: (message) => {
        setError(message);
        setPulling(false);
      },
    }, 'POST');
  };
  return (
    <section>
      <header>
        <h1>Images</h1>
        <form onSubmit={(e) => { e.preventDefault(); pull(); }}>
          <input aria-label="Image to pull" placeholder="registry/name:tag" value={reference} onChange={(e) => setReference(e.target.value)} />
          <button type="submit" disabled={pulling}>{pulling ? 'Pulling…' : 'Pull'}</button>
        </form>
      </header>
      {Object.keys(layers).length > 0 && (
        <ul className="progress" aria-label="Pull progress">
          {Object.entries(layers).map(([id, text]) => <li key={id}><code>{id}</code> {text}</li>)}
        </ul>
      )}
      <table aria-label="Images">
        <thead><tr><th>Tags</th><th>ID</th><th>Size</th><th /></tr></thead>
        <tbody>
          {images.map((i) => (
            <tr key={i.Id}>
              <td>{(i.RepoTags ?? ['<none>']).join(', ')}</td>
              <td><code>{i.Id.slice(7, 19)}</code></td>
              <td>{size(i.Size)}</td>
              <td><button onClick={() => window.confirm('Remove this image?') && host.call('DELETE', `/images/${i.Id}`).catch((e: Error) => setError(e.message))}>Remove</button></td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
