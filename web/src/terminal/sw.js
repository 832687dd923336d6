// The terminal's service worker (scope /terminal): it keeps the app shell
// so that the terminal opens, and verifies, with the network cut. The page
// is fetched network-first; bundles are content-hashed, so a cached copy is
// always right. The API is never touched: the bundle and the scan log live
// in IndexedDB.
const CACHE = 'tempid-terminal-v1';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));

self.addEventListener('message', (e) => {
  const urls = e.data && Array.isArray(e.data.shell) ? e.data.shell : null;
  if (!urls) return;
  e.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await Promise.all(urls.map((u) => cache.match(u).then((hit) => hit || cache.add(u).catch(() => {}))));
  })());
});

self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== self.location.origin) return;
  const page = url.pathname === '/terminal' || url.pathname === '/terminal/';
  const asset = url.pathname.startsWith('/assets/') || url.pathname === '/favicon.svg' || url.pathname === '/terminal.webmanifest';
  if (!page && !asset) return;
  const key = page ? '/terminal' : e.request;
  e.respondWith((async () => {
    const cache = await caches.open(CACHE);
    if (asset) {
      const hit = await cache.match(key);
      if (hit) return hit;
    }
    try {
      const res = await fetch(e.request);
      if (res.ok) cache.put(key, res.clone()).catch(() => {});
      return res;
    } catch (err) {
      const hit = await cache.match(key);
      if (hit) return hit;
      throw err;
    }
  })());
});
