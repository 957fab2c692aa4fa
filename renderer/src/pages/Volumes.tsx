// Volumes: the list and removal (the engine says when a volume is in use).
import { host } from '../host';
import { useStore } from '../store';

export function Volumes() {
  const volumes = useStore((s) => s.volumes);
  const containers = useStore((s) => s.containers);
  const setError = useStore((s) => s.setError);
  return (
    <section>
      <header><h1>Volumes</h1></header>
      {volumes.length === 0 && <p className="muted">No volumes.</p>}
      <table aria-label="Volumes">
        <thead><tr><th>Name</th><th>Driver</th><th>Mountpoint</th><th /></tr></thead>
        <tbody>
          {volumes.map((v) => (
            <tr key={v.Name} data-name={v.Name}>
              <td>{v.Name}</td>
              <td>{v.Driver}</td>
              <td><code>{v.Mountpoint}</code></td>
              <td><button onClick={() => window.confirm(`Remove volume ${v.Name}?`) && host.call('DELETE', `/volumes/${v.Name}`).catch((e: Error) => setError(e.message))}>Remove</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted">{containers.length} containers on this engine.</p>
    </section>
  );
}
