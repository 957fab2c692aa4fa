// Networks: name, driver, scope, addressing, whether it is internal and how many containers are
// on it; create a bridge network, remove one (the engine refuses while containers are attached).
import { useState } from 'react';

import * as engine from '../engine-client';
import { useStore } from '../store';
import { errorText, shortId } from '../format';
import { useLoad } from '../useLoad';
import { PREDEFINED, gateways, subnets } from './networks/network-facts';
import './resources.css';

export async function removeNetwork(n: { Id: string; Name: string }): Promise<{ removed: boolean; error?: string }> {
  if (!window.confirm(`Remove network ${n.Name}?`)) return { removed: false };
  try {
    await engine.removeNetwork(n.Id);
    return { removed: true };
  } catch (err) {
    return { removed: false, error: `Cannot remove ${n.Name}: ${errorText(err)}` };
  }
}

function CreateNetwork({ onError }: { onError(message: string | undefined): void }) {
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const create = async () => {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) return onError(name ? `"${name}" is not a valid network name: letters, digits, _ . -, starting with a letter or digit.` : 'Enter a name for the new network.');
    setBusy(true);
    try {
      await engine.createNetwork({ Name: name, Driver: 'bridge', CheckDuplicate: true });
      setName('');
      onError(undefined);
    } catch (err) {
      onError(`Cannot create the network: ${errorText(err)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="toolbar" onSubmit={(e) => { e.preventDefault(); void create(); }}>
      <input aria-label="New network name" placeholder="New network name" value={name} onChange={(e) => setName(e.target.value)} />
      <button type="submit" disabled={busy}>Create</button>
    </form>
  );
}

export function Networks() {
  const networks = useStore((s) => s.networks);
  const containers = useStore((s) => s.containers);
  const loaded = useStore((s) => s.loaded);
  // The list answer leaves out the attached containers (as dockerd's does): each network is
  // inspected for them, again whenever networks or containers change. One removed meanwhile is
  // left out rather than failing the whole list.
  const details = useLoad(async () => {
    const inspected = await Promise.allSettled(networks.map((n) => engine.inspectNetwork(n.Id)));
    const failed = inspected.find((r) => r.status === 'rejected');
    if (failed && inspected.every((r) => r.status === 'rejected')) throw failed.reason;
    return inspected.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  }, [networks, containers]);
  const [error, setError] = useState<string>();
  const rows = [...(details.data ?? [])].sort((a, b) => Number(PREDEFINED.has(b.Name)) - Number(PREDEFINED.has(a.Name)) || a.Name.localeCompare(b.Name));

  return (
    <section className="resources">
      <header><h1>Networks</h1></header>
      <CreateNetwork onError={setError} />
      {error && <div role="alert" className="error">{error} <button onClick={() => setError(undefined)}>Dismiss</button></div>}
      {details.error && <div role="alert" className="error">Cannot inspect the networks: {details.error}</div>}
      {(!loaded || (networks.length > 0 && !details.data && !details.error)) && <p className="muted" role="status">Loading networks…</p>}
      {loaded && networks.length === 0 && <p className="empty">No networks. The engine has not made its default ones.</p>}
      {rows.length > 0 && (
        <table aria-label="Networks">
          <thead>
            <tr><th scope="col">Name</th><th scope="col">ID</th><th scope="col">Driver</th><th scope="col">Scope</th><th scope="col">Subnet</th><th scope="col">Gateway</th><th scope="col">Internal</th><th scope="col" className="num">Containers</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
          </thead>
          <tbody>
            {rows.map((n) => (
              <tr key={n.Id} data-name={n.Name}>
                <td><a href={`#/network/${n.Id}`}>{n.Name}</a></td>
                <td><code>{shortId(n.Id)}</code></td>
                <td>{n.Driver}</td>
                <td>{n.Scope}</td>
                <td>{subnets(n) || <span className="muted">—</span>}</td>
                <td>{gateways(n) || <span className="muted">—</span>}</td>
                <td>{n.Internal ? 'Yes' : 'No'}</td>
                <td className="num">{Object.keys(n.Containers ?? {}).length}</td>
                <td className="actions">{!PREDEFINED.has(n.Name) && <button onClick={() => void removeNetwork(n).then((r) => setError(r.error))} aria-label={`Remove network ${n.Name}`}>Remove</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
