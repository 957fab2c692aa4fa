// One image: what it is (tags, digests, platform), its config (what a container of it runs), its
// layers and its history; run it or remove it from here.
import { useState, type ReactNode } from 'react';

import type { ImageHistoryResponseItem, ImageInspect } from '../../../../electron/src/common/engine-types';
import * as engine from '../../engine-client';
import { useStore } from '../../store';
import { errorText, formatAge, formatDate, formatSize, shortId } from '../../format';
import { RunDialog } from './RunDialog';
import { useLoad } from '../../useLoad';
import '../resources.css';

function List({ items, empty = '—' }: { items: string[] | undefined | null; empty?: string }) {
  if (!items?.length) return <span className="muted">{empty}</span>;
  return <ul className="plain">{items.map((item, i) => <li key={`${i}-${item}`}><code>{item}</code></li>)}</ul>;
}

function ConfigTable({ image }: { image: ImageInspect }) {
  const config = image.Config ?? {};
  const rows: [string, ReactNode][] = [
    ['Entrypoint', <List items={config.Entrypoint} />],
    ['Command', <List items={config.Cmd} />],
    ['Working directory', config.WorkingDir ? <code>{config.WorkingDir}</code> : <span className="muted">/ (default)</span>],
    ['User', config.User ? <code>{config.User}</code> : <span className="muted">root (default)</span>],
    ['Exposed ports', <List items={Object.keys(config.ExposedPorts ?? {})} empty="None" />],
    ['Environment', <List items={config.Env} empty="None" />],
    ['Volumes', <List items={Object.keys(config.Volumes ?? {})} empty="None" />],
    ['Labels', <List items={Object.entries(config.Labels ?? {}).map(([k, v]) => `${k}=${v}`)} empty="None" />],
  ];
  return (
    <table aria-label="Configuration" className="keyvalue">
      <tbody>{rows.map(([k, v]) => <tr key={k}><th scope="row">{k}</th><td>{v}</td></tr>)}</tbody>
    </table>
  );
}

function Layers({ layers }: { layers: string[] }) {
  if (!layers.length) return <p className="empty">This image has no layers.</p>;
  return (
    <table aria-label="Layers">
      <thead><tr><th scope="col" className="num">#</th><th scope="col">Digest (uncompressed)</th></tr></thead>
      <tbody>{layers.map((digest, i) => <tr key={`${i}-${digest}`}><td className="num">{i + 1}</td><td><code className="digest">{digest}</code></td></tr>)}</tbody>
    </table>
  );
}

function History({ items }: { items: ImageHistoryResponseItem[] }) {
  if (!items.length) return <p className="empty">No history recorded for this image.</p>;
  return (
    <table aria-label="History">
      <thead><tr><th scope="col">Created by</th><th scope="col" className="num">Size</th><th scope="col">Created</th></tr></thead>
      <tbody>
        {items.map((h, i) => (
          <tr key={`${i}-${h.Created}`}>
            <td><code className="created-by">{h.CreatedBy.replace(/^\/bin\/sh -c #\(nop\)\s+/, '') || <span className="muted">—</span>}</code>{h.Comment && <small className="muted"> {h.Comment}</small>}</td>
            <td className="num">{h.Size ? formatSize(h.Size) : <span className="muted">0 B</span>}</td>
            <td title={formatDate(h.Created)}>{formatAge(h.Created)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ImageDetail({ id }: { id: string }) {
  // The store's image list changes on every tag, pull and removal: reload then.
  const images = useStore((s) => s.images);
  const image = useLoad(async () => {
    const [inspect, history] = await Promise.all([engine.inspectImage(id), engine.imageHistory(id)]);
    return { inspect, history };
  }, [id, images]);
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<string>();

  const inspect = image.data?.inspect;
  const tags = (inspect?.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
  const reference = tags[0] ?? inspect?.Id ?? id;
  const remove = async () => {
    try {
      if (!window.confirm(`Remove the image ${tags.join(', ') || shortId(id)}${tags.length > 1 ? ' and all its tags' : ''}?`)) return;
      // An image with several tags is removed whole only when forced (as `docker rmi -f`).
      await engine.removeImage(inspect?.Id ?? id, { force: tags.length > 1 });
      location.hash = '#/images';
    } catch (err) {
      setError(`Cannot remove the image: ${errorText(err)}`);
    }
  };

  return (
    <section className="resources">
      <nav aria-label="Breadcrumb" className="crumbs"><a href="#/images">Images</a> <span aria-hidden="true">›</span> <span>{tags[0] ?? shortId(id)}</span></nav>
      <header>
        <h1>{tags[0] ?? shortId(id)}</h1>
        {inspect && (
          <div className="toolbar">
            <button className="primary" onClick={() => setRunning(true)}>Run</button>
            <button onClick={() => void remove()}>Remove</button>
          </div>
        )}
      </header>
      {error && <div role="alert" className="error">{error} <button onClick={() => setError(undefined)}>Dismiss</button></div>}
      {image.loading && !inspect && <p className="muted" role="status">Loading the image…</p>}
      {image.error && <div role="alert" className="error">Cannot load the image: {image.error}</div>}
      {inspect && (
        <>
          <dl className="facts">
            <div><dt>ID</dt><dd><code>{inspect.Id}</code></dd></div>
            <div><dt>Tags</dt><dd>{tags.length ? tags.join(', ') : <span className="muted">none</span>}</dd></div>
            <div><dt>Created</dt><dd title={formatDate(inspect.Created)}>{formatAge(inspect.Created)}</dd></div>
            <div><dt>Size</dt><dd>{formatSize(inspect.Size)}</dd></div>
            <div><dt>Platform</dt><dd>{[inspect.Os, inspect.Architecture].filter(Boolean).join('/') || '—'}</dd></div>
            {inspect.RepoDigests?.length ? <div><dt>Digests</dt><dd><List items={inspect.RepoDigests} /></dd></div> : null}
          </dl>
          <h2>Configuration</h2>
          <ConfigTable image={inspect} />
          <h2>Layers <span className="muted count">{inspect.RootFS?.Layers?.length ?? 0}</span></h2>
          <Layers layers={inspect.RootFS?.Layers ?? []} />
          <h2>History <span className="muted count">{image.data?.history.length ?? 0}</span></h2>
          <History items={image.data?.history ?? []} />
        </>
      )}
      {running && <RunDialog reference={reference} onClose={() => setRunning(false)} />}
    </section>
  );
}
