// Every control of the app's key screens has a name a screen reader says (a label, aria-label or
// aria-labelledby for inputs; text or aria-label for buttons and links), on a phone-sized page.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from '../helpers/browser.ts'
import { startTestServer } from '../helpers/server.ts'
import { appBuilt, signInAsDemoUser, syncStatus } from '../helpers/app.ts'

let browser: Browser
beforeAll(async () => { await appBuilt(); browser = await launchChromium() })
afterAll(async () => { await browser?.close() })

/** The visible controls of the page that have no accessible name, described. */
const unnamed = (page: Page): Promise<string[]> => page.evaluate(() => {
  const named = (el: Element): boolean => {
    const aria = el.getAttribute('aria-label')
    if (aria !== null && aria.trim() !== '') return true
    const by = el.getAttribute('aria-labelledby')
    if (by !== null && by.split(/\s+/).some(id => (document.getElementById(id)?.textContent ?? '').trim() !== '')) return true
    if (el instanceof HTMLInputElement || el instanceof HTMLSelectElement || el instanceof HTMLTextAreaElement) {
      if (el instanceof HTMLInputElement && (el.type === 'hidden')) return true
      return Array.from(el.labels ?? []).some(l => (l.textContent ?? '').trim() !== '') || (el.title ?? '').trim() !== ''
    }
    return (el.textContent ?? '').trim() !== '' || (el.getAttribute('title') ?? '').trim() !== ''
  }
  const visible = (el: Element): boolean => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0 }
  return Array.from(document.querySelectorAll("input, select, textarea, button, a[href]"))
    .filter(el => visible(el) && !named(el))
    .map(el => `${el.tagName.toLowerCase()}${el.id === '' ? '' : '#' + el.id} ${el.outerHTML.slice(0, 120)}`)
})

describe('the app\'s controls', () => {
  it('are all named on the sign-in, home, list, record, inbox and device status screens', async () => {
    const s = await startTestServer()
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } })
    try {
      const page = await context.newPage()
      await page.goto(`${s.url}/`)
      await page.getByRole('button').first().waitFor()
      expect(await unnamed(page), 'sign-in').toEqual([])
      await signInAsDemoUser(page, s.url, /Alice Adams/)
      await expect.poll(() => syncStatus(page), { timeout: 20_000 }).toMatchObject({ state: 'synced' })
      expect(await unnamed(page), 'home').toEqual([])
      for (const [hash, ready] of [['#/e/account', 'Account records'], ['#/e/lead', 'Lead records']] as const) {
        await page.goto(`${s.url}/${hash}`)
        await page.getByRole('list', { name: ready }).waitFor()
        expect(await unnamed(page), hash).toEqual([])
      }
      // the first lead's form (fields, flow bar, commands, timeline)
      await page.getByRole('list', { name: 'Lead records' }).getByRole('link').first().click()
      await page.getByRole('button', { name: 'Delete' }).waitFor()
      expect(await unnamed(page), 'lead form').toEqual([])
      for (const hash of ['#/inbox', '#/status']) {
        await page.goto(`${s.url}/${hash}`)
        await page.getByRole('heading').first().waitFor()
        expect(await unnamed(page), hash).toEqual([])
      }
      // (the check finds a control without a name)
      await page.evaluate(() => { document.body.append(document.createElement('input')) })
      expect(await unnamed(page)).toHaveLength(1)
    } finally {
      await context.close()
      await s.dispose()
    }
  })
})
