// The HTTP routes called in process with `app.request()`, as hono's own tests do: statuses and bodies of
// the public pages, sign-in, the record and receipt API, the admin API's validation and the blob API. The
// end-to-end tests drive the same routes over a socket.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import type { Hono } from 'hono'
import { mayAccess } from '../../src/authz/decide.ts'
import { assembleTestServer } from '../helpers/server.ts'

type Assembled = Awaited<ReturnType<typeof assembleTestServer>>
let s: Assembled
let app: Hono
const tokens = new Map<string, string>()

// A small attachment limit, so that "too large" is cheap to reach.
const MAX_ATTACHMENT = 5000
beforeAll(async () => {
  s = await assembleTestServer({ MAX_ATTACHMENT_BYTES: String(MAX_ATTACHMENT) })
  app = s.server.app
  for (const login of ['alice', 'avery']) tokens.set(login, await s.token(login))
})
afterAll(() => s.dispose())

/** A request as `login` (none: no token). */
const call = (path: string, login?: string, init: RequestInit = {}): Promise<Response> => {
  const headers = new Headers(init.headers)
  if (login !== undefined) headers.set('authorization', `Bearer ${tokens.get(login)!}`)
  return Promise.resolve(app.request(path, { ...init, headers }))
}
const json = (body: unknown): RequestInit => ({ method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } })
const answer = async (r: Response): Promise<[number, unknown]> => [r.status, await r.json()]

describe('public routes', () => {
  it('GET /healthz answers ok with the loaded records, and says when the offline scope index is loaded', async () => {
    expect(await answer(await call('/healthz'))).toEqual([200, { ok: true, loadedRecords: expect.any(Number), scopeIndex: expect.stringMatching(/^(loading|loaded)$/) }])
    // The index loads in paced slices after the start: asked until it says so (bounded by the test's timeout).
    let body: { scopeIndex?: string } = {}
    while (body.scopeIndex !== 'loaded') {
      body = await (await call('/healthz')).json() as { scopeIndex?: string }
      if (body.scopeIndex !== 'loaded') await new Promise(resolve => setImmediate(resolve))
    }
    expect(body.scopeIndex).toBe('loaded')
  })

  it('GET /about is the server\'s HTML page, naming the demo users', async () => {
    const r = await call('/about')
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toMatch(/^text\/html/)
    const page = await r.text()
    expect(page).toContain('<code>alice</code>')
    expect(page).toContain('the password <code>demo</code>')
  })

  it('GET /auth/demo-users lists the demo users for the app\'s picker', async () => {
    const [status, body] = await answer(await call('/auth/demo-users'))
    expect(status).toBe(200)
    expect((body as { users: { login: string, name: string }[] }).users).toContainEqual({ login: 'alice', name: 'Alice Adams (sales rep)' })
  })

  it('POST /auth/dev-login gives a demo user a token that the API takes; 400 on a bad body, 404 on an unknown user', async () => {
    const r = await call('/auth/dev-login', undefined, json({ user: 'alice' }))
    expect(r.status).toBe(200)
    const { token, user } = await r.json() as { token: string, user: { login: string } }
    expect(user.login).toBe('alice')
    expect((await app.request('/api/receipts', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
    expect(await answer(await call('/auth/dev-login', undefined, json('not json')))).toEqual([400, { error: 'body must be {"user": "<login>"}' }])
    expect(await answer(await call('/auth/dev-login', undefined, json({ user: 'mallory' })))).toEqual([404, { error: 'no demo user "mallory"' }])
  })
})

describe('/api/records', () => {
  it('needs a valid token of a known user: 401 otherwise', async () => {
    expect(await answer(await call('/api/records/account'))).toEqual([401, { error: 'missing token' }])
    expect(await answer(await app.request('/api/records/account', { headers: { authorization: 'Bearer nonsense' } }))).toEqual([401, { error: 'invalid token' }])
    // A token in the URL is taken by websocket upgrades alone (access logs, proxies and history keep URLs).
    expect(await answer(await app.request(`/api/records/account?token=${tokens.get('avery')!}`))).toEqual([401, { error: 'missing token' }])
    expect((await call('/api/records/account', 'avery')).status).toBe(200)
  })

  it('lists and reads what the caller may read (200); 403 for a record they may not, 404 and 400 for unknown and invalid names', async () => {
    const [status, body] = await answer(await call('/api/records/account?limit=1000', 'avery'))
    expect(status).toBe(200)
    const rows = (body as { rows: { id: string, ownerid: string, owningbusinessunit: string }[] }).rows
    const readable = (r: typeof rows[number]): boolean => mayAccess(s.security.index, 'u-alice', 'read', 'account', { name: `account/${r.id}`, ...r }).allowed
    const mine = rows.find(readable)!
    const other = rows.find(r => !readable(r))!
    expect([mine, other].every(r => r !== undefined)).toBe(true)
    const listed = await call('/api/records/account?limit=1000', 'alice')
    expect(listed.status).toBe(200)
    expect((await listed.json() as { rows: { id: string }[] }).rows.map(r => r.id).sort()).toEqual(rows.filter(readable).map(r => r.id).sort())
    expect(await answer(await call(`/api/records/account/${mine.id}`, 'alice'))).toEqual([200, expect.objectContaining({ id: mine.id })])
    expect((await call(`/api/records/account/${other.id}`, 'alice')).status).toBe(403)
    expect(await answer(await call('/api/records/spaceship', 'alice'))).toEqual([404, { error: 'unknown entity "spaceship"' }])
    expect(await answer(await call('/api/records/account/no-such-record-1', 'alice'))).toEqual([404, { error: 'no account no-such-record-1' }])
    expect(await answer(await call('/api/records/account/bad%20id!', 'alice'))).toEqual([400, { error: 'invalid record id' }])
    expect(await answer(await call('/api/records/account?limit=5000', 'alice'))).toEqual([400, { error: 'limit: expected a whole number from 0 to 1000' }])
  })

  it('answers a bad field of a request body 400, naming the field', async () => {
    const [, body] = await answer(await call('/api/records/account?limit=1', 'avery'))
    const id = (body as { rows: { id: string }[] }).rows[0].id
    expect(await answer(await call(`/api/records/account/${id}/assign`, 'avery', json({ ownerid: 'nobody' }))))
      .toEqual([400, { error: 'ownerid: expected "systemuser/<id>" or "team/<id>"', field: 'ownerid' }])
  })
})

describe('/api/receipts', () => {
  it('lists the caller\'s receipts and dismisses them; 400 on bad paging or body', async () => {
    expect(await answer(await call('/api/receipts', 'alice'))).toEqual([200, { receipts: [] }])
    expect(await answer(await call('/api/receipts?since=-1', 'alice'))).toEqual([400, { error: `since: expected a whole number from 0 to ${Number.MAX_SAFE_INTEGER}` }])
    expect(await answer(await call('/api/receipts/dismiss', 'alice', json({ seqs: [] })))).toEqual([200, { dismissed: 0 }])
    const [status, body] = await answer(await call('/api/receipts/dismiss', 'alice', json({ seqs: [0] })))
    expect(status).toBe(400)
    expect((body as { error: string }).error).toMatch(/^expected \{"seqs": \[receipt seq, …\]\} \(at most 1000\): /)
  })
})

describe('/api/admin', () => {
  it('is for administrators only: 403 for others', async () => {
    expect(await answer(await call('/api/admin/model', 'alice'))).toEqual([403, { error: 'the admin API needs an administrator role' }])
    expect((await call('/api/admin/model', 'avery')).status).toBe(200)
  })

  it('answers invalid input 400 naming the field; a valid change 201 with the new version', async () => {
    const version = s.security.model.version
    const missing = await answer(await call('/api/admin/business-units', 'avery', json({ id: 'bu-west' })))
    expect(missing).toEqual([400, { error: expect.stringMatching(/^name: /), field: 'name' }])
    const parent = await answer(await call('/api/admin/business-units', 'avery', json({ id: 'bu-west', name: 'West', parentId: 'bu-nowhere' })))
    expect(parent).toEqual([400, { error: expect.stringMatching(/^parentId: /), field: 'parentId' }])
    expect(await answer(await call('/api/admin/business-units', 'avery', json('{"id": ')))).toEqual([400, { error: 'body: expected JSON' }])
    expect(s.security.model.version).toBe(version) // nothing refused changed the model
    expect(await answer(await call('/api/admin/business-units', 'avery', json({ id: 'bu-west', name: 'West', parentId: 'bu-contoso' })))).toEqual([201, { version: version + 1 }])
  })
})

describe('/api/blobs', () => {
  const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
  const put = (hash: string, query: string, body: Uint8Array<ArrayBuffer>): Promise<Response> => call(`/api/blobs/${hash}?${query}`, 'alice', { method: 'PUT', body })

  it('names a blob by its sha-256: 400 for another name, 404 for an upload the caller has not started', async () => {
    expect((await call('/api/blobs/not-a-hash', 'alice')).status).toBe(400)
    expect(await answer(await call(`/api/blobs/${'0'.repeat(64)}`, 'alice'))).toEqual([404, { size: null, received: 0, complete: false }])
  })

  it('takes chunks in order: 400 without a size, 409 at another offset, 413 above the limit, 422 for content that is not its hash, 200 when whole', async () => {
    const data = new Uint8Array(3000).map((_, i) => i % 251)
    const hash = sha(data)
    expect(await answer(await put(hash, 'offset=0', data))).toEqual([400, { error: 'size: expected a whole number of bytes' }])
    expect(await answer(await put(hash, `size=${MAX_ATTACHMENT + 1}&offset=0`, data))).toEqual([413, { error: `an attachment may have at most ${MAX_ATTACHMENT} bytes; this one has ${MAX_ATTACHMENT + 1}`, received: null }])
    expect(await answer(await put(hash, 'size=3000&offset=0', data.subarray(0, 1000)))).toEqual([200, expect.objectContaining({ received: 1000, complete: false })])
    expect(await answer(await put(hash, 'size=3000&offset=2000', data.subarray(2000)))).toEqual([409, { error: 'expected offset 1000', received: 1000 }])
    expect(await answer(await put(hash, 'size=3000&offset=1000', data.subarray(1000)))).toEqual([200, expect.objectContaining({ received: 3000, complete: true })])
    const wrong = new Uint8Array(10)
    expect(await answer(await put(sha(new Uint8Array(11)), 'size=10&offset=0', wrong))).toEqual([422, { error: 'the content does not match its sha-256 hash; the upload was discarded', received: 0 }])
  })

  it('serves a note\'s attachment only by a valid name: 404 for an unknown entity, 400 for an invalid id', async () => {
    expect((await call('/api/records/spaceship/x1/notes/n1/attachment', 'alice')).status).toBe(404)
    expect((await call('/api/records/account/bad%20id!/notes/n1/attachment', 'alice')).status).toBe(400)
  })
})
