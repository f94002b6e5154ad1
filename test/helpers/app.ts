// The app in headless Chromium: the build (scripts/build-app.ts, into dist/app, which the test servers
// serve), screenshots saved as test artifacts (test-artifacts/app/, not committed), a gate that takes one
// browser offline while the server stays up, and the steps every app test takes (sign in, wait for sync).

import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { createServer, connect, type Socket, type Server } from 'node:net'
import type { AddressInfo } from 'node:net'
import type { Page } from 'playwright-core'
import { buildApp, type BuiltApp } from '../../scripts/build-app.ts'

let built: Promise<BuiltApp> | null = null
/** Builds the app once per test process. */
export const appBuilt = (): Promise<BuiltApp> => { built ??= buildApp(); return built }

export const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'app')

export const screenshot = async (page: Page, test: string, name: string): Promise<void> => {
  const dir = join(ARTIFACTS, test)
  mkdirSync(dir, { recursive: true })
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true })
}

/** A TCP gate in front of the server on a port of its own: `down()` cuts every connection and refuses new
 * ones (the browser behind it is offline), `up()` lets them through again; the port stays the same, so the
 * page's origin (and its IndexedDB) stays the same. */
export interface Gate { readonly port: number, readonly url: string, down (): void, up (): void, close (): Promise<void> }

export const startGate = async (targetPort: number): Promise<Gate> => {
  let open = true
  const sockets = new Set<Socket>()
  const server: Server = createServer(client => {
    if (!open) { client.destroy(); return }
    const upstream = connect(targetPort, '127.0.0.1')
    for (const s of [client, upstream]) { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => {}) }
    client.pipe(upstream).pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    port, url: `http://127.0.0.1:${port}`,
    down: () => { open = false; for (const s of sockets) s.destroy() },
    up: () => { open = true },
    close: () => new Promise(resolve => { for (const s of sockets) s.destroy(); server.close(() => resolve()) })
  }
}

/** Records every text the first-sync figures showed (installed before the app loads). */
export const watchFirstSync = async (page: Page): Promise<void> => { await page.addInitScript(() => {
  const seen: string[] = []
  ;(globalThis as unknown as { firstSyncSeen: string[] }).firstSyncSeen = seen
  new MutationObserver(() => {
    const t = document.querySelector('.first-sync .figures')?.textContent
    if (t != null && seen.at(-1) !== t) seen.push(t)
  }).observe(document, { subtree: true, childList: true, characterData: true })
}) }

export const firstSyncSeen = (page: Page): Promise<string[]> =>
  page.evaluate(() => (globalThis as unknown as { firstSyncSeen?: string[] }).firstSyncSeen ?? [])

/** The header's sync status text and state. */
export const syncStatus = async (page: Page): Promise<{ state: string, text: string }> => {
  const el = page.locator('#sync-status')
  return { state: await el.getAttribute('data-state') ?? '', text: (await el.textContent()) ?? '' }
}

/** Signs in through the demo user picker and waits for the home screen after the first sync. */
export const signInAsDemoUser = async (page: Page, url: string, name: RegExp): Promise<void> => {
  await page.goto(`${url}/`)
  await page.getByRole('button', { name }).click()
  await page.locator('ul.entities').waitFor({ timeout: 60_000 })
}

/** Waits until the service worker controls the page (a reload offline then opens the app). */
export const serviceWorkerReady = async (page: Page): Promise<void> => {
  try {
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: 20_000 })
  } catch (e) {
    const states = await page.evaluate(async () => (await navigator.serviceWorker.getRegistrations()).map(r => ({ installing: r.installing?.state, waiting: r.waiting?.state, active: r.active?.state })))
    throw new Error(`the service worker does not control the page: ${JSON.stringify(states)} (${(e as Error).message})`)
  }
}
