// The Yjs client ids a device keeps across sessions (src/client/writer-id.ts): one per store, writer slot
// and user; a second opener of the same store never shares one; a killed holder lets go of its slot; the
// answer to the server's sync step 1 carries only stored edits; evicting a record retires the id.

import { describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import { SqliteLocalStore } from '../../src/client/sqlite-store.ts'
import { WRITER_SLOTS, WriterIds } from '../../src/client/writer-id.ts'
import { Replica } from '../../src/client/replica.ts'
import type { LocalStore, PendingCommand } from '../../src/client/store.ts'
import { readRecord } from '../../src/docs/record.ts'
import { spawnUntil } from '../../tools/spawn.ts'
import { ROOT } from '../helpers/process.ts'
import { assignAs, deviceFor, serverFor } from '../helpers/device.ts'
import { idsOwnedBy } from '../security/support.ts'
import type { TestServer } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const cleanups = useCleanups()

const folder = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldsync-writers-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A store over `file`, closed after the test (closing twice is harmless). */
const storeAt = (file: string, synchronous: 'full' | 'normal' = 'full'): SqliteLocalStore => {
  const s = new SqliteLocalStore(file, { synchronous })
  cleanups.push(() => s.close())
  return s
}

/** A session over `file`: its slot and alice's and bob's ids. */
const session = async (store: LocalStore): Promise<{ slot: number | null, alice: number, bob: number }> => {
  const w = await WriterIds.claim(store)
  return { slot: w.slot, alice: await w.idFor('u-alice'), bob: await w.idFor('u-bob') }
}

describe('writer slots of a SQLite store', () => {
  it('keeps one id per user across sessions; a second opener of the same store gets another slot and other ids; past the slots, fresh ids kept nowhere', async () => {
    const file = join(folder(), 'device.db')
    const first = storeAt(file)
    const a = await session(first)
    expect(a.slot).toBe(0)
    expect(a.alice).not.toBe(a.bob)
    // Every other opener while the first is open: the other slots, then none.
    const others = []
    for (let i = 1; i <= WRITER_SLOTS; i++) others.push(await session(storeAt(file)))
    expect(others.map(o => o.slot)).toEqual([1, 2, 3, null])
    const ids = [a, ...others].flatMap(o => [o.alice, o.bob])
    expect(new Set(ids).size).toBe(ids.length)
    // Restarted: the same slot and the same ids. The slotless session's ids were not kept.
    await first.close()
    expect(await session(storeAt(file))).toEqual(a)
    const slotless = others[WRITER_SLOTS - 1]
    const again = await session(storeAt(file))
    expect(again.slot).toBe(null)
    expect([again.alice, again.bob]).not.toContain(slotless.alice)
  })

  it('a holder killed with SIGKILL lets go of its slot at once: a full-sync store keeps its ids, a normal-sync one forgets them (its last commits may be lost)', async () => {
    for (const synchronous of ['full', 'normal'] as const) {
      const file = join(folder(), 'device.db')
      const before = await session(storeAt(file, synchronous)) // a clean first session
      const close = storeAt(file, synchronous)
      await close.close()
      const child = await spawnUntil({
        command: process.execPath, args: ['--import', 'tsx', 'test/client/fixtures/hold-writer-slot.ts', file, synchronous],
        cwd: ROOT, env: { ...process.env }, ready: /holding (\{.*\})\n/
      })
      cleanups.push(() => child.kill('SIGKILL'))
      const held = JSON.parse(child.match[1]) as { slot: number, id: number }
      // (the first session's store is still open in this process and holds slot 0)
      expect(held.slot).toBe(1)
      const beside = await session(storeAt(file, synchronous))
      expect(beside.slot, synchronous).toBe(2)
      await child.kill('SIGKILL')
      const after = await session(storeAt(file, synchronous))
      expect(after.slot, synchronous).toBe(1)
      if (synchronous === 'full') expect(after.alice).toBe(held.id)
      else expect(after.alice).not.toBe(held.id)
      expect(after.alice).not.toBe(before.alice)
    }
  })

  it('destroy() removes the slots\' lock files with the store', async () => {
    const dir = folder()
    const s = storeAt(join(dir, 'device.db'))
    await session(s)
    await s.destroy()
    const { readdirSync } = await import('node:fs')
    expect(readdirSync(dir)).toEqual([])
  })
})

/** A store whose addPending waits until `open()` (a slow disk). */
const slowPending = (inner: LocalStore): LocalStore & { open: () => void } => {
  let open!: () => void
  const gate = new Promise<void>(resolve => { open = resolve })
  const slow = Object.create(inner) as LocalStore & { open: () => void }
  slow.addPending = async (record: string, update: Uint8Array, command?: PendingCommand) => { await gate; return inner.addPending(record, update, command) }
  slow.open = open
  return slow
}

describe('the answer to the server\'s sync step 1', () => {
  it('carries an edit only once it is stored (a kept id must never have items out that the store lacks)', async () => {
    const store = slowPending(storeAt(join(folder(), 'device.db')))
    const replica = await Replica.load(store, () => {})
    const doc = await replica.open('account/a1')
    doc.getMap('fields').set('name', 'not stored yet')
    let answer: Uint8Array | undefined
    const asked = replica.stateFor('account/a1', Y.encodeStateVector(new Y.Doc())).then(a => { answer = a })
    // Everything else the device does meanwhile (reads, commits) goes on; the answer waits for the edit.
    for (let i = 0; i < 5; i++) { await store.commit(); await new Promise(resolve => setImmediate(resolve)) }
    expect(answer).toBeUndefined()
    store.open()
    await asked
    const copy = new Y.Doc()
    Y.applyUpdate(copy, answer!)
    expect(copy.getMap('fields').get('name')).toBe('not stored yet')
    expect((await store.pending()).map(p => p.record)).toEqual(['account/a1'])
    await replica.close()
  })
})

/** Assigns `record` to `owner` as the administrator (alice loses read access to what goes to carol, of another business unit). */
const assign = async (s: TestServer, record: string, owner: string): Promise<void> => { expect((await assignAs(s, record, `systemuser/${owner}`)).status).toBe(200) }

describe('a record evicted after the device wrote in it', () => {
  it('is written under another id when edited before it comes back: the edit is not taken for the device\'s earlier one (same id and clock), and device and server converge', async () => {
    const s = await serverFor(cleanups)
    const alice = await deviceFor(cleanups, s, 'alice')
    await alice.sync()
    const [name, other] = idsOwnedBy(s, 'account', 'u-alice').map(id => `account/${id}`)
    await alice.update(name, { telephone1: 'before it left' })
    await alice.sync()
    const kept = (await alice.open(name)).clientID
    expect((await alice.open(other)).clientID).toBe(kept)
    await assign(s, name, 'u-carol')
    await alice.sync()
    expect(await alice.store.records()).not.toContain(name)
    // The app writes into the document `open` gives for the account it no longer holds (a form left open on
    // it): an empty document, so under the kept id its item would get a clock the server already has from
    // 'before it left', and the server would take it for that one, sent again (the replicas never converge).
    alice.disconnect()
    const empty = await alice.open(name)
    empty.getMap('fields').set('telephone1', 'after it left')
    expect(empty.clientID).not.toBe(kept)
    expect((await alice.open(other)).clientID).toBe(empty.clientID)
    await assign(s, name, 'u-alice')
    await alice.sync()
    await alice.refresh(name)
    const server = new Y.Doc()
    for (const u of (await s.storage.load(name as never)).updates) Y.applyUpdate(server, u.data)
    expect(Y.getState(server.store, empty.clientID)).toBeGreaterThan(0)
    const device = await alice.open(name)
    expect(Y.encodeStateVector(device)).toEqual(Y.encodeStateVector(server))
    expect(readRecord(device)).toEqual(readRecord(server))
    expect(await alice.unsyncedCount()).toBe(0)
  })

  it('a record evicted without items of the device\'s id keeps the id', async () => {
    const s = await serverFor(cleanups)
    const alice = await deviceFor(cleanups, s, 'alice')
    await alice.sync()
    const [name, other] = idsOwnedBy(s, 'account', 'u-alice').map(id => `account/${id}`)
    const kept = (await alice.open(other)).clientID
    await assign(s, name, 'u-carol')
    await alice.sync()
    expect(await alice.store.records()).not.toContain(name)
    expect((await alice.open(other)).clientID).toBe(kept)
  })
})
