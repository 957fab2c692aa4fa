// Settings: the VM's CPUs, memory, disk, architecture and shared folders, and starting at login. The host
// validates (the messages shown are its own); a change the running VM cannot take says so and
// offers "Apply & restart". The form does not use the browser's own validation: the host's
// messages say what is allowed and why.
import { useEffect, useState } from 'react';

import type { HostSettings, SettingsView } from '../../../electron/src/common/host-api';
import { ProgressList, useVmLifecycle } from '../components/VmLifecycle';
import { bytes, errorText } from '../format';
import { host } from '../host';

export function Settings() {
  const [view, setView] = useState<SettingsView>();
  const [draft, setDraft] = useState<HostSettings>();
  const [folder, setFolder] = useState('');
  const [error, setError] = useState<string>();
  const [saved, setSaved] = useState(false);
  const lifecycle = useVmLifecycle(() => void host.hostCall('settings.get').then(setView));
  const [mode, setMode] = useState<'vm' | 'socket'>();

  useEffect(() => {
    host.hostCall('settings.get').then((v) => {
      setView(v);
      setDraft(v.settings);
    }, (err: unknown) => setError(errorText(err)));
    host.hostCall('status').then((s) => setMode(s.mode), () => undefined);
  }, []);

  if (!draft || !view) return <section><h1>Settings</h1>{error ? <div role="alert" className="error">{error}</div> : <p className="muted">Loading…</p>}</section>;

  const change = <K extends keyof HostSettings>(key: K, value: HostSettings[K]) => {
    setDraft({ ...draft, [key]: value });
    setSaved(false);
  };
  const save = async (): Promise<boolean> => {
    setError(undefined);
    try {
      const next = await host.hostCall('settings.set', draft);
      setView(next);
      setDraft(next.settings);
      setSaved(true);
      return true;
    } catch (err) {
      setError(errorText(err));
      return false;
    }
  };
  const applyAndRestart = async () => {
    if (await save()) lifecycle.run('vm.restart');
  };
  const number = (key: 'cpus' | 'memoryMiB' | 'diskGiB', label: string, min: number, max: number, hint: string) => (
    <label className="field">
      <span>{label}</span>
      <input type="number" inputMode="numeric" min={min} max={max} value={Number.isNaN(draft[key]) ? '' : draft[key]} onChange={(e) => change(key, e.target.value === '' ? Number.NaN : Number(e.target.value))} aria-describedby={`${key}-hint`} />
      <small id={`${key}-hint`} className="muted">{hint}</small>
    </label>
  );

  return (
    <section>
      <header><h1>Settings</h1></header>
      {error && <div role="alert" className="error">{error}</div>}
      {view.restartNeeded.length > 0 && (
        <div role="status" className="notice">
          Changed since the VM started: {view.restartNeeded.join(', ')}. They take effect after a restart.
          {mode === 'vm' && <button disabled={!!lifecycle.busy} onClick={() => void applyAndRestart()}>Apply &amp; restart</button>}
        </div>
      )}
      {saved && view.restartNeeded.length === 0 && <div role="status" className="notice">Saved.</div>}
      <form className="settings" noValidate onSubmit={(e) => { e.preventDefault(); void save(); }}>
        <fieldset>
          <legend>Resources</legend>
          {number('cpus', 'CPUs', 1, view.limits.cpus, `1 to ${view.limits.cpus} (this computer's CPUs)`)}
          {number('memoryMiB', 'Memory (MiB)', 512, view.limits.memoryMiB, `512 to ${view.limits.memoryMiB} MiB`)}
          {number('diskGiB', 'Disk (GiB)', 8, 4096, view.dataDisk
            ? `The VM’s disk takes ${bytes(view.dataDisk.fileBytes)} of this computer’s disk now, and grows up to this size; space freed in Berth goes back.`
            : 'The VM’s disk grows up to this size; space freed in Berth goes back.')}
          <label className="field">
            <span>Architecture</span>
            <select value={draft.arch} onChange={(e) => change('arch', e.target.value as HostSettings['arch'])} aria-describedby="arch-hint">
              <option value="arm64">arm64 (Apple Silicon, ARM)</option>
              <option value="amd64">amd64 (Intel, AMD)</option>
            </select>
            <small id="arch-hint" className="muted">The guest Linux runs images of this architecture natively; the other one’s run under emulation, much slower. The guest of another architecture than this computer’s boots under emulation too.</small>
          </label>
        </fieldset>
        <fieldset>
          <legend>Shared folders</legend>
          <p className="muted">Folders of this computer that containers can bind-mount, at the same path.</p>
          <ul className="folders" aria-label="Shared folders">
            {draft.sharedFolders.map((f) => (
              <li key={f}><code>{f}</code> <button type="button" aria-label={`Stop sharing ${f}`} onClick={() => change('sharedFolders', draft.sharedFolders.filter((x) => x !== f))}>Remove</button></li>
            ))}
            {draft.sharedFolders.length === 0 && <li className="muted">No folders are shared.</li>}
          </ul>
          <div className="toolbar">
            <input aria-label="Folder to share" placeholder="/absolute/path" value={folder} onChange={(e) => setFolder(e.target.value)} />
            <button type="button" disabled={!folder} onClick={() => { change('sharedFolders', [...new Set([...draft.sharedFolders, folder.trim()])]); setFolder(''); }}>Add</button>
          </div>
        </fieldset>
        <fieldset>
          <legend>General</legend>
          <label className="check"><input type="checkbox" checked={draft.autoStart} onChange={(e) => change('autoStart', e.target.checked)} /> Start Berth when you log in</label>
        </fieldset>
        <div className="toolbar">
          <button type="submit">Save</button>
          <button type="button" onClick={() => { setDraft(view.settings); setError(undefined); }}>Discard changes</button>
        </div>
      </form>
      <ProgressList lines={lifecycle.progress} />
    </section>
  );
}
