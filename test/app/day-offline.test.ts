// The app in headless Chromium, a day offline: alice signs in (the first sync shows progress), the server
// stops, she edits a field, creates a contact, qualifies a lead and adds a note with a picture, reloads the
// page with the server still down (the service worker opens the app with her data and the right waiting
// count), and when the server is back the count goes to zero and the HTTP API shows every change.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { launchChromium } from '../helpers/browser.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { appBuilt, firstSyncSeen, screenshot, serviceWorkerReady, signInAsDemoUser, syncStatus, watchFirstSync } from '../helpers/app.ts'

const ALL = { all: true, businessUnits: new Set<string>(), owners: new Set<string>(), records: new Set<string>() }
// A tiny PNG (1x1, red), as a phone's camera would hand over a file.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==', 'base64')

let browser: Browser
beforeAll(async () => { await appBuilt(); browser = await launchChromium() })
afterAll(async () => { await browser?.close() })

const api = async (s: TestServer, path: string, token: string): Promise<Record<string, unknown>> => {
  const res = await fetch(`${s.url}${path}`, { headers: { authorization: `Bearer ${token}` } })
  expect(res.status, path).toBe(200)
  return await res.json() as Record<string, unknown>
}

describe('the app, a day offline', () => {
  it('keeps a day of offline work across a reload with the server down, and syncs it when the server is back', async () => {
    let s = await startTestServer()
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } })
    try {
      const page = await context.newPage()
      const shot = (name: string) => screenshot(page, 'day-offline', name)
      await watchFirstSync(page)
      const own = (entity: string) => s.projection.rows(entity, ALL, 10_000, 0).filter(r => r.ownerid === 'systemuser/u-alice' && r.statecode === 0)
      const account = own('account')[0]
      expect(account).toBeDefined()

      await page.goto(`${s.url}/`)
      await shot('01-sign-in')
      await signInAsDemoUser(page, s.url, /Alice Adams/)
      const seen = await firstSyncSeen(page)
      expect(seen.some(t => /^\d+ of \d+ records · /.test(t)), `first sync showed ${JSON.stringify(seen)}`).toBe(true)
      await expect.poll(() => syncStatus(page), { timeout: 20_000 }).toMatchObject({ state: 'synced', text: 'Synced' })
      await serviceWorkerReady(page)
      await shot('02-home')

      await s.stop() // the server is down for the rest of the day
      await expect.poll(async () => (await syncStatus(page)).state, { timeout: 20_000 }).toMatch(/offline|error/)

      // Edit a field.
      await page.goto(`${s.url}/#/e/account`)
      await page.getByRole('list', { name: 'Account records' }).waitFor()
      await page.goto(`${s.url}/#/r/account/${String(account.id)}`)
      // A business rule runs live while typing, and its refusal comes in words.
      await page.getByLabel('Website').fill('http://coho.example')
      await page.getByRole('alert').filter({ hasText: 'Use an https:// website address' }).waitFor()
      await page.getByRole('button', { name: 'Save' }).click()
      await page.getByRole('alert').filter({ hasText: /^A business rule does not allow it \(.*Use an https:\/\/ website address/ }).waitFor()
      await shot('03a-business-rule-refusal')
      await page.getByLabel('Website').fill('')
      await page.getByRole('button', { name: 'Undo changes' }).click()
      await page.getByLabel('Main Phone').fill('+47 22 00 11 22')
      await page.getByRole('button', { name: 'Save' }).click()
      await page.getByText('Saved on this device.').waitFor()
      // A note with a picture on the same record.
      await page.getByLabel('Note title').fill('Visited the site')
      await page.getByLabel('Note', { exact: true }).fill('Photo of the entrance')
      await page.getByLabel('Picture or file').setInputFiles({ name: 'entrance.png', mimeType: 'image/png', buffer: PNG })
      await page.getByRole('button', { name: 'Add note' }).click()
      await page.locator('li.tl-note', { hasText: 'Visited the site' }).waitFor()
      const noteId = await page.locator('li.tl-note', { hasText: 'Visited the site' }).getAttribute('data-note-id')
      await shot('03-account-edited-offline')

      // Create a contact.
      await page.goto(`${s.url}/#/new/contact`)
      await page.getByLabel('First Name').fill('Ola')
      await page.getByLabel('Last Name').fill('Nordmann-Offline')
      await page.getByRole('button', { name: 'Create' }).click()
      await page.waitForURL(/#\/r\/contact\//)
      const contact = page.url().split('#/r/contact/')[1]
      expect(contact).toBeTruthy()

      // A new lead, qualified (what it creates links to records of her own, which she may append to).
      await page.goto(`${s.url}/#/new/lead`)
      await page.getByLabel('Topic').fill('Cold storage for Coho Winery')
      await page.getByLabel('First name').fill('Eva')
      await page.getByLabel('Last name').fill('Meyer')
      await page.getByLabel('Company name').fill('Coho Winery')
      await page.getByRole('button', { name: 'Create' }).click()
      await page.waitForURL(/#\/r\/lead\//)
      const lead = page.url().split('#/r/lead/')[1]
      // The flow bar: forward needs the stage's required fields (refused in words), back is free.
      await page.getByRole('button', { name: 'Next stage' }).click()
      await page.getByRole('button', { name: 'Stage Develop (current)' }).waitFor()
      await page.getByRole('button', { name: 'Next stage' }).click()
      await page.getByRole('alert').filter({ hasText: /^A business rule does not allow it \(.*(Budget|budget)/ }).waitFor()
      await page.getByRole('button', { name: 'Previous stage' }).click()
      await page.getByRole('button', { name: 'Stage Qualify (current)' }).waitFor()
      await page.getByRole('button', { name: 'Qualify', exact: true }).click()
      await page.getByText(/Done; created:/).waitFor()
      const created = await page.locator('.made li').count()
      expect(created).toBeGreaterThan(0)
      await shot('04-lead-qualified-offline')

      const waiting = 1 + 1 + 1 + 1 + 2 + (1 + created) // field edit, note, contact, lead, two stage moves, the command's parts
      await expect.poll(async () => (await syncStatus(page)).text, { timeout: 10_000 }).toContain(`${waiting} changes waiting`)

      // Reload with the server still down: the service worker has the app, IndexedDB the data.
      await page.reload()
      await page.locator('#sync-status').waitFor({ timeout: 20_000 })
      await expect.poll(async () => (await syncStatus(page)).text, { timeout: 20_000 }).toContain(`${waiting} changes waiting`)
      await shot('05-reloaded-offline')
      await page.goto(`${s.url}/#/r/account/${String(account.id)}`)
      await expect.poll(() => page.getByLabel('Main Phone').inputValue(), { timeout: 10_000 }).toBe('+47 22 00 11 22')
      const note = page.locator('li.tl-note', { hasText: 'Visited the site' })
      await note.getByRole('button', { name: /Open entrance\.png/ }).click() // from the device: the server is down
      await note.getByRole('img', { name: 'entrance.png' }).waitFor()
      expect(await note.getByRole('img', { name: 'entrance.png' }).evaluate(img => (img as HTMLImageElement).naturalWidth)).toBe(1)
      await page.goto(`${s.url}/#/e/contact`)
      await page.getByLabel('Search Contact').fill('Nordmann-Offline')
      await page.locator('.row a', { hasText: 'Ola' }).locator('.badge.waiting').waitFor() // marked: not uploaded yet
      await page.goto(`${s.url}/#/status`)
      expect(await page.locator('#waiting-edits').textContent()).toBe(String(waiting))
      await shot('06-device-status-offline')

      // The server is back (same port): sync now; the count goes to zero.
      s = await s.restart()
      await page.getByRole('button', { name: 'Sync now' }).click()
      await expect.poll(() => page.locator('#waiting-edits').textContent(), { timeout: 30_000 }).toBe('0')
      await shot('07-synced')
      await page.goto(`${s.url}/#/inbox`)
      await shot('08-inbox')
      expect(await page.locator('.inbox li.item').allTextContents()).toEqual([])
      expect(await syncStatus(page)).toMatchObject({ state: 'synced', text: 'Synced' })

      const token = await s.token('alice')
      expect((await api(s, `/api/records/account/${String(account.id)}`, token)).telephone1).toBe('+47 22 00 11 22')
      expect((await api(s, `/api/records/contact/${contact}`, token)).lastname).toBe('Nordmann-Offline')
      expect((await api(s, `/api/records/lead/${lead}`, token)).statecode).toBe(1)
      const picture = await fetch(`${s.url}/api/records/account/${String(account.id)}/notes/${noteId!}/attachment`, { headers: { authorization: `Bearer ${token}` } })
      expect(picture.status).toBe(200)
      expect(Buffer.from(await picture.arrayBuffer()).equals(PNG)).toBe(true)
    } catch (e) {
      for (const p of context.pages()) await screenshot(p, 'day-offline', 'failure').catch(() => {})
      throw e
    } finally {
      await context.close()
      await s.dispose()
    }
  })
})
