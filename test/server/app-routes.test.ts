// The app's files as the server serves them (in process): content types, no-cache with an ETag answered
// 304, the page at / only (no directory listing or other names), and a clear page when the app is not built.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { appRoutes } from '../../src/server/app-routes.ts'
import { assembleTestServer } from '../helpers/server.ts'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fieldsync-app-'))
  for (const [f, text] of Object.entries({ 'index.html': '<!doctype html><title>app</title>', 'app.js': 'console.log(1)', 'app.css': 'body{}', 'sw.js': 'self.x=1', 'secret.txt': 'no' })) writeFileSync(join(dir, f), text)
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('the app routes', () => {
  it('serve the shell with its content types, revalidated every time (ETag, 304)', async () => {
    const app = appRoutes(dir)
    for (const [path, type, body] of [['/', 'text/html', '<!doctype html><title>app</title>'], ['/app.js', 'text/javascript', 'console.log(1)'], ['/app.css', 'text/css', 'body{}'], ['/sw.js', 'text/javascript', 'self.x=1']]) {
      const r = await app.request(path)
      expect(r.status, path).toBe(200)
      expect(r.headers.get('content-type')).toMatch(new RegExp(`^${type}`))
      expect(r.headers.get('cache-control')).toBe('no-cache')
      expect(await r.text()).toBe(body)
      const again = await app.request(path, { headers: { 'if-none-match': r.headers.get('etag')! } })
      expect(again.status).toBe(304)
      expect(await again.text()).toBe('')
    }
    expect((await app.request('/secret.txt')).status).toBe(404)
    expect((await app.request('/index.html')).status).toBe(404)
  })

  it('serve the page with a content security policy: the app\'s own files only, no inline script, no framing', async () => {
    const csp = (await appRoutes(dir).request('/')).headers.get('content-security-policy') ?? ''
    const directive = (name: string): string[] => csp.split(';').map(d => d.trim().split(/\s+/)).find(d => d[0] === name)?.slice(1) ?? []
    expect(directive('default-src')).toEqual(["'self'"])
    expect(directive('script-src')).toEqual(["'self'"])
    expect(directive('object-src')).toEqual(["'none'"])
    expect(directive('frame-ancestors')).toEqual(["'none'"])
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/)
  })

  it('answer 503 with what to run when the app is not built', async () => {
    const r = await appRoutes(join(dir, 'missing')).request('/')
    expect(r.status).toBe(503)
    expect(await r.text()).toContain('scripts/build-app.ts')
  })

  it('are mounted at / by the server, beside /about and the API', async () => {
    const s = await assembleTestServer({}, undefined)
    try {
      // The default folder is this checkout's dist/app: built or not, / is HTML and /about the information page.
      const page = await s.server.app.request('/')
      expect(page.headers.get('content-type')).toMatch(/^text\/html/)
      expect(await (await s.server.app.request('/about')).text()).toContain('<h1>fieldsync</h1>')
      expect((await s.server.app.request('/healthz')).status).toBe(200)
    } finally {
      await s.dispose()
    }
  })
})
