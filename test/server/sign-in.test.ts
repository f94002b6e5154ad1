// Sign-in in process (hono's `app.request()`, an injected clock): passwords set by an administrator,
// POST /auth/login, renewal (bearer token and refresh token), sign-out, revocation, disabled users,
// demo mode's password, raised hash costs, and the configuration of all of it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { issueToken } from '../../src/server/auth.ts'
import { DEMO_PASSWORD } from '../../src/server/authenticator.ts'
import { SIGN_IN_REFUSED } from '../../src/server/auth-routes.ts'
import { parseConfig } from '../../src/server/config.ts'
import { assembleTestServer, SECRET } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { claimsOf, clockedServer, FAST_SCRYPT, request, setPassword, type Assembled, type SignedIn } from '../helpers/sign-in.ts'
import type { Hono } from 'hono'

const cleanups = useCleanups()
const ALICE_PASSWORD = 'alice has a long password'

let s: Assembled
let app: Hono
let advance: (ms: number) => void
let now: () => number
beforeAll(async () => {
  ({ s, app, advance, now } = await clockedServer({ DEMO: '0' }))
})
afterAll(() => s.dispose())

/** A token of `login` issued now on the server's clock (the helper's tokens use the wall clock). */
const tokenOf = (login: string): Promise<string> => issueToken(SECRET, s.security.index.userByLogin(login)!, 3600, now())
const login = (l: string, password: string, address?: string) => request(app, '/auth/login', { body: { login: l, password }, address })
const signIn = async (l: string, password: string): Promise<SignedIn> => {
  const r = await login(l, password)
  expect(r.status).toBe(200)
  return r.body as unknown as SignedIn
}

describe('POST /auth/login', () => {
  it('signs a user in with the password an administrator set; the token works on the API and names the user', async () => {
    expect(await login('alice', ALICE_PASSWORD)).toMatchObject({ status: 401, body: { error: SIGN_IN_REFUSED } })
    expect(await setPassword(app, await tokenOf('avery'), 'u-alice', ALICE_PASSWORD)).toMatchObject({ status: 200, body: { passwordSet: true } })
    const r = await signIn('alice', ALICE_PASSWORD)
    expect(r.user).toMatchObject({ id: 'u-alice', login: 'alice' })
    expect(typeof r.refreshToken).toBe('string')
    expect(claimsOf(r.token)).toMatchObject({ sub: 'u-alice', login: 'alice' })
    expect((await request(app, '/api/receipts', { token: r.token })).status).toBe(200)
    // The login is matched whatever its case and surrounding spaces.
    expect((await login('  Alice ', ALICE_PASSWORD)).status).toBe(200)
    expect(await login('alice', `${ALICE_PASSWORD}!`)).toMatchObject({ status: 401, body: { error: SIGN_IN_REFUSED } })
  })

  it('answers 400 naming the field for a bad body, 413 for a huge one', async () => {
    expect(await login('', 'x')).toMatchObject({ status: 400, body: { field: 'login' } })
    expect(await request(app, '/auth/login', { body: { login: 'alice' } })).toMatchObject({ status: 400, body: { field: 'password' } })
    expect(await request(app, '/auth/login', { body: { login: 'alice', password: 5 } })).toMatchObject({ status: 400, body: { error: 'password: expected a password', field: 'password' } })
    expect(await request(app, '/auth/login', { body: '{"login":' })).toMatchObject({ status: 400, body: { error: 'body: expected JSON' } })
    expect(await login('alice', 'x'.repeat(1025))).toMatchObject({ status: 400, body: { field: 'password' } })
    expect((await login('alice', 'x'.repeat(20_000))).status).toBe(413)
  })
})

describe('PUT /api/admin/users/<id>/password', () => {
  it('is for administrators, takes 12 to 1024 characters, for a known user (400 naming the field)', async () => {
    const avery = await tokenOf('avery')
    expect(await setPassword(app, await tokenOf('alice'), 'u-alice', 'a password long enough')).toMatchObject({ status: 403 })
    expect(await setPassword(app, avery, 'u-bob', 'too short')).toMatchObject({ status: 400, body: { error: 'password: shorter than 12 characters', field: 'password' } })
    expect(await setPassword(app, avery, 'u-bob', 'x'.repeat(1025))).toMatchObject({ status: 400, body: { field: 'password' } })
    expect(await request(app, '/api/admin/users/u-bob/password', { method: 'PUT', token: avery, body: {} })).toMatchObject({ status: 400, body: { field: 'password' } })
    expect(await setPassword(app, avery, 'u-nobody', 'a password long enough')).toMatchObject({ status: 400, body: { field: 'id' } })
    expect(await setPassword(app, avery, 'u-bob', 'bob resets to this one')).toMatchObject({ status: 200 })
    // A reset replaces the old password.
    await signIn('bob', 'bob resets to this one')
    expect(await setPassword(app, avery, 'u-bob', 'and then to this one')).toMatchObject({ status: 200 })
    expect((await login('bob', 'bob resets to this one')).status).toBe(401)
    await signIn('bob', 'and then to this one')
  })
})

describe('the public page outside demo mode', () => {
  it('GET /about names no record of the organization, nor how many there are', async () => {
    const page = await (await app.request('/about')).text()
    expect(page).toContain('<h1>fieldsync</h1>')
    expect(page).not.toMatch(/<h2>Records<\/h2>|<h2>Users<\/h2>/)
    expect(page).toContain("'account/&#60;id&#62;'")
  })
})

describe('tokens: short-lived, renewed', () => {
  it('last 15 minutes by default; POST /auth/refresh with a valid token gives a new token of the same sign-in', async () => {
    const first = await signIn('alice', ALICE_PASSWORD)
    const c = claimsOf(first.token)
    expect((c.exp as number) - (c.iat as number)).toBe(15 * 60)
    advance(10 * 60_000)
    const r = await request(app, '/auth/refresh', { token: first.token, method: 'POST' })
    expect(r.status).toBe(200)
    expect(r.body.refreshToken).toBeUndefined()
    const renewed = r.body.token as string
    expect(claimsOf(renewed)).toMatchObject({ sub: 'u-alice', sid: c.sid })
    expect(claimsOf(renewed).exp).toBeGreaterThan(c.exp as number)
    advance(6 * 60_000)
    // the first has expired, the renewed one has not
    expect((await request(app, '/api/receipts', { token: first.token })).status).toBe(401)
    expect((await request(app, '/api/receipts', { token: renewed })).status).toBe(200)
    expect((await request(app, '/auth/refresh', { token: first.token, method: 'POST' })).status).toBe(401)
  })

  it('a token renews itself for an hour from the first of its chain; then only the refresh token renews (a leaked token dies within the hour)', async () => {
    const first = await signIn('alice', ALICE_PASSWORD)
    let token = first.token
    for (let i = 0; i < 5; i++) {
      advance(11 * 60_000)
      const r = await request(app, '/auth/refresh', { token, method: 'POST' })
      expect(r.status, `bearer renewal ${i + 1}, ${(i + 1) * 11} minutes in`).toBe(200)
      token = r.body.token as string
    }
    advance(10 * 60_000) // 65 minutes after the first token: the chain is past its hour
    const late = await request(app, '/auth/refresh', { token, method: 'POST' })
    expect(late.status).toBe(401)
    expect(late.body.error).toMatch(/refresh token/)
    expect((await request(app, '/api/receipts', { token })).status).toBe(200) // the token itself still works until it expires
    const renewed = await request(app, '/auth/refresh', { body: { refreshToken: first.refreshToken } })
    expect(renewed.status).toBe(200)
    // A new chain starts with a token the refresh token gave.
    expect((await request(app, '/auth/refresh', { token: renewed.body.token as string, method: 'POST' })).status).toBe(200)
  })

  it('a device offline for a day renews with its refresh token (rotated at each use)', async () => {
    const first = await signIn('alice', ALICE_PASSWORD)
    advance(24 * 3600_000)
    expect((await request(app, '/api/receipts', { token: first.token })).status).toBe(401)
    const r = await request(app, '/auth/refresh', { body: { refreshToken: first.refreshToken } })
    expect(r.status).toBe(200)
    expect(r.body.refreshToken).not.toBe(first.refreshToken)
    expect((await request(app, '/api/receipts', { token: r.body.token as string })).status).toBe(200)
    expect(r.body.sessionExpiresAt).toBe(first.sessionExpiresAt)
    const again = await request(app, '/auth/refresh', { body: { refreshToken: r.body.refreshToken } })
    expect(again.status).toBe(200)
  })

  it('POST /auth/refresh without a token or refresh token is 400; a bad one 401', async () => {
    expect((await request(app, '/auth/refresh', { method: 'POST' })).status).toBe(400)
    expect((await request(app, '/auth/refresh', { body: { refreshToken: 'nonsense' } })).status).toBe(401)
    expect((await request(app, '/auth/refresh', { body: { token: 'x' } })).status).toBe(400)
    expect((await request(app, '/auth/refresh', { method: 'POST', token: 'nonsense' })).status).toBe(401)
  })

  it('a token issued without a sign-in (no session) is not renewable', async () => {
    expect(await request(app, '/auth/refresh', { method: 'POST', token: await tokenOf('alice') })).toMatchObject({ status: 401, body: { error: 'this token has no sign-in to renew: sign in again' } })
  })

  it('sign-out ends the sign-in: its tokens and refresh token stop working, others of the user go on', async () => {
    const a = await signIn('alice', ALICE_PASSWORD)
    const b = await signIn('alice', ALICE_PASSWORD)
    expect(await request(app, '/auth/logout', { body: { refreshToken: a.refreshToken } })).toMatchObject({ status: 200, body: { signedOut: true } })
    expect((await request(app, '/api/receipts', { token: a.token })).status).toBe(401)
    expect((await request(app, '/auth/refresh', { body: { refreshToken: a.refreshToken } })).status).toBe(401)
    expect((await request(app, '/api/receipts', { token: b.token })).status).toBe(200)
    // with the token itself
    expect((await request(app, '/auth/logout', { method: 'POST', token: b.token })).status).toBe(200)
    expect((await request(app, '/api/receipts', { token: b.token })).status).toBe(401)
    expect((await request(app, '/auth/logout', { method: 'POST', token: b.token })).status).toBe(401)
  })

  it('revoking a user\'s tokens stops every token and renewal of theirs; a new sign-in works', async () => {
    const a = await signIn('alice', ALICE_PASSWORD)
    const unsessioned = await tokenOf('alice')
    const other = await signIn('bob', 'and then to this one')
    expect(await request(app, '/api/admin/users/u-alice/revoke-tokens', { method: 'POST', token: await tokenOf('avery') })).toMatchObject({ status: 200, body: { revoked: true } })
    for (const t of [a.token, unsessioned]) expect((await request(app, '/api/receipts', { token: t })).status).toBe(401)
    expect((await request(app, '/auth/refresh', { body: { refreshToken: a.refreshToken } })).status).toBe(401)
    expect((await request(app, '/auth/refresh', { method: 'POST', token: a.token })).status).toBe(401)
    expect((await request(app, '/api/receipts', { token: other.token })).status).toBe(200)
    const again = await signIn('alice', ALICE_PASSWORD)
    expect((await request(app, '/api/receipts', { token: again.token })).status).toBe(200)
    expect((await request(app, '/api/admin/users/u-nobody/revoke-tokens', { method: 'POST', token: await tokenOf('avery') })).status).toBe(400)
    expect((await request(app, '/api/admin/users/u-bob/revoke-tokens', { method: 'POST', token: again.token })).status).toBe(403)
  })

  it('a disabled user cannot sign in, use a token or renew one; enabled again, they sign in anew', async () => {
    await setPassword(app, await tokenOf('avery'), 'u-nina', 'nina password here')
    const n = await signIn('nina', 'nina password here')
    const patch = async (body: unknown) => request(app, '/api/admin/users/u-nina', { method: 'PATCH', token: await tokenOf('avery'), body })
    expect((await patch({ disabled: true })).status).toBe(200)
    expect(s.security.index.user('u-nina')?.disabled).toBe(true)
    expect(await login('nina', 'nina password here')).toMatchObject({ status: 401, body: { error: SIGN_IN_REFUSED } })
    expect((await request(app, '/api/receipts', { token: n.token })).status).toBe(401)
    expect((await request(app, '/auth/refresh', { body: { refreshToken: n.refreshToken } })).status).toBe(401)
    expect((await patch({ disabled: 'yes' })).status).toBe(400)
    expect((await patch({ disabled: false })).status).toBe(200)
    // the old sign-in stays ended
    expect((await request(app, '/auth/refresh', { body: { refreshToken: n.refreshToken } })).status).toBe(401)
    const again = await signIn('nina', 'nina password here')
    expect((await request(app, '/api/receipts', { token: again.token })).status).toBe(200)
  })

  it('a sign-in lasts SESSION_TTL_SECONDS: no token outlives it and no renewal follows it', async () => {
    const t = await clockedServer({ DEMO: '1', SESSION_TTL_SECONDS: '600' })
    cleanups.push(() => t.s.dispose())
    const r = await request(t.app, '/auth/login', { body: { login: 'alice', password: DEMO_PASSWORD } })
    const c = claimsOf(r.body.token as string)
    expect((c.exp as number) - (c.iat as number)).toBe(600) // not 900: the sign-in ends first
    t.advance(590_000)
    const renewed = await request(t.app, '/auth/refresh', { body: { refreshToken: r.body.refreshToken } })
    expect(renewed.status).toBe(200)
    expect((claimsOf(renewed.body.token as string).exp as number) - Math.floor(t.now() / 1000)).toBeLessThanOrEqual(10)
    t.advance(11_000)
    expect((await request(t.app, '/auth/refresh', { body: { refreshToken: renewed.body.refreshToken } })).status).toBe(401)
    expect((await request(t.app, '/auth/refresh', { method: 'POST', token: renewed.body.token as string })).status).toBe(401)
  })
})

describe('demo mode', () => {
  it('users without a password of their own sign in with the demo password; one set by an administrator replaces it', async () => {
    const t = await clockedServer({ DEMO: '1' })
    cleanups.push(() => t.s.dispose())
    const demoLogin = (l: string, p: string) => request(t.app, '/auth/login', { body: { login: l, password: p } })
    expect((await demoLogin('carol', DEMO_PASSWORD)).status).toBe(200)
    expect((await demoLogin('carol', 'not the demo one')).status).toBe(401)
    const avery = (await demoLogin('avery', DEMO_PASSWORD)).body.token as string
    await setPassword(t.app, avery, 'u-carol', 'carol has her own now')
    expect((await demoLogin('carol', DEMO_PASSWORD)).status).toBe(401)
    expect((await demoLogin('carol', 'carol has her own now')).status).toBe(200)
    // dev-login signs in too, with a refresh token
    const dev = await request(t.app, '/auth/dev-login', { body: { user: 'dan' } })
    expect(dev.body).toMatchObject({ user: { login: 'dan' }, refreshToken: expect.any(String) })
  })

  it('outside demo mode the demo password is no password', async () => {
    expect(await login('carol', DEMO_PASSWORD)).toMatchObject({ status: 401, body: { error: SIGN_IN_REFUSED } })
  })
})

describe('raising the hash cost', () => {
  it('rehashes a password under the new cost at its next sign-in', async () => {
    const t = await assembleTestServer({ ...FAST_SCRYPT, DEMO: '0' })
    await setPassword(t.server.app, await t.token('avery'), 'u-dan', 'dan password at ln 10')
    expect(t.security.credentials.passwordHash('u-dan')).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$/)
    await t.stop()
    const raised = await assembleTestServer({ PASSWORD_SCRYPT: 'ln=11,r=8,p=2', DEMO: '0' }, t.dir)
    cleanups.push(() => raised.dispose())
    expect((await request(raised.server.app, '/auth/login', { body: { login: 'dan', password: 'dan password at ln 10' } })).status).toBe(200)
    expect(raised.security.credentials.passwordHash('u-dan')).toMatch(/^\$scrypt\$ln=11,r=8,p=2\$/)
    expect((await request(raised.server.app, '/auth/login', { body: { login: 'dan', password: 'dan password at ln 10' } })).status).toBe(200)
  })
})

describe('configuration', () => {
  const OIDC = { OIDC_ISSUER: 'https://idp.example', OIDC_AUDIENCE: 'fieldsync', OIDC_JWKS_URL: 'https://idp.example/jwks.json' }
  it('has short tokens, month-long sign-ins and OWASP\'s scrypt cost by default, and no identity provider', () => {
    const c = parseConfig({})
    expect([c.tokenTtlSeconds, c.sessionTtlSeconds, c.passwordScrypt, c.oidc, c.trustProxy]).toEqual([900, 30 * 86400, { ln: 15, r: 8, p: 3 }, undefined, false])
  })

  it('reads the identity provider: all three settings, https (http on this machine only), audiences, the user claim', () => {
    const c = parseConfig({ ...OIDC, OIDC_AUDIENCE: 'fieldsync, fieldsync-app', OIDC_USER_CLAIM: 'email' })
    expect(c.oidc).toEqual({ issuer: 'https://idp.example', audience: ['fieldsync', 'fieldsync-app'], jwksUrl: new URL('https://idp.example/jwks.json'), userClaim: 'email' })
    expect(parseConfig(OIDC).oidc?.userClaim).toBe('sub')
    expect(parseConfig({ ...OIDC, OIDC_JWKS_URL: 'http://127.0.0.1:9999/jwks' }).oidc?.jwksUrl.port).toBe('9999')
    expect(() => parseConfig({ OIDC_ISSUER: 'https://idp.example' })).toThrow('an external identity provider needs OIDC_ISSUER, OIDC_AUDIENCE, OIDC_JWKS_URL; missing OIDC_AUDIENCE, OIDC_JWKS_URL')
    expect(() => parseConfig({ ...OIDC, OIDC_JWKS_URL: 'http://idp.example/jwks.json' })).toThrow(/OIDC_JWKS_URL must be https/)
    expect(() => parseConfig({ ...OIDC, OIDC_JWKS_URL: 'not a url' })).toThrow(/OIDC_JWKS_URL must be a URL/)
    expect(() => parseConfig({ ...OIDC, OIDC_AUDIENCE: ' , ' })).toThrow(/OIDC_AUDIENCE must name/)
    expect(() => parseConfig({ OIDC_USER_CLAIM: 'email' })).toThrow(/OIDC_USER_CLAIM needs/)
  })

  it('refuses bad costs and lifetimes with a message naming the variable', () => {
    expect(() => parseConfig({ PASSWORD_SCRYPT: 'ln=8,r=8,p=1' })).toThrow(/PASSWORD_SCRYPT must be/)
    expect(() => parseConfig({ PASSWORD_SCRYPT: 'ln=22,r=8,p=1' })).toThrow(/at most 1 GiB/)
    expect(() => parseConfig({ SESSION_TTL_SECONDS: '10' })).toThrow(/SESSION_TTL_SECONDS must be a whole number from 300/)
    expect(() => parseConfig({ TRUST_PROXY: 'maybe' })).toThrow(/TRUST_PROXY must be 1 or 0/)
  })
})
