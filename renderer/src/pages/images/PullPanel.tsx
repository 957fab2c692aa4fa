// Pulling an image: the reference field, then one progress bar per layer while the engine streams
// its progress, the summary lines, and the engine's error when the pull fails.
import { useReducer, useRef, useState } from 'react';

import type { CreateImageInfo } from '../../../../electron/src/common/engine-types';
import * as engine from '../../engine-client';
import { formatSize } from '../../format';
import { emptyPull, foldPull, splitReference, type LayerProgress, type PullState } from './pull-progress';

type Action = { type: 'start' } | { type: 'message'; message: CreateImageInfo } | { type: 'fail'; error: string } | { type: 'end' };
interface Pull extends PullState { running: boolean; started: boolean }

function reduce(state: Pull, action: Action): Pull {
  switch (action.type) {
    case 'start': return { ...emptyPull, running: true, started: true };
    case 'message': return { ...state, ...foldPull(state, action.message) };
    case 'fail': return { ...state, error: action.error, running: false };
    case 'end': return { ...state, running: false };
  }
}

function LayerRow({ layer }: { layer: LayerProgress }) {
  const label = `Layer ${layer.id}`;
  const counts = layer.total && !layer.done ? ` ${formatSize(layer.current)} / ${formatSize(layer.total)}` : '';
  return (
    <li className="pull-layer">
      <code>{layer.id}</code>
      {layer.done ? (
        <progress aria-label={label} value={1} max={1} />
      ) : layer.total ? (
        <progress aria-label={label} value={layer.current ?? 0} max={layer.total} />
      ) : (
        <progress aria-label={label} />
      )}
      <span className="muted">{layer.status}{counts}</span>
    </li>
  );
}

export function PullPanel() {
  const [reference, setReference] = useState('');
  const [invalid, setInvalid] = useState<string>();
  const [pull, dispatch] = useReducer(reduce, { ...emptyPull, running: false, started: false });
  const stop = useRef<() => void>(undefined);

  const start = () => {
    const parts = splitReference(reference);
    if ('error' in parts) return setInvalid(parts.error);
    setInvalid(undefined);
    dispatch({ type: 'start' });
    stop.current = engine.pullImage(parts, {
      onProgress: (message) => dispatch({ type: 'message', message }),
      onEnd: () => dispatch({ type: 'end' }),
      onError: (error) => dispatch({ type: 'fail', error }),
    });
  };
  const cancel = () => {
    stop.current?.();
    dispatch({ type: 'fail', error: 'Pull cancelled.' });
  };

  return (
    <div className="pull">
      <form className="toolbar" onSubmit={(e) => { e.preventDefault(); start(); }}>
        <input aria-label="Image to pull" placeholder="registry/name:tag" value={reference} onChange={(e) => setReference(e.target.value)} aria-invalid={invalid ? true : undefined} aria-describedby={invalid ? 'pull-invalid' : undefined} />
        <button type="submit" className="primary" disabled={pull.running}>{pull.running ? 'Pulling…' : 'Pull'}</button>
        {pull.running && <button type="button" onClick={cancel}>Cancel</button>}
      </form>
      {invalid && <p id="pull-invalid" role="alert" className="field-error">{invalid}</p>}
      {pull.started && (
        <div className="pull-status" aria-label="Pull progress" role="group">
          {pull.layers.length === 0 && !pull.error && pull.running && <p className="muted">Resolving {reference.trim()}…</p>}
          {pull.layers.length > 0 && <ul className="pull-layers">{pull.layers.map((l) => <LayerRow key={l.id} layer={l} />)}</ul>}
          {pull.notes.map((note) => <p key={note} className="muted pull-note">{note}</p>)}
          {pull.error && <div role="alert" className="error">Pull failed: {pull.error}</div>}
        </div>
      )}
    </div>
  );
}
