// The app in headless Chromium with more than one person: alice and bob change the same field while alice
// is offline (both end with the same value; alice, whose value lost, finds a conflict entry in her inbox)
// and see each other's memo typing live and each other's presence; erin (read-only) is refused up front
// with the reason; a privilege removed while alice is offline turns her edit into an inbox entry at sync.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { launchChromium } from '../helpers/browser.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { appBuilt, screenshot, signInAsDemoUser, startGate, syncStatus, type Gate } from '../helpers/app.ts'

const ALL = { all: true, businessUnits: new Set<string>(), owners: new Set<string>(), records: new Set<string>() }

let browser: Browser
beforeAll(async () => { await appBuilt(); browser = await launchChromium() })
afterAll(async () => { await browser?.close() })

const alicesAccount = (s: TestServer): string => {
  const row = s.projection.rows('account', ALL, 10_000, 0).find(r => r.ownerid === 'systemuser/u-alice' && r.statecode === 0)
  if (row === undefined) throw new Error('the demo data has no account of alice')
  return String(row.id)
}

/** Opens a record and waits until the form shows it. */
const openRecord = async (page: Page, base: string, record: string): Promise<void> => {
  await page.goto(`${base}/#/r/${record}`)
  await page.getByRole('form').first().waitFor()
}

const synced = (page: Page): Promise<void> => expect.poll(() => syncStatus(page), { timeout: 30_000 }).toMatchObject({ state: 'synced' })

describe('the app with more than one person', () => {
  let s: TestServer
  let gate: Gate
  const contexts: BrowserContext[] = []
  beforeAll(async () => { s = await startTestServer(); gate = await startGate(s.port) })
  afterAll(async () => {
    for (const c of contexts) await c.close()
    await gate?.close()
    await s?.dispose()
  })
  const newPage = async (): Promise<Page> => {
    const c = await browser.newContext({ viewport: { width: 390, height: 844 } })
    contexts.push(c)
    return c.newPage()
  }

  it('two people: live memo typing and presence; a same-field conflict leaves one value and an inbox entry for the loser', { timeout: 120_000 }, async () => {
    const account = alicesAccount(s)
    const alice = await newPage() // through the gate, which takes her offline later
    const bob = await newPage()
    try {
      await signInAsDemoUser(alice, gate.url, /Alice Adams/)
      await signInAsDemoUser(bob, s.url, /Bob Baker/)
      await openRecord(alice, gate.url, `account/${account}`)
      await openRecord(bob, s.url, `account/${account}`)
      await synced(alice)
      await synced(bob)

      // Field security: the secured revenue field is on bob's form (Finance) and not on alice's.
      expect(await bob.getByLabel('Annual revenue').count()).toBe(1)
      expect(await alice.getByLabel('Annual revenue').count()).toBe(0)

      // Presence: who else has the record open (names from the server).
      await bob.getByText(/Also here: Alice Adams/).waitFor({ timeout: 20_000 })
      await alice.getByText(/Also here: Bob Baker/).waitFor({ timeout: 20_000 })

      // Memo typing shows up live on the other side.
      const aliceMemo = alice.getByLabel(/^Description/)
      await aliceMemo.click()
      await aliceMemo.press('End')
      await alice.keyboard.type(' Typed by Alice.')
      await expect.poll(() => bob.getByLabel(/^Description/).inputValue(), { timeout: 20_000 }).toContain('Typed by Alice.')
      const bobMemo = bob.getByLabel(/^Description/)
      await bobMemo.click()
      await bobMemo.press('Control+Home')
      await bob.keyboard.type('Bob: ')
      await expect.poll(() => aliceMemo.inputValue(), { timeout: 20_000 }).toMatch(/^Bob: .* Typed by Alice\.$/)
      await screenshot(bob, 'two-people', '01-bob-sees-alice-typing')

      // Alice goes offline and sets the phone; bob sets it later, online.
      gate.down()
      await expect.poll(async () => (await syncStatus(alice)).state, { timeout: 20_000 }).toMatch(/offline|error/)
      await alice.getByLabel('Main Phone').fill('+47 111 ALICE')
      await alice.getByRole('button', { name: 'Save' }).click()
      await alice.getByText('Saved on this device.').waitFor()
      await bob.getByLabel('Main Phone').fill('+47 222 BOB')
      await bob.getByRole('button', { name: 'Save' }).click()
      await bob.getByText('Saved on this device.').waitFor()
      await expect.poll(async () => (await syncStatus(bob)).text, { timeout: 20_000 }).toBe('Synced')
      await screenshot(alice, 'two-people', '02-alice-offline-edit')

      gate.up()
      await alice.goto(`${gate.url}/#/status`)
      await alice.getByRole('button', { name: 'Sync now' }).click()
      await expect.poll(() => alice.locator('#waiting-edits').textContent(), { timeout: 30_000 }).toBe('0')
      expect(s.projection.row('account', account)?.telephone1).toBe('+47 222 BOB')
      for (const [p, base] of [[alice, gate.url], [bob, s.url]] as const) {
        await openRecord(p, base, `account/${account}`)
        await expect.poll(() => p.getByLabel('Main Phone').inputValue(), { timeout: 20_000 }).toBe('+47 222 BOB')
      }
      await expect.poll(async () => (await syncStatus(alice)).state, { timeout: 20_000 }).toBe('conflicts')
      await alice.getByRole('button', { name: /Sync status/ }).click()
      await alice.getByRole('link', { name: /to look at/ }).click()
      const entry = alice.locator('.inbox li.item.superseded')
      await entry.waitFor()
      expect(await entry.textContent()).toMatch(/Main Phone: your value "\+47 111 ALICE" was replaced by "\+47 222 BOB"/i)
      await screenshot(alice, 'two-people', '03-alice-inbox-conflict')
      await entry.getByRole('button', { name: 'Discard' }).click()
      await expect.poll(() => alice.locator('.inbox li.item').count(), { timeout: 10_000 }).toBe(0)
    } catch (e) {
      await screenshot(alice, 'two-people', 'failure-alice').catch(() => {})
      await screenshot(bob, 'two-people', 'failure-bob').catch(() => {})
      throw e
    }
  })

  it('refusals: erin (read-only) is refused up front with the reason; a privilege removed while alice is offline becomes an inbox entry at sync', { timeout: 120_000 }, async () => {
    const account = alicesAccount(s)
    const erin = await newPage()
    const alice = await newPage()
    const admin = await s.token('avery')
    const adminCall = (method: string, path: string, body?: unknown): Promise<Response> =>
      fetch(`${s.url}/api/admin${path}`, { method, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })
    try {
      // The demo gives the auditor no offline profile: she gets one that holds every account and contact.
      const audit = { id: 'audit', name: 'Audit', users: ['u-erin'], entities: { account: { rules: [{ kind: 'all' }], modifiedWithinDays: null }, contact: { rules: [{ kind: 'all' }], modifiedWithinDays: null } } }
      expect((await adminCall('PUT', '/profiles', audit)).status).toBe(200)
      await signInAsDemoUser(erin, s.url, /Erin Evans/)
      await openRecord(erin, s.url, `account/${account}`)
      await erin.getByText(/You cannot change this record: You may not change these records \(no write privilege on account\)/).waitFor()
      expect(await erin.getByLabel('Main Phone').isDisabled()).toBe(true)
      expect(await erin.getByRole('button', { name: 'Save' }).count()).toBe(0)
      expect(await erin.getByRole('button', { name: 'Delete' }).count()).toBe(0)
      await erin.goto(`${s.url}/#/e/account`)
      await erin.getByRole('list', { name: 'Account records' }).waitFor()
      expect(await erin.getByRole('link', { name: 'New Account' }).count()).toBe(0)
      await erin.goto(`${s.url}/#/new/account`)
      await erin.getByText(/You cannot create this record: You may not create these records/).waitFor()
      await screenshot(erin, 'refusals', '01-erin-refused')

      await signInAsDemoUser(alice, gate.url, /Alice Adams/)
      // alice: offline edit, then her write privilege on accounts goes; at sync the edit comes back to her inbox.
      await openRecord(alice, gate.url, `account/${account}`)
      await synced(alice)
      gate.down()
      await expect.poll(async () => (await syncStatus(alice)).state, { timeout: 20_000 }).toMatch(/offline|error/)
      await alice.getByLabel('Main Phone').fill('+47 333 REVOKED')
      await alice.getByRole('button', { name: 'Save' }).click()
      await alice.getByText('Saved on this device.').waitFor()
      const model = await (await adminCall('GET', '/model')).json() as { roles: { id: string, privileges: Record<string, Record<string, string>> }[] }
      const role = structuredClone(model.roles.find(r => r.id === 'role-sales')!)
      delete role.privileges.account.write
      expect((await adminCall('PUT', '/roles', role)).status).toBe(200)
      gate.up()
      await alice.goto(`${gate.url}/#/status`)
      await alice.getByRole('button', { name: 'Sync now' }).click()
      await expect.poll(() => alice.locator('#waiting-edits').textContent(), { timeout: 30_000 }).toBe('0')
      expect(s.projection.row('account', account)?.telephone1).not.toBe('+47 333 REVOKED')
      await alice.goto(`${gate.url}/#/inbox`)
      const entry = alice.locator('.inbox li.item', { hasText: '+47 333 REVOKED' })
      await entry.waitFor({ timeout: 20_000 })
      expect(await entry.textContent()).toMatch(/Why: (your permission was removed|you may not change these records)/)
      await screenshot(alice, 'refusals', '02-alice-inbox-privilege-removed')
      // Retrying it is refused up front now, in words; the entry stays.
      await entry.getByRole('button', { name: 'Retry' }).click()
      await alice.getByRole('alert').filter({ hasText: /You may not change these records \(no write privilege on account\)/ }).waitFor()
      expect(await alice.locator('.inbox li.item', { hasText: '+47 333 REVOKED' }).count()).toBe(1)
      // Now read-only for her too, up front.
      await openRecord(alice, gate.url, `account/${account}`)
      await alice.getByText(/You cannot change this record/).waitFor()
    } catch (e) {
      await screenshot(erin, 'refusals', 'failure-erin').catch(() => {})
      await screenshot(alice, 'refusals', 'failure-alice').catch(() => {})
      throw e
    }
  })
})
