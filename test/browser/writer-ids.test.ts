// Kept Yjs client ids in real headless Chromium (src/client/writer-id.ts): two tabs of one origin on the same
// IndexedDB store write under different ids (Web Locks), and a reload keeps a tab's id.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import type * as Sdk from '../../src/client/index.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { bundleSdk, launchChromium, servePage } from '../helpers/browser.ts'

type Win = typeof globalThis & { fieldsync: typeof Sdk, dev: Sdk.FieldsyncDevice }

let browser: Browser
let site: { url: string, close: () => Promise<void> }
let s: TestServer

beforeAll(async () => {
  browser = await launchChromium()
  site = await servePage(await bundleSdk())
  s = await startTestServer()
}, 60_000)
afterAll(async () => {
  await browser?.close()
  await site?.close()
  await s?.dispose()
})

/** Opens the device over the IndexedDB store `db` in the tab (synced first when asked) and gives the client id `record`'s document writes under. */
const clientIdIn = (p: Page, args: { wsUrl: string, token: string, db: string, sync: boolean, record: string | null }): Promise<{ record: string, clientId: number }> => p.evaluate(async ({ wsUrl, token, db, sync, record }) => {
  const w = globalThis as unknown as Win
  w.dev = await w.fieldsync.FieldsyncDevice.open({ url: wsUrl, token, store: await w.fieldsync.IndexedDbLocalStore.open(db), WebSocket: WebSocket as never })
  if (sync) await w.dev.sync()
  const name = record ?? (await w.dev.list('account'))[0].record
  return { record: name, clientId: (await w.dev.open(name)).clientID }
}, args)

describe('kept client ids in Chromium', () => {
  it('two tabs on one store get different ids; a reload keeps each tab\'s id; an edit after the reload goes out under it', async () => {
    const context = await browser.newContext() // (one origin's storage and locks for both tabs)
    try {
      const [one, two] = [await context.newPage(), await context.newPage()]
      await one.goto(site.url)
      await two.goto(site.url)
      const base = { wsUrl: `ws://127.0.0.1:${s.port}`, token: await s.token('alice'), db: 'writer-ids' }
      const first = await clientIdIn(one, { ...base, sync: true, record: null })
      const second = await clientIdIn(two, { ...base, sync: false, record: first.record })
      expect(second.clientId).not.toBe(first.clientId)
      await one.reload()
      expect(await clientIdIn(one, { ...base, sync: false, record: first.record })).toEqual(first)
      await two.reload()
      expect(await clientIdIn(two, { ...base, sync: false, record: first.record })).toEqual(second)
      // The reloaded first tab's edit reaches the server under its kept id.
      await one.evaluate(async record => { const w = globalThis as unknown as Win; await w.dev.update(record, { telephone1: '+47 after the reload' }); await w.dev.sync() }, first.record)
      const row = s.projection.row('account', first.record.split('/')[1])
      expect(row?.telephone1).toBe('+47 after the reload')
      const clocks = await one.evaluate(async record => (await (globalThis as unknown as Win).dev.open(record)).getMap('clocks').get('telephone1'), first.record)
      expect(String(clocks)).toContain(`:${first.clientId}`)
    } finally {
      await context.close()
    }
  }, 120_000)
})
