// One hook for what the pages read beyond the store's lists: a load that runs again when its
// inputs change (the store's lists change on engine events, so passing them keeps pages live).
// The last answer stays on screen while the next one loads, so live updates do not flicker.
import { useEffect, useState } from 'react';

import { errorText } from './format';

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
}

export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({ data: undefined, error: undefined, loading: true });
  useEffect(() => {
    let current = true;
    setState((old) => ({ ...old, loading: true }));
    load().then(
      (data) => current && setState({ data, error: undefined, loading: false }),
      (err: unknown) => current && setState((old) => ({ data: old.data, error: errorText(err), loading: false })),
    );
    // An answer that arrives after the inputs changed belongs to the old inputs.
    return () => {
      current = false;
    };
  }, deps);
  return state;
}
