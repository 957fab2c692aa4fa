// One network: its settings, its address management (IPAM), its driver options, and the
// containers on it with their addresses and DNS aliases; the raw inspect on demand.
import { useState } from 'react';

import type { ContainerSummary, NetworkInspect } from '../../../../electron/src/common/engine-types';
import * as engine from '../../engine-client';
import { useStore } from '../../store';
import { formatAge, formatDate } from '../../format';
import { useLoad } from '../../useLoad';
import { containerName } from '../../user-containers';
import { removeNetwork } from '../Networks';
import { PREDEFINED } from './network-facts';
import '../resources.css';

function KeyValues({ label, values }: { label: string; values: Record<string, string> | null | undefined }) {
  const entries = Object.entries(values ?? {});
  if (!entries.length) return <p className="empty">No {label.toLowerCase()}.</p>;
  return (
    <table aria-label={label} className="keyvalue">
      <tbody>{entries.map(([k, v]) => <tr key={k}><th scope="row"><code>{k}</code></th><td><code>{v}</code></td></tr>)}</tbody>
    </table>
  );
}

function Ipam({ network }: { network: NetworkInspect }) {
  const configs = network.IPAM.Config ?? [];
  return (
    <>
      <p className="muted">IPAM driver: {network.IPAM.Driver || 'default'}</p>
      {configs.length === 0 ? (
        <p className="empty">No address pools: containers on this network get no IP address from it.</p>
      ) : (
        <table aria-label="IPAM configuration">
          <thead><tr><th scope="col">Subnet</th><th scope="col">Gateway</th><th scope="col">IP range</th><th scope="col">Auxiliary addresses</th></tr></thead>
          <tbody>
            {configs.map((c, i) => (
              <tr key={`${i}-${c.Subnet}`}>
                <td><code>{c.Subnet ?? '—'}</code></td>
                <td><code>{c.Gateway ?? '—'}</code></td>
                <td>{c.IPRange ? <code>{c.IPRange}</code> : <span className="muted">whole subnet</span>}</td>
                <td>{Object.entries(c.AuxiliaryAddresses ?? {}).map(([k, v]) => `${k}=${v}`).join(', ') || <span className="muted">—</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {Object.keys(network.IPAM.Options ?? {}).length > 0 && <KeyValues label="IPAM options" values={network.IPAM.Options} />}
    </>
  );
}

function Connected({ network, containers }: { network: NetworkInspect; containers: ContainerSummary[] }) {
  const endpoints = Object.entries(network.Containers ?? {});
  if (!endpoints.length) return <p className="empty">No container is connected to this network.</p>;
  // Aliases are a container's view of the network, so they come from the container list.
  const aliases = (id: string) => {
    const c = containers.find((x) => x.Id === id);
    const settings = Object.values(c?.NetworkSettings?.Networks ?? {}).find((s) => s.NetworkID === network.Id);
    return (settings?.Aliases ?? []).filter((a) => !(a.length === 12 && id.startsWith(a)));
  };
  return (
    <table aria-label="Connected containers">
      <thead><tr><th scope="col">Container</th><th scope="col">IPv4 address</th><th scope="col">IPv6 address</th><th scope="col">MAC address</th><th scope="col">Aliases</th></tr></thead>
      <tbody>
        {endpoints.map(([id, e]) => {
          const c = containers.find((x) => x.Id === id);
          return (
            <tr key={id} data-name={e.Name}>
              <td><a href={`#/container/${id}`}>{c ? containerName(c) : e.Name}</a></td>
              <td><code>{e.IPv4Address || '—'}</code></td>
              <td>{e.IPv6Address ? <code>{e.IPv6Address}</code> : <span className="muted">—</span>}</td>
              <td><code>{e.MacAddress || '—'}</code></td>
              <td>{aliases(id).join(', ') || <span className="muted">—</span>}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export function NetworkDetail({ id }: { id: string }) {
  const networks = useStore((s) => s.networks);
  const containers = useStore((s) => s.containers);
  const loaded = useLoad(() => engine.inspectNetwork(id), [id, networks, containers]);
  const [error, setError] = useState<string>();
  const network = loaded.data;
  const title = network?.Name ?? id.slice(0, 12);

  return (
    <section className="resources">
      <nav aria-label="Breadcrumb" className="crumbs"><a href="#/networks">Networks</a> <span aria-hidden="true">›</span> <span>{title}</span></nav>
      <header>
        <h1>{title}</h1>
        {network && !PREDEFINED.has(network.Name) && (
          <div className="toolbar">
            <button onClick={() => void removeNetwork(network).then((r) => { setError(r.error); if (r.removed) location.hash = '#/networks'; })}>Remove</button>
          </div>
        )}
      </header>
      {error && <div role="alert" className="error">{error} <button onClick={() => setError(undefined)}>Dismiss</button></div>}
      {loaded.loading && !network && <p className="muted" role="status">Loading the network…</p>}
      {loaded.error && <div role="alert" className="error">Cannot load the network: {loaded.error}</div>}
      {network && (
        <>
          <dl className="facts">
            <div><dt>ID</dt><dd><code>{network.Id}</code></dd></div>
            <div><dt>Driver</dt><dd>{network.Driver}</dd></div>
            <div><dt>Scope</dt><dd>{network.Scope}</dd></div>
            <div><dt>Created</dt><dd title={formatDate(network.Created)}>{formatAge(network.Created)}</dd></div>
            <div><dt>Internal</dt><dd>{network.Internal ? 'Yes: no route outside' : 'No'}</dd></div>
            <div><dt>Attachable</dt><dd>{network.Attachable ? 'Yes' : 'No'}</dd></div>
            <div><dt>IPv6</dt><dd>{network.EnableIPv6 ? 'Enabled' : 'Disabled'}</dd></div>
          </dl>
          <h2>Connected containers <span className="muted count">{Object.keys(network.Containers ?? {}).length}</span></h2>
          <Connected network={network} containers={containers} />
          <h2>Addressing (IPAM)</h2>
          <Ipam network={network} />
          <h2>Options</h2>
          <KeyValues label="Options" values={network.Options} />
          {Object.keys(network.Labels ?? {}).length > 0 && (
            <>
              <h2>Labels</h2>
              <KeyValues label="Labels" values={network.Labels} />
            </>
          )}
          <details className="inspect-json">
            <summary>Inspect (JSON)</summary>
            <pre className="inspect" aria-label="Network inspect">{JSON.stringify(network, null, 2)}</pre>
          </details>
        </>
      )}
    </section>
  );
}
