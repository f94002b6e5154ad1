// The app in headless Chromium: an attachment's type is whatever the note's author said it was (the
// device SDK and the server keep the note's `mimetype` as written), so it must not decide how the app's
// own origin renders the content. Before, the app made its object URL with the note's type: a note with
// an HTML "file" (or an SVG "picture") opened by another user who can read the record gave a blob: URL
// of the app's origin that, opened in a tab of its own (middle click, "open image in new tab"), ran the
// author's script there, with the reader's sign-in (refresh token) in localStorage.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { launchChromium } from '../helpers/browser.ts'
import { startTestServer } from '../helpers/server.ts'
import { appBuilt, signInAsDemoUser, syncStatus } from '../helpers/app.ts'

const ALL = { all: true, businessUnits: new Set<string>(), owners: new Set<string>(), records: new Set<string>() }
const SCRIPT = '<script>document.title = localStorage.getItem("fieldsync.sign-in") === null ? "no sign-in" : "sign-in stolen"</script>'
const HTML = Buffer.from(`<!doctype html><title>inert</title>${SCRIPT}`)
const SVG = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><script>document.title = localStorage.getItem("fieldsync.sign-in") === null ? "no sign-in" : "sign-in stolen"</script></svg>`)

let browser: Browser
beforeAll(async () => { await appBuilt(); browser = await launchChromium() })
afterAll(async () => { await browser?.close() })

describe('attachments the app opens', () => {
  it('never render as HTML or SVG in the app\'s origin, whatever type their note claims', async () => {
    const s = await startTestServer()
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } })
    try {
      const page = await context.newPage()
      const account = s.projection.rows('account', ALL, 10_000, 0).find(r => r.ownerid === 'systemuser/u-alice' && r.statecode === 0)!
      await signInAsDemoUser(page, s.url, /Alice Adams/)
      await expect.poll(() => syncStatus(page), { timeout: 20_000 }).toMatchObject({ state: 'synced' })
      await page.goto(`${s.url}/#/r/account/${String(account.id)}`)
      const attach = async (title: string, file: { name: string, mimeType: string, buffer: Buffer }): Promise<string> => {
        await page.getByLabel('Note title').fill(title)
        await page.getByLabel('Picture or file').setInputFiles(file)
        await page.getByRole('button', { name: 'Add note' }).click()
        const note = page.locator('li.tl-note', { hasText: title })
        await note.waitFor()
        await note.getByRole('button', { name: new RegExp(`Open ${file.name.replace('.', '\\.')}`) }).click()
        const opened = note.locator('a[href^="blob:"], img[src^="blob:"]')
        await opened.waitFor()
        return (await opened.getAttribute('href')) ?? (await opened.getAttribute('src'))!
      }
      const urls = [await attach('Price list', { name: 'prices.html', mimeType: 'text/html', buffer: HTML }), await attach('Logo', { name: 'logo.svg', mimeType: 'image/svg+xml', buffer: SVG })]
      for (const url of urls) {
        // what the object URL is served as, and what opening it in a tab of its own does
        const type = await page.evaluate(async u => (await fetch(u)).headers.get('content-type'), url)
        expect(type, url).not.toMatch(/html|svg|xml/)
        const tab = await context.newPage()
        const download = tab.waitForEvent('download', { timeout: 5_000 }).then(() => 'downloaded', () => 'no download')
        await tab.goto(url).catch(() => {})
        const title = await tab.title().catch(() => '')
        expect(title, url).not.toBe('sign-in stolen')
        await download
        await tab.close()
      }
    } finally {
      await context.close()
      await s.stop()
    }
  }, 120_000)
})
