// What checking and deciding an update costs must grow with its size, not with its square: a frame is at
// most a megabyte, but the event loop is everyone's. Two lookups were scans, found by hand-crafting updates:
//
// - the check step finds, for each item of an update whose parent (or origin) is another struct of the same
//   update, that struct, and it scanned the other client's structs one by one. An update whose one client
//   holds many GC structs (two bytes each) and whose other client holds as many items parented on the last
//   of them: 64,000 such pairs (832 KB) held the event loop for about 15 s. Any user who may open a record
//   (erin, who may write nothing, opens every one) could send one frame after another. The structs of one
//   client are in clock order: a lookup is a binary search.
// - deciding whether the transaction deleted any of the update's own structs scanned the transaction's
//   deletions of that client for each struct. alice, on her own account, deleting every other character of a
//   90,000-item memo and typing a character in each gap (45,000 of each, one frame) held it for seconds.
//   Each client's deletions are sorted once and searched.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { encodeSyncStep1, encodeSyncUpdate } from '../../src/protocol/sync-messages.ts'
import { MessageType, SyncStep } from '../../src/protocol/codes.ts'
import { startServerProcess } from '../helpers/process.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { applyReceived, rawAt, type Raw } from './support.ts'

const cleanups = useCleanups()

/** An update (format v1) of `n` GC structs of client `b`, then `n` items of client `a` whose parent is b's
 * last struct (each item a one-value list entry); ~13 bytes a pair. */
const craft = (n: number, a: number, b: number): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 2)
  encoding.writeVarUint(e, n); encoding.writeVarUint(e, b); encoding.writeVarUint(e, 0)
  for (let i = 0; i < n; i++) { encoding.writeUint8(e, 0); encoding.writeVarUint(e, 1) }
  encoding.writeVarUint(e, n); encoding.writeVarUint(e, a); encoding.writeVarUint(e, 0)
  for (let i = 0; i < n; i++) {
    // info 8: content "any", no origins, parent given: an id (0), b's last clock; one value, true (120)
    encoding.writeUint8(e, 8); encoding.writeVarUint(e, 0); encoding.writeVarUint(e, b); encoding.writeVarUint(e, n - 1)
    encoding.writeVarUint(e, 1); encoding.writeUint8(e, 120)
  }
  encoding.writeVarUint(e, 0) // no deletions
  return encoding.toUint8Array(e)
}

interface Harness {
  readonly base: string
  /** a raw /sync socket of `login` on `record`, once the server's step 1 arrived */
  open (login: string, record: string): Promise<Raw>
}

/** A server process of its own: while it works, this test's event loop is free to ask it things. */
const serverProcess = async (): Promise<Harness> => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldsync-structs-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const server = await startServerProcess({ DATA_DIR: dir, CUSTOM_ENTITIES: '' })
  cleanups.push(() => server.kill('SIGKILL'))
  const base = `http://127.0.0.1:${server.port}`
  return {
    base,
    open: async (login, record) => {
      const r = await fetch(`${base}/auth/dev-login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: login }) })
      const { token } = await r.json() as { token: string }
      const sock = await rawAt(cleanups, `ws://127.0.0.1:${server.port}/sync/${record}?token=${token}`)
      await sock.received(m => m[0] === MessageType.sync && m[1] === SyncStep.step1)
      return sock
    }
  }
}

/** Sends `frame` (flushed to the socket), then asks the server how it is three times, each answer due
 * within 5 s (the first may come before the frame is read; the next ones cannot). */
const answersMeanwhile = async (h: Harness, sock: Raw, frame: Uint8Array): Promise<void> => {
  await new Promise<void>((resolve, reject) => sock.ws.send(frame, err => err == null ? resolve() : reject(err)))
  for (let i = 0; i < 3; i++) {
    const health = await fetch(`${h.base}/healthz`, { signal: AbortSignal.timeout(5000) })
    expect(health.status).toBe(200)
  }
}

/** Sends `update` and waits until the server has committed it (its answer to a step 1 sent after it). */
const committed = async (sock: Raw, update: Uint8Array): Promise<void> => {
  const from = sock.messages.length
  sock.ws.send(encodeSyncUpdate(SyncStep.update, update))
  sock.ws.send(encodeSyncStep1(new Y.Doc()))
  await sock.received(m => sock.messages.indexOf(m) >= from && m[0] === MessageType.sync && m[1] === SyncStep.step2)
}

describe('an update costs its size, not its square', () => {
  it('items parented on the last of another client\'s many structs: the server goes on answering while it checks them', async () => {
    const h = await serverProcess()
    const erin = await h.open('erin', 'account/acc0001')
    const update = craft(64_000, 0x7100001, 0x7100002)
    expect(update.length).toBeLessThan(1024 * 1024)
    await answersMeanwhile(h, erin, encodeSyncUpdate(SyncStep.update, update))
    expect(erin.ws.readyState).toBe(1)
  }, 120_000)

  it('many deletions and insertions of one client in one update: the server goes on answering while it decides them', async () => {
    const h = await serverProcess()
    const rows = await (await fetch(`${h.base}/api/records/account?limit=1000`, {
      headers: { authorization: `Bearer ${(await (await fetch(`${h.base}/auth/dev-login`, { method: 'POST', body: '{"user":"alice"}' })).json() as { token: string }).token}` }
    })).json() as { rows: { id: string, ownerid: string }[] }
    const record = `account/${rows.rows.find(r => r.ownerid === 'systemuser/u-alice')!.id}`
    const alice = await h.open('alice', record)
    // alice's copy of her account
    const from = alice.messages.length
    alice.ws.send(encodeSyncStep1(new Y.Doc()))
    await alice.received(m => alice.messages.indexOf(m) >= from && m[0] === MessageType.sync && m[1] === SyncStep.step2)
    const doc = new Y.Doc()
    applyReceived(doc, alice.messages)
    doc.clientID = 0x7100003
    const text = doc.getText('memo:description')
    const edit = (f: () => void): Uint8Array => { const sv = Y.encodeStateVector(doc); doc.transact(f); return Y.encodeStateAsUpdate(doc, sv) }
    // 90,000 characters typed each before the last: 90,000 items (three frames).
    for (let part = 0; part < 3; part++) await committed(alice, edit(() => { for (let i = 0; i < 30_000; i++) text.insert(0, 'a') }))
    // Every other character deleted, and one typed in each gap: 45,000 deletions and 45,000 new items.
    const update = edit(() => { for (let i = 89_998; i >= 0; i -= 2) { text.delete(i, 1); text.insert(i, 'b') } })
    expect(update.length).toBeLessThan(1024 * 1024)
    await answersMeanwhile(h, alice, encodeSyncUpdate(SyncStep.update, update))
    expect(alice.ws.readyState).toBe(1)
  }, 180_000)
})
