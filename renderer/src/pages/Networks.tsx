// Networks: name, driver, subnet.
import { useStore } from '../store';

export function Networks() {
  const networks = useStore((s) => s.networks);
  return (
    <section>
      <header><h1>Networks</h1></header>
      <table aria-label="Networks">
        <thead><tr><th>Name</th><th>Driver</th><th>Subnet</th></tr></thead>
        <tbody>
          {networks.map((n) => (
            <tr key={n.Id}><td>{n.Name}</td><td>{n.Driver}</td><td>{n.IPAM.Config.map((c) => c.Subnet).filter(Boolean).join(', ')}</td></tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
