// The state of a pull, folded from the engine's JSON progress lines (the same stream `docker pull`
// draws): one entry per layer with its phase and byte counts, plus the summary lines.
import type { CreateImageInfo } from '../../../../electron/src/common/engine-types';

export interface LayerProgress {
  id: string;
  status: string;
  current?: number;
  total?: number;
  done: boolean;
}

export interface PullState {
  layers: LayerProgress[];
  /** "Digest: …", "Status: Downloaded newer image for …" and the like. */
  notes: string[];
  error?: string;
}

/** A layer's last word: nothing follows these for it. */
const FINAL = /^(Pull complete|Already exists)$/;

export const emptyPull: PullState = { layers: [], notes: [] };

export function foldPull(state: PullState, message: CreateImageInfo): PullState {
  if (message.error || message.errorDetail?.message) return { ...state, error: message.error ?? message.errorDetail?.message };
  const status = message.status ?? '';
  // "Pulling from library/debian" carries the tag as its id: a heading, not a layer.
  if (!message.id || status.startsWith('Pulling from')) {
    return status && !status.startsWith('Pulling from') ? { ...state, notes: [...state.notes, status] } : state;
  }
  const detail = message.progressDetail ?? {};
  const old = state.layers.find((l) => l.id === message.id);
  // Between phases ("Verifying Checksum", "Download complete") the stream sends no counts: the
  // bar keeps the last phase's, filled, rather than jumping back to empty.
  const counts = detail.total ? { current: detail.current ?? 0, total: detail.total } : old?.total ? { current: old.total, total: old.total } : {};
  const next: LayerProgress = { id: message.id, status, done: FINAL.test(status), ...counts };
  return { ...state, layers: old ? state.layers.map((l) => (l.id === message.id ? next : l)) : [...state.layers, next] };
}

/**
 * `POST /images/create` takes the name and the tag (or digest) apart, as the docker CLI sends them.
 * The tag is after the last colon that follows the last slash, so a registry's port is not a tag.
 */
export function splitReference(input: string): { fromImage: string; tag: string } | { error: string } {
  const reference = input.trim();
  if (!reference) return { error: 'Enter an image to pull, such as busybox or registry:5000/team/app:1.0.' };
  if (/\s/.test(reference)) return { error: 'An image reference has no spaces.' };
  const at = reference.indexOf('@');
  if (at >= 0) return { fromImage: reference.slice(0, at), tag: reference.slice(at + 1) };
  const slash = reference.lastIndexOf('/');
  const colon = reference.lastIndexOf(':');
  if (colon > slash) return { fromImage: reference.slice(0, colon), tag: reference.slice(colon + 1) || 'latest' };
  return { fromImage: reference, tag: 'latest' };
}
