// The shared LocalStore suite against the browser stores, in real headless Chromium with real IndexedDB
// on disk (a profile in a temporary folder): the one-database IndexedDB store (the app's default) and the
// y-indexeddb store.

import { afterAll, beforeAll } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import { bundleSdk, launchPersistentChromium, servePage } from '../helpers/browser.ts'
import { openRemoteStore } from '../helpers/remote-store.ts'
import { describeLocalStore } from '../client/local-store-suite.ts'

const profile = mkdtempSync(join(tmpdir(), 'fieldsync-profile-'))
let browser: BrowserContext
let site: { url: string, close: () => Promise<void> }
let page: Page

beforeAll(async () => {
  browser = await launchPersistentChromium(profile)
  site = await servePage(await bundleSdk())
  page = await browser.newPage()
  await page.goto(site.url)
}, 60_000)
afterAll(async () => {
  await browser?.close()
  await site?.close()
  rmSync(profile, { recursive: true, force: true })
})

describeLocalStore('IndexedDB (one database)', () => ({ keepsUpdates: true, many: 2_000, open: name => openRemoteStore(page, 'IndexedDbLocalStore', name) }))
describeLocalStore('y-indexeddb (a database per record)', () => ({ keepsUpdates: false, many: 1_000, open: name => openRemoteStore(page, 'YIndexedDbLocalStore', name) }))
