// Tokens of an external identity provider (issue 13): verified against the JWKS a real local HTTP server
// publishes (keys generated with jose, RS256 and ES256), taken wherever the server's own tokens are (HTTP
// bearer, the `token` parameter of /sync and /device), mapped to the user linked to their subject. And
// every way to slip a token past it: wrong issuer or audience, expired, not yet valid, no expiry, unknown
// key id, a key not in the set, alg none, HS256 "signed" with the provider's public key, key confusion
// between RSA and EC, PS256, and a flood of unknown key ids (which must not become a flood of fetches).

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { generateKeyPair, SignJWT } from 'jose'
import { createPublicKey } from 'node:crypto'
import { CloseCode } from '../../src/protocol/codes.ts'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FieldsyncDevice } from '../../src/client/device.ts'
import { SqliteLocalStore } from '../../src/client/sqlite-store.ts'
import { provider, startTestServer, synced, type TestServer } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { request } from '../helpers/sign-in.ts'
import { AUDIENCE, ISSUER, keyPair, startIdentityProvider, type TestIdentityProvider } from '../helpers/identity-provider.ts'

const cleanups = useCleanups()
let idp: TestIdentityProvider
let s: TestServer
let admin: string

/** Links a user of `t` to an identity at the provider, through the admin API. */
const link = async (t: TestServer, userId: string, externalId: string): Promise<void> => {
  expect((await request(t.server.app, `/api/admin/users/${userId}`, { method: 'PATCH', token: await t.token('avery'), body: { externalId } })).status).toBe(200)
}

beforeAll(async () => {
  idp = await startIdentityProvider()
  s = await startTestServer(idp.env())
  admin = await s.token('avery')
  await link(s, 'u-alice', 'idp|alice')
  await link(s, 'u-erin', 'idp|erin')
})
afterAll(async () => { await s.dispose(); await idp.close() })

const api = (token: string) => request(s.server.app, '/api/receipts', { token })
const now = (): number => Math.floor(Date.now() / 1000)
const enc = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url')

const upgradeStatus = (url: string): Promise<number> => new Promise(resolve => {
  const ws = new WebSocket(url)
  ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate() })
  ws.on('open', () => { resolve(101); ws.close() })
  ws.on('error', () => {})
})

describe('tokens of the identity provider', () => {
  it('are taken when signed with its RS256 or ES256 key, for the user linked to their subject', async () => {
    for (const key of [idp.rsa, idp.ec]) {
      const token = await idp.sign({ sub: 'idp|alice' }, key)
      expect((await api(token)).status).toBe(200)
      // who the server thinks it is: alice's records, not avery's
      expect((await request(s.server.app, '/api/admin/model', { token })).status).toBe(403)
    }
  })

  it('are refused (401) with a wrong issuer or audience, expired, not yet valid, or without an expiry or a subject', async () => {
    const bad = [
      await idp.sign({ sub: 'idp|alice', iss: 'https://evil.test' }),
      await idp.sign({ sub: 'idp|alice', iss: `${ISSUER}/` }),
      await idp.sign({ sub: 'idp|alice', aud: 'another-api' }),
      await idp.sign({ sub: 'idp|alice', aud: [] }),
      await idp.sign({ sub: 'idp|alice', iat: now() - 7200, exp: now() - 3600 }),
      await idp.sign({ sub: 'idp|alice', nbf: now() + 3600 }),
      await new SignJWT({ sub: 'idp|alice', iss: ISSUER, aud: AUDIENCE }).setProtectedHeader({ alg: 'RS256', kid: idp.rsa.kid }).sign(idp.rsa.privateKey),
      await idp.sign({ sub: undefined })
    ]
    for (const token of bad) expect(await api(token)).toMatchObject({ status: 401, body: { error: 'invalid token' } })
  })

  it('are refused for an unknown subject, a disabled user, and after the link is removed (even while cached)', async () => {
    expect(await api(await idp.sign({ sub: 'idp|mallory' }))).toMatchObject({ status: 401, body: { error: 'no user is linked to this identity' } })
    const erin = await idp.sign({ sub: 'idp|erin' })
    expect((await api(erin)).status).toBe(200)
    const patch = (body: unknown) => request(s.server.app, '/api/admin/users/u-erin', { method: 'PATCH', token: admin, body })
    expect((await patch({ disabled: true })).status).toBe(200)
    expect((await api(erin)).status).toBe(401)
    expect((await patch({ disabled: false })).status).toBe(200)
    expect((await api(erin)).status).toBe(200)
    expect((await patch({ externalId: null })).status).toBe(200)
    expect((await api(erin)).status).toBe(401)
    expect((await patch({ externalId: 'idp|erin' })).status).toBe(200)
  })

  it('refuse forged keys and algorithms: unknown kid, a key not in the set, alg none, HS256 with the public key, RSA/EC confusion, PS256', async () => {
    const stranger = await keyPair('RS256', 'rsa-1') // the same kid, another key
    const strangerEc = await keyPair('ES256', 'ec-9')
    const pss = await generateKeyPair('PS256')
    const claims = { sub: 'idp|alice', iss: ISSUER, aud: AUDIENCE, exp: now() + 600 }
    const hmacWith = (secret: Uint8Array, kid: string) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid }).sign(secret)
    const pem = createPublicKey({ key: idp.rsa.publicJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string
    const forged = [
      await idp.sign({ sub: 'idp|alice' }, stranger),
      await idp.sign({ sub: 'idp|alice' }, strangerEc),
      await idp.sign({ sub: 'idp|alice' }, idp.rsa, { kid: 'rsa-404' }),
      `${enc({ alg: 'none', typ: 'JWT' })}.${enc(claims)}.`,
      `${enc({ alg: 'none', kid: idp.rsa.kid })}.${enc(claims)}.`,
      `${enc({ alg: 'NONE' })}.${enc(claims)}.`,
      // the classic confusion: the provider's public key (as published, or as PEM) used as an HMAC secret
      await hmacWith(new TextEncoder().encode(JSON.stringify(idp.rsa.publicJwk)), idp.rsa.kid),
      await hmacWith(new TextEncoder().encode(pem), idp.rsa.kid),
      await hmacWith(Buffer.from(idp.rsa.publicJwk.n!, 'base64url'), idp.rsa.kid),
      // an RS256 token naming the EC key, an ES256 token naming the RSA key
      await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: idp.ec.kid }).sign(idp.rsa.privateKey),
      await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: idp.rsa.kid }).sign(idp.ec.privateKey),
      await new SignJWT(claims).setProtectedHeader({ alg: 'PS256', kid: idp.rsa.kid }).sign(pss.privateKey),
      // a good signature over other claims
      (await idp.sign({ sub: 'idp|erin' })).split('.').map((p, i, all) => i === 1 ? enc({ ...JSON.parse(Buffer.from(all[1], 'base64url').toString()), sub: 'idp|alice' }) : p).join('.')
    ]
    for (const token of forged) {
      expect((await api(token)).status).toBe(401)
      expect(await upgradeStatus(`${s.wsUrl}/account/acc0001?token=${token}`)).toBe(401)
    }
  })

  it('a flood of unknown key ids costs at most one refetch of the key set per 30 s', async () => {
    const t = await startTestServer(idp.env())
    cleanups.push(() => t.dispose())
    await link(t, 'u-alice', 'idp|alice')
    const before = idp.fetches
    expect((await request(t.server.app, '/api/receipts', { token: await idp.sign({ sub: 'idp|alice' }) })).status).toBe(200)
    for (let i = 0; i < 30; i++) {
      expect((await request(t.server.app, '/api/receipts', { token: await idp.sign({ sub: 'idp|alice' }, idp.rsa, { kid: `random-${i}` }) })).status).toBe(401)
    }
    expect(idp.fetches - before).toBeLessThanOrEqual(2)
  })

  it('answers 503 (not 401) while the key set cannot be fetched, and recovers', async () => {
    const t = await startTestServer(idp.env())
    cleanups.push(() => t.dispose())
    await link(t, 'u-alice', 'idp|alice')
    idp.failing = true
    try {
      expect(await request(t.server.app, '/api/receipts', { token: await idp.sign({ sub: 'idp|alice' }) })).toMatchObject({ status: 503, body: { error: 'the identity provider\'s keys could not be fetched; try again' } })
    } finally {
      idp.failing = false
    }
    expect((await request(t.server.app, '/api/receipts', { token: await idp.sign({ sub: 'idp|alice' }) })).status).toBe(200)
  })

  it('map a configured claim (OIDC_USER_CLAIM) instead of the subject', async () => {
    const t = await startTestServer(idp.env({ OIDC_USER_CLAIM: 'email' }))
    cleanups.push(() => t.dispose())
    await link(t, 'u-bob', 'bob@contoso.test')
    expect((await request(t.server.app, '/api/receipts', { token: await idp.sign({ sub: 'idp|someone', email: 'bob@contoso.test' }) })).status).toBe(200)
    expect((await request(t.server.app, '/api/receipts', { token: await idp.sign({ sub: 'bob@contoso.test' }) })).status).toBe(401)
  })

  it('are renewed with the identity provider, not here (400); refused without a provider configured', async () => {
    const token = await idp.sign({ sub: 'idp|alice' })
    expect(await request(s.server.app, '/auth/refresh', { method: 'POST', token })).toMatchObject({ status: 400, body: { error: 'tokens of the identity provider are renewed with the identity provider' } })
    const plain = await startTestServer()
    cleanups.push(() => plain.dispose())
    expect((await request(plain.server.app, '/api/receipts', { token })).status).toBe(401)
  })

  it('the admin API keeps external ids unique (400 naming the field)', async () => {
    expect(await request(s.server.app, '/api/admin/users/u-bob', { method: 'PATCH', token: admin, body: { externalId: 'idp|alice' } })).toMatchObject({ status: 400, body: { field: 'externalId' } })
    expect(await request(s.server.app, '/api/admin/users', { method: 'POST', token: admin, body: { login: 'zed', fullName: 'Zed', businessUnitId: 'bu-contoso', externalId: 'idp|alice' } })).toMatchObject({ status: 400, body: { field: 'externalId' } })
  })
})

describe('over websockets', () => {
  it('sync a record with the real y-websocket client on /sync, and a device SDK over /device, with the provider\'s token', async () => {
    const token = await idp.sign({ sub: 'idp|alice' }, idp.ec)
    const doc = new Y.Doc()
    const p = provider(s.wsUrl, 'account/acc0004', doc, token)
    cleanups.push(() => p.destroy())
    await synced(p)
    expect(doc.getMap('fields').size).toBeGreaterThan(0)
    const dir = mkdtempSync(join(tmpdir(), 'fieldsync-external-'))
    const d = await FieldsyncDevice.open({ url: `ws://127.0.0.1:${s.port}`, token: () => idp.sign({ sub: 'idp|alice' }), store: new SqliteLocalStore(join(dir, 'device.db')), WebSocket: WebSocket as never })
    cleanups.push(async () => { await d.close(); rmSync(dir, { recursive: true, force: true }) })
    await d.sync()
    expect(await d.store.records()).toContain('account/acc0004')
    expect(await upgradeStatus(`ws://127.0.0.1:${s.port}/device?token=${await idp.sign({ sub: 'idp|alice', aud: 'another-api' })}`)).toBe(401)
  })

  it('a socket opened with the provider\'s token closes with 4401 when it expires', async () => {
    const token = await idp.sign({ sub: 'idp|alice', exp: now() + 2 })
    const ws = new WebSocket(`${s.wsUrl}/account/acc0004?token=${token}`)
    cleanups.push(() => ws.terminate())
    ws.on('error', () => {})
    const closed = new Promise<number>(resolve => ws.on('close', code => resolve(code)))
    await new Promise(resolve => ws.on('open', resolve))
    expect(await closed).toBe(CloseCode.tokenExpired)
  })
})
