// Sign-in in the app outside demo mode, in headless Chromium: login and password (a wrong one refused in
// the server's words), the token renewed with the refresh token before it runs out, sign-out ending the
// sign-in and deleting the device's database; and a token from an external identity provider (a JWKS
// served by the test).

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { launchChromium } from '../helpers/browser.ts'
import { startTestServer } from '../helpers/server.ts'
import { FAST_SCRYPT } from '../helpers/sign-in.ts'
import { startIdentityProvider } from '../helpers/identity-provider.ts'
import { appBuilt, screenshot, syncStatus } from '../helpers/app.ts'

let browser: Browser
beforeAll(async () => { await appBuilt(); browser = await launchChromium() })
afterAll(async () => { await browser?.close() })

interface Stored { token: string, refreshToken?: string, expiresAt: string }
const KEY = 'fieldsync.sign-in'

describe('signing in to the app outside demo mode', () => {
  it('with a password: a wrong one is refused in words, the token is renewed, sign-out removes the data', async () => {
    const s = await startTestServer({ DEMO: '0', ...FAST_SCRYPT })
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } })
    try {
      const admin = await s.token('avery')
      const set = await fetch(`${s.url}/api/admin/users/u-alice/password`, { method: 'PUT', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ password: 'correct horse battery' }) })
      expect(set.status).toBe(200)
      const page = await context.newPage()
      const refreshes: string[] = []
      page.on('request', r => { if (r.url().endsWith('/auth/refresh')) refreshes.push(r.method()) })
      await page.goto(`${s.url}/`)
      await page.getByRole('button', { name: 'Sign in' }).waitFor()
      expect(await page.getByText('Demo: sign in as').count()).toBe(0) // no user picker outside demo mode
      await page.getByLabel('Login').fill('alice')
      await page.getByLabel('Password').fill('demo')
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.getByRole('alert').filter({ hasText: 'wrong login or password' }).waitFor()
      await screenshot(page, 'sign-in', '01-wrong-password')
      await page.getByLabel('Password').fill('correct horse battery')
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.locator('ul.entities').waitFor({ timeout: 60_000 })
      await expect.poll(() => syncStatus(page), { timeout: 30_000 }).toMatchObject({ state: 'synced' })
      await screenshot(page, 'sign-in', '02-home')

      // The token is about to run out: the app renews it (with the refresh token) before it connects again.
      const first = await page.evaluate(k => JSON.parse(localStorage.getItem(k)!) as Stored, KEY)
      expect(first.refreshToken).toBeTruthy()
      const soon = new Date(Date.now() + 20_000).toISOString()
      await page.evaluate(([k, at]) => { const v = JSON.parse(localStorage.getItem(k)!) as Stored; v.expiresAt = at; localStorage.setItem(k, JSON.stringify(v)) }, [KEY, soon] as const)
      await page.reload()
      // A renewal spends the refresh token for a new one and a token with a whole lifetime (15 minutes).
      await expect.poll(() => page.evaluate(k => (JSON.parse(localStorage.getItem(k)!) as Stored).refreshToken, KEY), { timeout: 30_000 }).not.toBe(first.refreshToken)
      const renewed = await page.evaluate(k => JSON.parse(localStorage.getItem(k)!) as Stored, KEY)
      expect(refreshes).toContain('POST')
      expect(Date.parse(renewed.expiresAt)).toBeGreaterThan(Date.parse(soon) + 10 * 60_000)
      await expect.poll(() => syncStatus(page), { timeout: 30_000 }).toMatchObject({ state: 'synced' })

      // Sign out: the sign-in ends on the server and the device's database is gone.
      await page.getByRole('button', { name: /Sync status/ }).click()
      await page.getByRole('button', { name: 'Sign out', exact: true }).click()
      await page.getByRole('button', { name: 'Sign out and remove data' }).click()
      await page.getByText('Signed out. The data of this device was removed.').waitFor()
      await screenshot(page, 'sign-in', '03-signed-out')
      expect(await page.evaluate(async () => (await indexedDB.databases()).map(d => d.name))).not.toContain('fieldsync-u-alice')
      expect(await page.evaluate(k => localStorage.getItem(k), KEY)).toBeNull()
      const reuse = await fetch(`${s.url}/auth/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken: renewed.refreshToken }) })
      expect(reuse.status).toBe(401)
    } finally {
      await context.close()
      await s.dispose()
    }
  })

  it('with a token from an external identity provider', async () => {
    const idp = await startIdentityProvider()
    const s = await startTestServer({ DEMO: '0', ...idp.env() })
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } })
    try {
      const admin = await s.token('avery')
      const patch = await fetch(`${s.url}/api/admin/users/u-alice`, { method: 'PATCH', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ externalId: 'alice@idp' }) })
      expect(patch.status).toBe(200)
      const token = await idp.sign({ sub: 'alice@idp', name: 'Alice Adams' })
      const page = await context.newPage()
      // As the provider's sign-in page would send her back: the token in the fragment.
      await page.goto(`${s.url}/#id_token=${encodeURIComponent(token)}`)
      await page.locator('ul.entities').waitFor({ timeout: 60_000 })
      await expect.poll(() => syncStatus(page), { timeout: 30_000 }).toMatchObject({ state: 'synced' })
      expect(page.url()).not.toContain('id_token') // not left in the address bar or history
      expect(Number(await page.locator('ul.entities li .count').first().textContent())).toBeGreaterThan(0)
      await screenshot(page, 'sign-in', '04-identity-provider')
    } finally {
      await context.close()
      await s.dispose()
      await idp.close()
    }
  })
})
