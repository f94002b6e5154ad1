// The service worker: keeps the app shell (page, script, stylesheet) so a reload with no network opens the
// app. Network first (a running server always gives the newest shell), the cache when the network fails.
// The build names the cache by the shell's content; older caches are deleted when a new one is active.

const VERSION = '__SHELL_VERSION__'
const CACHE = `fieldsync-shell-${VERSION}`
const SHELL = ['/', '/app.js', '/app.css']

// The worker's globals, typed here (the DOM library in tsconfig does not describe a service worker).
interface ExtendableEvent extends Event { waitUntil (p: Promise<unknown>): void }
interface FetchEvent extends ExtendableEvent { readonly request: Request, respondWith (r: Promise<Response> | Response): void }
interface WorkerScope {
  addEventListener (type: 'install' | 'activate', f: (e: ExtendableEvent) => void): void
  addEventListener (type: 'fetch', f: (e: FetchEvent) => void): void
  addEventListener (type: 'message', f: (e: MessageEvent) => void): void
  skipWaiting (): Promise<void>
  readonly clients: { claim (): Promise<void> }
  readonly location: Location
}
const scope = self as unknown as WorkerScope

scope.addEventListener('install', e => {
  e.waitUntil(caches.open(CACHE).then(c => c.addAll(SHELL)).then(() => scope.skipWaiting()))
})

scope.addEventListener('activate', e => {
  e.waitUntil(caches.keys()
    .then(keys => Promise.all(keys.filter(k => k.startsWith('fieldsync-shell-') && k !== CACHE).map(k => caches.delete(k))))
    .then(() => scope.clients.claim()))
})

// A page that loaded while this worker was activating is not controlled yet (claim() ran before it was a
// client); it asks, so that its next reload offline is answered from the cache.
scope.addEventListener('message', e => { if (e.data === 'claim') void scope.clients.claim() })

scope.addEventListener('fetch', e => {
  const url = new URL(e.request.url)
  if (e.request.method !== 'GET' || url.origin !== scope.location.origin) return
  // The page at / (whatever its fragment or query) and the shell's files; nothing else (the API, sockets).
  const path = e.request.mode === 'navigate' && url.pathname === '/' ? '/' : url.pathname
  if (!SHELL.includes(path)) return
  e.respondWith((async () => {
    const cache = await caches.open(CACHE)
    try {
      const res = await fetch(e.request)
      if (res.ok) await cache.put(path, res.clone())
      return res
    } catch {
      const hit = await cache.match(path)
      if (hit !== undefined) return hit
      return new Response('fieldsync is offline and this browser has no copy of the app yet', { status: 503, headers: { 'content-type': 'text/plain' } })
    }
  })())
})
