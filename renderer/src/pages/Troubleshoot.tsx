// Troubleshoot: the host's checks with what to do about each, a diagnostics bundle to attach to a
// bug report, restart, and factory reset (which deletes every image, container and volume).
import { useCallback, useEffect, useState } from 'react';

import type { Check } from '../../../electron/src/common/host-api';
import { ProgressList, useVmLifecycle } from '../components/VmLifecycle';
import { errorText } from '../format';
import { host } from '../host';

const ICONS: Record<Check['state'], string> = { ok: '✓', warning: '!', failed: '✗', skipped: '–' };

export function Troubleshoot() {
  const [checks, setChecks] = useState<Check[]>();
  const [error, setError] = useState<string>();
  const [mode, setMode] = useState<'vm' | 'socket'>();
  const [resetting, setResetting] = useState(false);
  const [resetDone, setResetDone] = useState(false);

  const run = useCallback(() => {
    setChecks(undefined);
    host.hostCall('checks').then(setChecks, (err: unknown) => setError(errorText(err)));
  }, []);
  useEffect(() => {
    run();
    host.hostCall('status').then((s) => setMode(s.mode), () => undefined);
  }, [run]);

  const lifecycle = useVmLifecycle(run);
  const busy = resetting || !!lifecycle.busy;
  const reset = async () => {
    if (!window.confirm('Factory reset deletes every image, container and volume in Berth, and its settings. Continue?')) return;
    setResetting(true);
    try {
      await host.hostCall('factory-reset');
      setResetDone(true);
    } catch (err) {
      setError(errorText(err));
    }
    setResetting(false);
    run();
  };

  return (
    <section>
      <header>
        <h1>Troubleshoot</h1>
        <button onClick={run}>Run checks again</button>
      </header>
      {error && <div role="alert" className="error">{error}</div>}
      {!checks && !error && <p className="muted">Checking…</p>}
      {checks && (
        <ul className="checks" aria-label="Checks">
          {checks.map((c) => (
            <li key={c.id} className={`check-${c.state}`} data-check={c.id} data-state={c.state}>
              <span className="icon" aria-hidden="true">{ICONS[c.state]}</span>
              <div>
                <strong>{c.title}</strong> <span className="muted">({c.state})</span>
                <div>{c.detail}</div>
                {c.fix && <div className="fix">{c.fix}</div>}
              </div>
            </li>
          ))}
        </ul>
      )}
      <div className="cards">
        <div className="card">
          <h2>Diagnostics</h2>
          <p className="muted">Status, checks, settings, logs and the engine’s object lists in one archive, for a bug report. Container environments are left out.</p>
          <a className="button" href="/diagnostics" download>Collect diagnostics</a>
        </div>
        {mode === 'vm' && (
          <div className="card">
            <h2>Restart or reset</h2>
            <button disabled={busy} onClick={() => lifecycle.run('vm.restart')}>Restart Berth</button>
            <button disabled={busy} className="danger" onClick={() => void reset()}>Factory reset…</button>
          </div>
        )}
      </div>
      <ProgressList lines={lifecycle.progress} />
      {resetDone && <div role="status" className="notice">Berth was reset. Start it again from the Dashboard.</div>}
    </section>
  );
}
