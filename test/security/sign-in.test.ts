// Attacks on sign-in (issue 13): finding out which logins exist, guessing passwords (per login, per
// address, in parallel floods, from a whole IPv6 block, behind a spoofed proxy header), locking a user
// out, and forging, replaying or outliving tokens and refresh tokens. In process, on an injected clock.

import { describe, expect, it } from 'vitest'
import { SignJWT } from 'jose'
import { issueToken } from '../../src/server/auth.ts'
import { SIGN_IN_LIMITS } from '../../src/server/authenticator.ts'
import { addressKey, SIGN_IN_REFUSED } from '../../src/server/auth-routes.ts'
import { REFRESH_GRACE_MS } from '../../src/server/sessions.ts'
import { TokenBuckets } from '../../src/server/rate-limit.ts'
import { SECRET } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { claimsOf, clockedServer, request, setPassword, type SignedIn } from '../helpers/sign-in.ts'

const cleanups = useCleanups()
const PASSWORD = 'the right password for alice'

const start = async (env: Record<string, string> = {}) => {
  const t = await clockedServer({ DEMO: '0', ...env })
  cleanups.push(() => t.s.dispose())
  const admin = await issueToken(SECRET, t.s.security.index.userByLogin('avery')!, 3600, t.now())
  expect((await setPassword(t.app, admin, 'u-alice', PASSWORD)).status).toBe(200)
  const login = (login: string, password: string, address = '198.51.100.7', headers?: Record<string, string>) =>
    request(t.app, '/auth/login', { body: { login, password }, address, headers })
  return { ...t, admin, login }
}

describe('no user enumeration', () => {
  it('answers an unknown login, a wrong password, a user without a password and a disabled user alike', async () => {
    const t = await start()
    await setPassword(t.app, t.admin, 'u-erin', 'erin is disabled later')
    await request(t.app, '/api/admin/users/u-erin', { method: 'PATCH', token: t.admin, body: { disabled: true } })
    const answers = await Promise.all([
      t.login('mallory', PASSWORD, '203.0.113.1'), // no such login
      t.login('alice', 'a wrong password', '203.0.113.2'), // wrong password
      t.login('bob', PASSWORD, '203.0.113.3'), // a user without a password
      t.login('erin', 'erin is disabled later', '203.0.113.4') // the right password of a disabled user
    ])
    const headerNames = (h: Headers): string[] => { const out: string[] = []; h.forEach((_, k) => out.push(k)); return out.sort() }
    for (const a of answers) {
      expect(a.status).toBe(401)
      expect(a.body).toEqual({ error: SIGN_IN_REFUSED })
      expect(headerNames(a.headers)).toEqual(headerNames(answers[0].headers))
    }
    // Unknown logins are limited like known ones (the limit says nothing either).
    for (let i = 0; i < SIGN_IN_LIMITS.perLogin.burst; i++) await t.login('mallory', 'x', `203.0.113.${10 + i}`)
    expect((await t.login('mallory', 'x', '203.0.113.99')).status).toBe(429)
  })
})

describe('password guessing', () => {
  it('limits failures per login, from any number of addresses: 429 with Retry-After, even for the right password, until a token comes back', async () => {
    const t = await start()
    for (let i = 0; i < SIGN_IN_LIMITS.perLogin.burst; i++) expect((await t.login('alice', `guess ${i}`, `10.0.${i}.1`)).status).toBe(401)
    const limited = await t.login('alice', PASSWORD, '10.9.9.9')
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toBe('60')
    expect(limited.body.error).toBe('too many failed sign-ins: try again in 60 s')
    t.advance(30_000)
    expect((await t.login('alice', PASSWORD)).headers.get('retry-after')).toBe('30')
    t.advance(30_000)
    // One attempt came back: the right password signs in, and the count starts over.
    expect((await t.login('alice', PASSWORD)).status).toBe(200)
    for (let i = 0; i < SIGN_IN_LIMITS.perLogin.burst; i++) expect((await t.login('alice', `again ${i}`, `10.1.${i}.1`)).status).toBe(401)
    // Other logins are not affected.
    await setPassword(t.app, t.admin, 'u-bob', 'bob signs in meanwhile')
    expect((await t.login('bob', 'bob signs in meanwhile')).status).toBe(200)
  })

  it('limits failures per address, over any logins; other addresses go on', async () => {
    const t = await start()
    for (let i = 0; i < SIGN_IN_LIMITS.perAddress.burst; i++) expect((await t.login(`user${i}`, 'guess', '198.51.100.50')).status).toBe(401)
    const limited = await t.login('alice', PASSWORD, '198.51.100.50')
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toBe('10')
    expect((await t.login('alice', PASSWORD, '198.51.100.51')).status).toBe(200)
  })

  it('counts a parallel flood before hashing: of 40 simultaneous guesses only the burst is checked', async () => {
    const t = await start()
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => t.login('alice', `parallel ${i}`, `172.16.${i}.1`)))
    const count = (status: number): number => answers.filter(a => a.status === status).length
    expect([count(401), count(429)]).toEqual([SIGN_IN_LIMITS.perLogin.burst, 40 - SIGN_IN_LIMITS.perLogin.burst])
  })

  it('treats an IPv6 /64 as one address (a subscriber has 2^64 of them); IPv4-mapped addresses as IPv4', async () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64')
    expect(addressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64')
    expect(addressKey('::1')).toBe('0:0:0:0::/64')
    expect(addressKey('::ffff:192.0.2.9')).toBe('192.0.2.9')
    expect(addressKey('192.0.2.9')).toBe('192.0.2.9')
    const t = await start()
    for (let i = 0; i < SIGN_IN_LIMITS.perAddress.burst; i++) await t.login(`v6user${i}`, 'guess', `2001:db8:1:2::${(i + 1).toString(16)}`)
    expect((await t.login('alice', PASSWORD, '2001:db8:1:2:ffff::9')).status).toBe(429)
    expect((await t.login('alice', PASSWORD, '2001:db8:1:3::1')).status).toBe(200)
  })

  it('ignores X-Forwarded-For unless TRUST_PROXY is set, and then takes the entry the proxy added (the last)', async () => {
    const t = await start()
    // A spoofed header does not buy fresh addresses.
    for (let i = 0; i < SIGN_IN_LIMITS.perAddress.burst; i++) await t.login(`u${i}`, 'guess', '198.51.100.60', { 'x-forwarded-for': `10.${i}.0.1` })
    expect((await t.login('u99', 'guess', '198.51.100.60', { 'x-forwarded-for': '10.99.0.1' })).status).toBe(429)
    const p = await start({ TRUST_PROXY: '1' })
    // Behind the proxy (one socket address), clients are told apart by the entry the proxy appended; what a client put before it is ignored.
    for (let i = 0; i < SIGN_IN_LIMITS.perAddress.burst; i++) await p.login(`u${i}`, 'guess', '10.0.0.2', { 'x-forwarded-for': `1.2.3.${i}, 203.0.113.70` })
    expect((await p.login('u99', 'guess', '10.0.0.2', { 'x-forwarded-for': '9.9.9.9, 203.0.113.70' })).status).toBe(429)
    expect((await p.login('alice', PASSWORD, '10.0.0.2', { 'x-forwarded-for': '203.0.113.71' })).status).toBe(200)
  })

  it('cannot lock a user out for good: a device signed in before keeps renewing during the attack, and the login recovers after it', async () => {
    const t = await start()
    const device = (await t.login('alice', PASSWORD)).body as unknown as SignedIn
    let refreshToken = device.refreshToken
    // An attacker keeps alice's login drained for an hour from many addresses.
    for (let minute = 0; minute < 60; minute++) {
      for (let i = 0; i < 12; i++) await t.login('alice', 'attacker guess', `100.64.${minute}.${i}`)
      expect((await t.login('alice', PASSWORD, '198.51.100.80')).status).toBe(429)
      if (minute % 15 === 0) {
        const r = await request(t.app, '/auth/refresh', { body: { refreshToken } })
        expect(r.status).toBe(200)
        refreshToken = r.body.refreshToken as string
      }
      t.advance(60_000)
    }
    // The attack stops: within burst x refill the login has its whole burst back.
    t.advance(SIGN_IN_LIMITS.perLogin.burst * SIGN_IN_LIMITS.perLogin.refillMs)
    expect((await t.login('alice', PASSWORD, '198.51.100.80')).status).toBe(200)
    // (Buckets kept in memory are bounded; on PostgreSQL they are rows, shared by the instances.)
    const byLogin = t.s.server.authenticator.byLogin
    if (byLogin instanceof TokenBuckets) expect(byLogin.size).toBeLessThanOrEqual(SIGN_IN_LIMITS.maxKeys)
  })
})

describe('forged and replayed tokens', () => {
  it('refuses tokens with alg none, another secret, an altered payload, or claims of the wrong type', async () => {
    const t = await start()
    const enc = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url')
    const iat = Math.floor(t.now() / 1000)
    const claims = { sub: 'u-avery', login: 'avery', iat, exp: iat + 600 }
    const none = `${enc({ alg: 'none', typ: 'JWT' })}.${enc(claims)}.`
    const otherSecret = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('another secret another secret another secret'))
    const good = await issueToken(SECRET, t.s.security.index.userByLogin('alice')!, 600, t.now())
    const [h, , sig] = good.split('.')
    const altered = `${h}.${enc({ ...claimsOf(good), sub: 'u-avery', login: 'avery' })}.${sig}`
    const badTypes = await new SignJWT({ ...claims, gen: 'zero' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET))
    const noExp = await new SignJWT({ sub: 'u-avery', login: 'avery' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET))
    for (const token of [none, otherSecret, altered, badTypes, noExp, 'a.b.c', '']) {
      expect((await request(t.app, '/api/admin/model', { token })).status).toBe(401)
      expect((await request(t.app, `/api/admin/model?token=${encodeURIComponent(token)}`)).status).toBe(401)
    }
    expect((await request(t.app, '/api/receipts', { token: good })).status).toBe(200)
  })

  it('refresh tokens: a tampered one is refused; a spent one shown again after a minute ends the sign-in for both holders', async () => {
    const t = await start()
    const first = (await t.login('alice', PASSWORD)).body as unknown as SignedIn
    const refresh = (refreshToken: string) => request(t.app, '/auth/refresh', { body: { refreshToken } })
    const [sid, n, mac] = first.refreshToken.split('.')
    for (const forged of [`${sid}.${Number(n) + 1}.${mac}`, `${sid}.${n}.${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`, `${'A'.repeat(22)}.${n}.${mac}`, `${first.refreshToken}.x`]) {
      expect((await refresh(forged)).status).toBe(401)
    }
    const second = await refresh(first.refreshToken)
    expect(second.status).toBe(200)
    // Within the grace period (an answer lost on the way), the spent token answers the current one again.
    const retried = await refresh(first.refreshToken)
    expect(retried.status).toBe(200)
    expect(retried.body.refreshToken).toBe(second.body.refreshToken)
    // Later, the spent token is a copy in someone else's hands: the sign-in ends for everyone.
    t.advance(REFRESH_GRACE_MS + 1)
    expect(await refresh(first.refreshToken)).toMatchObject({ status: 401, body: { error: 'this refresh token was already used: the sign-in is ended, sign in again' } })
    expect((await refresh(second.body.refreshToken as string)).status).toBe(401)
    expect((await request(t.app, '/api/receipts', { token: second.body.token as string })).status).toBe(401)
    expect((await request(t.app, '/api/receipts', { token: first.token })).status).toBe(401)
  })

  it('a refresh token is no bearer token', async () => {
    const t = await start()
    const first = (await t.login('alice', PASSWORD)).body as unknown as SignedIn
    expect((await request(t.app, '/api/receipts', { token: first.refreshToken })).status).toBe(401)
    expect((await request(t.app, '/auth/refresh', { method: 'POST', token: first.refreshToken })).status).toBe(401)
  })

  it('keeps at most 50 sign-ins per user: the oldest ends when another starts', async () => {
    const t = await start()
    const first = (await t.login('alice', PASSWORD)).body as unknown as SignedIn
    for (let i = 0; i < 50; i++) { t.advance(1000); expect((await t.login('alice', PASSWORD)).status).toBe(200) }
    expect((await request(t.app, '/auth/refresh', { body: { refreshToken: first.refreshToken } })).status).toBe(401)
    expect((await request(t.app, '/api/receipts', { token: first.token })).status).toBe(401)
  })
})
