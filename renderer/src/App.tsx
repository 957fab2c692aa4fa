// The dashboard's frame: navigation, the current page (from the URL's hash), and the engine's
// error when there is one. Pages with xterm load lazily: it is most of the bundle's weight.
import { Suspense, lazy, useEffect, useState } from 'react';

import { ContainerDetail } from './pages/ContainerDetail';
import { Containers } from './pages/Containers';
import { Home } from './pages/Home';
import { Images } from './pages/Images';
import { ImageDetail } from './pages/images/ImageDetail';
import { Networks } from './pages/Networks';
import { NetworkDetail } from './pages/networks/NetworkDetail';
import { Settings } from './pages/Settings';
import { Troubleshoot } from './pages/Troubleshoot';
import { Volumes } from './pages/Volumes';
import { VolumeDetail } from './pages/volumes/VolumeDetail';
import { useStore } from './store';

const HostTerminal = lazy(() => import('./pages/HostTerminal').then((m) => ({ default: m.HostTerminal })));

const SECTIONS = [
  ['dashboard', 'Dashboard'],
  ['containers', 'Containers'],
  ['images', 'Images'],
  ['volumes', 'Volumes'],
  ['networks', 'Networks'],
  ['terminal', 'Terminal'],
  ['settings', 'Settings'],
  ['troubleshoot', 'Troubleshoot'],
] as const;
type Section = (typeof SECTIONS)[number][0];

export type Route = { page: Section } | { page: 'container' | 'image' | 'volume' | 'network'; id: string };

/** Detail pages belong to their list's section in the navigation. */
const SECTION_OF: Record<string, Section> = { container: 'containers', image: 'images', volume: 'volumes', network: 'networks' };

function parseRoute(hash: string): Route {
  const [page = '', id] = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  if ((page === 'container' || page === 'image' || page === 'volume' || page === 'network') && id) return { page, id };
  const section = SECTIONS.find(([name]) => name === page);
  return { page: section ? section[0] : 'dashboard' };
}

export function App() {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  const watch = useStore((s) => s.watch);
  const error = useStore((s) => s.error);
  const setError = useStore((s) => s.setError);
  useEffect(() => {
    const onHash = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => watch(), [watch]);
  const section = SECTION_OF[route.page] ?? route.page;
  // Host shells keep running while other pages are shown, once the Terminal page was opened.
  const [terminalOpened, setTerminalOpened] = useState(false);
  useEffect(() => {
    if (route.page === 'terminal') setTerminalOpened(true);
  }, [route.page]);
  return (
    <div className="app">
      <nav aria-label="Sections">
        <div className="brand">Berth</div>
        {SECTIONS.map(([page, label]) => (
          <a key={page} href={`#/${page}`} aria-current={section === page ? 'page' : undefined}>
            {label}
          </a>
        ))}
      </nav>
      <main>
        {error && (
          <div role="alert" className="error">
            {error} <button onClick={() => setError(undefined)}>Dismiss</button>
          </div>
        )}
        {route.page !== 'terminal' && <Page route={route} />}
        {terminalOpened && (
          <div hidden={route.page !== 'terminal'}>
            <Suspense fallback={<p className="muted">Loading the terminal…</p>}>
              <HostTerminal />
            </Suspense>
          </div>
        )}
      </main>
    </div>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'dashboard':
      return <Home />;
    case 'containers':
      return <Containers />;
    case 'container':
      return <ContainerDetail id={route.id} />;
    case 'images':
      return <Images />;
    case 'image':
      return <ImageDetail id={route.id} />;
    case 'volume':
      return <VolumeDetail name={route.id} />;
    case 'network':
      return <NetworkDetail id={route.id} />;
    case 'volumes':
      return <Volumes />;
    case 'networks':
      return <Networks />;
    case 'terminal':
      return null; // kept mounted by App
    case 'settings':
      return <Settings />;
    case 'troubleshoot':
      return <Troubleshoot />;
  }
}
