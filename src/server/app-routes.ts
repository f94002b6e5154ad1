// The app's files (built into dist/app by scripts/build-app.ts): the page at `/`, its script and
// stylesheet, and the service worker. Served with their content types and an ETag; browsers revalidate
// every time (`no-cache`: a 304 when unchanged), and offline the service worker answers from its cache.

import { readFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Hono } from 'hono'

/** dist/app of this checkout, from src/server (tsx) and dist/server (built) alike. */
export const DEFAULT_APP_DIR = fileURLToPath(new URL('../../dist/app/', import.meta.url))

const FILES: Readonly<Record<string, { file: string, type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
  '/sw.js': { file: 'sw.js', type: 'text/javascript; charset=utf-8' }
}

/**
 * What the app's page may load and run: its own files only (the server serves everything the app needs),
 * pictures from the device (blob: object URLs, data:), connections to this server (its websockets too).
 * Content a user wrote is never script here, even should a view slip.
 */
export const APP_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self' blob:; worker-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>fieldsync</title>
<p>The app is not built: run <code>npx tsx scripts/build-app.ts</code> (<code>npm start</code> does it). Server information: <a href="/about">/about</a>.</p>`

export const appRoutes = (dir: string = DEFAULT_APP_DIR): Hono => {
  const app = new Hono()
  for (const [path, { file, type }] of Object.entries(FILES)) {
    app.get(path, async c => {
      let body: Buffer
      try {
        body = await readFile(join(dir, file))
      } catch {
        return path === '/' ? c.html(NOT_BUILT, 503) : c.text('the app is not built', 404)
      }
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`
      const headers: Record<string, string> = { 'content-type': type, 'cache-control': 'no-cache', etag, 'x-content-type-options': 'nosniff' }
      if (path === '/') { headers['content-security-policy'] = APP_CSP; headers['referrer-policy'] = 'no-referrer' }
      if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers)
      return c.body(new Uint8Array(body), 200, headers)
    })
  }
  return app
}
