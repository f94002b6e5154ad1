// Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) and a page that loads the
// device SDK bundle (esbuild) from a local HTTP server.

import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { chromium, type Browser, type BrowserContext } from 'playwright-core'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic']

export const launchChromium = (): Promise<Browser> => chromium.launch({ executablePath: CHROMIUM, args: FLAGS })

/** Chromium with a profile in `dir`: IndexedDB on disk, as on a device (a context of launchChromium's
 * browser keeps it in memory). */
export const launchPersistentChromium = (dir: string): Promise<BrowserContext> => chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, args: FLAGS })

/** Builds src/client/index.ts into one script exposing `window.fieldsync`. */
export const bundleSdk = async (): Promise<string> => {
  const out = await build({
    entryPoints: [fileURLToPath(new URL('../../src/client/index.ts', import.meta.url))],
    bundle: true, format: 'iife', globalName: 'fieldsync', platform: 'browser', target: 'es2022', write: false, logLevel: 'silent'
  })
  return out.outputFiles[0].text
}

/** Serves an empty page at / that loads the bundle; resolves with its URL and a closer. */
export const servePage = async (bundle: string): Promise<{ url: string, close: () => Promise<void> }> => {
  const server: Server = createServer((req, res) => {
    if (req.url === '/fieldsync.js') { res.writeHead(200, { 'content-type': 'text/javascript' }); res.end(bundle); return }
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end('<!doctype html><meta charset="utf-8"><title>fieldsync device</title><script src="/fieldsync.js"></script>')
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise(resolve => server.close(() => resolve())) }
}
