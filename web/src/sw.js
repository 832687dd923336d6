// The passenger app's service worker: it keeps the app shell (the page and
// its hashed bundles) so that the certificate screen opens with the network
// cut, as the stored pass and device key are all it needs to draw codes.
// The page is fetched network-first (online, nothing changes); bundles are
// content-hashed, so a cached copy is always right. The API is never touched.
const CACHE = 'tempid-shell-v1';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));

// The page sends the same-origin URLs it loaded; they replace the cache.
self.addEventListener('message', (e) => {
  const urls = e.data && Array.isArray(e.data.shell) ? e.data.shell : null;
  if (!urls) return;
  e.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    const keep = new Set(urls.map((u) => new URL(u, self.location.origin).href));
    await Promise.all(urls.map((u) => cache.match(u).then((hit) => hit || cache.add(u).catch(() => {}))));
    for (const req of await cache.keys()) if (!keep.has(req.url)) await cache.delete(req);
  })());
});

self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== self.location.origin) return;
  const page = url.pathname === '/' || url.pathname === '/index.html';
  const asset = url.pathname.startsWith('/assets/') || url.pathname === '/favicon.svg';
  if (!page && !asset) return;
  const key = page ? '/' : e.request;
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
