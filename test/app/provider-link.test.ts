// A link to the app with an identity provider's token in its fragment (`/#id_token=…`) signs in with that
// token. The app does not start the provider's sign-in itself (no state or nonce to check on return), so
// such a link from anyone (a user of the same provider sends a colleague a link with their own token) must
// not replace the sign-in of someone already signed in on that browser: otherwise the colleague's app runs
// as the sender from then on (kept in localStorage), and what they enter — notes, pictures, new records —
// goes into the sender's account.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { launchChromium } from '../helpers/browser.ts'
import { startTestServer } from '../helpers/server.ts'
import { startIdentityProvider } from '../helpers/identity-provider.ts'
import { appBuilt, syncStatus } from '../helpers/app.ts'

let browser: Browser
beforeAll(async () => { await appBuilt(); browser = await launchChromium() })
afterAll(async () => { await browser?.close() })

const databases = (page: import('playwright-core').Page): Promise<(string | undefined)[]> => page.evaluate(async () => (await indexedDB.databases()).map(d => d.name))

describe('a link with a provider token', () => {
  it('does not replace the sign-in of the user already signed in on the browser', async () => {
    const idp = await startIdentityProvider()
    const s = await startTestServer({ DEMO: '0', ...idp.env() })
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } })
    try {
      const admin = await s.token('avery')
      for (const [user, sub] of [['u-alice', 'alice@idp'], ['u-bob', 'bob@idp']]) {
        const patch = await fetch(`${s.url}/api/admin/users/${user}`, { method: 'PATCH', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ externalId: sub }) })
        expect(patch.status).toBe(200)
      }
      const page = await context.newPage()
      // Alice signs in through the provider and works.
      await page.goto(`${s.url}/#id_token=${encodeURIComponent(await idp.sign({ sub: 'alice@idp', name: 'Alice Adams' }))}`)
      await page.locator('ul.entities').waitFor({ timeout: 60_000 })
      await expect.poll(() => syncStatus(page), { timeout: 30_000 }).toMatchObject({ state: 'synced' })
      const stored = await page.evaluate(() => localStorage.getItem('fieldsync.sign-in'))
      const hers = await databases(page)
      expect(hers).toEqual(['fieldsync-external:alice@idp'])
      // Bob's link, with a token the provider gave him, opened in her browser (a new tab, as from a mail).
      await page.close()
      const link = await context.newPage()
      await link.goto(`${s.url}/#id_token=${encodeURIComponent(await idp.sign({ sub: 'bob@idp', name: 'Bob Brown' }))}`)
      await link.locator('ul.entities').waitFor({ timeout: 60_000 })
      await expect.poll(() => syncStatus(link), { timeout: 30_000 }).toMatchObject({ state: 'synced' })
      expect(link.url()).not.toContain('id_token')
      expect(await databases(link)).toEqual(hers)
      expect(await link.evaluate(() => localStorage.getItem('fieldsync.sign-in'))).toBe(stored)
    } finally {
      await context.close()
      await s.dispose()
      await idp.close()
    }
  })
})
