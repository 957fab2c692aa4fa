// The dashboard's frame: navigation, the current page, and the engine's error when there is one.
import { useEffect, useState } from 'react';

import { ContainerDetail } from './pages/ContainerDetail';
import { Containers } from './pages/Containers';
import { Images } from './pages/Images';
import { Networks } from './pages/Networks';
import { Volumes } from './pages/Volumes';
import { useStore } from './store';

export type Route = { page: 'containers' } | { page: 'container'; id: string } | { page: 'images' } | { page: 'volumes' } | { page: 'networks' };

function parseRoute(hash: string): Route {
  const [page, id] = hash.replace(/^#\/?/, '').split('/');
  if (page === 'container' && id) return { page: 'container', id };
  if (page === 'images' || page === 'volumes' || page === 'networks') return { page };
  return { page: 'containers' };
}

export function navigate(route: string): void {
  location.hash = `#/${route}`;
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
  const tabs: [Route['page'], string][] = [['containers', 'Containers'], ['images', 'Images'], ['volumes', 'Volumes'], ['networks', 'Networks']];
  return (
    <div className="app">
      <nav aria-label="Sections">
        <div className="brand">Berth</div>
        {tabs.map(([page, label]) => (
          <a key={page} href={`#/${page}`} aria-current={route.page === page || (page === 'containers' && route.page === 'container') ? 'page' : undefined}>
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
        {route.page === 'containers' && <Containers />}
        {route.page === 'container' && <ContainerDetail id={route.id} />}
        {route.page === 'images' && <Images />}
        {route.page === 'volumes' && <Volumes />}
        {route.page === 'networks' && <Networks />}
      </main>
    </div>
  );
}
