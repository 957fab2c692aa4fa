// The dashboard's first page: is the VM up, does the engine answer, which versions, how busy the
// machine is, and start / stop / restart with their progress. Usage is read every 5 s while this
// page is open (it changes without events); nothing is read when it is closed.
import { useCallback, useEffect, useState } from 'react';

import type { HostStatus } from '../../../electron/src/common/host-api';
import { ProgressList, useVmLifecycle } from '../components/VmLifecycle';
import { bytes, errorText } from '../format';
import { host } from '../host';
import { useStore } from '../store';

const REFRESH_MS = 5000;
// While the VM boots (the app starts it at launch) the page follows it more closely.
const BOOTING_REFRESH_MS = 1000;
const BUSY_LABELS = { 'vm.start': 'starting', 'vm.stop': 'stopping', 'vm.restart': 'restarting' } as const;

function Gauge({ label, used, total, text }: { label: string; used: number; total: number; text: string }) {
  return (
    <div className="gauge">
      <div className="gauge-label">{label}</div>
      <progress aria-label={label} max={total || 1} value={used} />
      <div className="muted">{text}</div>
    </div>
  );
}

function useStatus(): [HostStatus | undefined, string | undefined, () => void] {
  const [status, setStatus] = useState<HostStatus>();
  const [error, setError] = useState<string>();
  const load = useCallback(() => {
    host.hostCall('status').then((s) => {
      setStatus(s);
      setError(undefined);
    }, (err: unknown) => setError(errorText(err)));
  }, []);
  const booting = status?.vm?.state === 'starting' || status?.vm?.state === 'stopping';
  useEffect(() => {
    load();
    const timer = setInterval(load, booting ? BOOTING_REFRESH_MS : REFRESH_MS);
    return () => clearInterval(timer);
  }, [load, booting]);
  return [status, error, load];
}

export function Home() {
  const [status, error, reload] = useStatus();
  const containers = useStore((s) => s.containers);
  const images = useStore((s) => s.images);
  const refreshLists = useStore((s) => s.refresh);
  const { progress, busy, run } = useVmLifecycle(() => {
    reload();
    void refreshLists();
  });

  if (!status) return <section><h1>Dashboard</h1>{error ? <div role="alert" className="error">{error}</div> : <p className="muted">Loading…</p>}</section>;
  const vmState = status.vm?.state;
  const running = containers.filter((c) => c.State === 'running').length;
  const usage = status.usage;
  return (
    <section>
      <header>
        <h1>Dashboard</h1>
        {status.mode === 'vm' && (
          <div className="actions">
            <button disabled={!!busy || vmState !== 'stopped'} onClick={() => run('vm.start')}>Start</button>
            <button disabled={!!busy || vmState !== 'running'} onClick={() => run('vm.stop')}>Stop</button>
            <button disabled={!!busy || vmState !== 'running'} onClick={() => run('vm.restart')}>Restart</button>
          </div>
        )}
      </header>
      {error && <div role="alert" className="error">{error}</div>}
      <div className="cards">
        <div className="card" aria-label="Virtual machine">
          <h2>Virtual machine</h2>
          {status.mode === 'socket' ? (
            <p>No VM: attached to <code>{status.engineSocket}</code>.</p>
          ) : (
            <>
              <p><span className={`pill ${vmState}`}>{busy ? BUSY_LABELS[busy] : vmState}</span> {status.vm?.provider && `${status.vm.provider}, ${status.vm.accel}`}</p>
              {vmState === 'starting' && status.vm?.startedAt && (
                <p className="muted">
                  <progress aria-label="Starting the VM" /> Booting for {Math.round((Date.now() - Date.parse(status.vm.startedAt)) / 1000)} s…
                </p>
              )}
              {status.vm?.bootMs !== undefined && <p className="muted">Ready after {(status.vm.bootMs / 1000).toFixed(1)} s; {status.vm.forwardedPorts ?? 0} ports forwarded.</p>}
              {status.vm?.bootMilestones && <BootMilestones at={status.vm.bootMilestones} />}
            </>
          )}
        </div>
        <div className="card" aria-label="Engine">
          <h2>Engine</h2>
          {status.engine.reachable ? (
            <dl>
              <dt>Version</dt><dd>{status.engine.version}</dd>
              <dt>API</dt><dd>{status.engine.apiVersion}</dd>
              <dt>Platform</dt><dd>{status.engine.os}</dd>
              <dt>Kernel</dt><dd>{status.engine.kernel}</dd>
              <dt>Berth</dt><dd>{status.berthVersion}</dd>
            </dl>
          ) : (
            <p className="error" role="alert">Not answering{status.engine.error ? `: ${status.engine.error}` : ''}</p>
          )}
          <p className="muted">{running} running of {containers.length} containers, {images.length} images.</p>
        </div>
        <div className="card" aria-label="Resources">
          <h2>Resources</h2>
          {usage ? (
            <>
              <Gauge label="CPU" used={usage.cpuPercent} total={100} text={`${usage.cpuPercent.toFixed(0)} % of ${usage.cpus} CPUs`} />
              <Gauge label="Memory" used={usage.memoryUsed} total={usage.memoryTotal} text={`${bytes(usage.memoryUsed)} of ${bytes(usage.memoryTotal)}`} />
              {status.vm?.residentMiB !== undefined && (
                <p className="muted" aria-label="Memory on this computer">The VM holds {bytes(status.vm.residentMiB * 1024 * 1024)} of this computer’s memory; memory the guest frees goes back within seconds.</p>
              )}
              <Gauge label="Disk" used={usage.diskUsed} total={usage.diskTotal} text={`${bytes(usage.diskUsed)} of ${bytes(usage.diskTotal)}`} />
              {usage.engineData && (
                <p className="muted">Images {bytes(usage.engineData.images)} · containers {bytes(usage.engineData.containers)} · volumes {bytes(usage.engineData.volumes)}</p>
              )}
            </>
          ) : (
            <p className="muted">{status.engine.reachable ? 'This engine does not report its machine’s use.' : 'Unknown while the engine is down.'}</p>
          )}
        </div>
      </div>
      <ProgressList lines={progress} />
    </section>
  );
}

/**
 * Where the boot went, by the guest's uptime at each milestone: init starts when the kernel and
 * initramfs are done, berthd when init is, berthd has applied the boot arguments once Node has
 * loaded it, and the engine is ready last.
 */
const MILESTONE_LABELS: [string, string][] = [['initStarted', 'init'], ['berthdStarting', 'berthd'], ['guestConfigured', 'configured'], ['engineReady', 'ready']];

function BootMilestones({ at }: { at: Record<string, number> }) {
  const steps = MILESTONE_LABELS.filter(([key]) => at[key] !== undefined);
  return (
    <p className="muted" aria-label="Boot milestones">
      Boot, by the guest’s clock: {steps.map(([key, label]) => `${label} at ${at[key]!.toFixed(1)} s`).join(' · ')}
    </p>
  );
}
