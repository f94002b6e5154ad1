// A device stores the server's acknowledgements of its edits with its next group commit, not at once
// (sqlite-store.ts): a crash in between loses them. Those edits are then still pending when the device
// starts again, go out again, and the server, which has them, must take them as already had: acknowledged
// again, with nothing added to the record's log, no note twice, no receipt.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { describe, expect, it } from 'vitest'
import { FieldsyncDevice, type SocketLike } from '../../src/client/device.ts'
import { SqliteLocalStore } from '../../src/client/sqlite-store.ts'
import type { LocalStore } from '../../src/client/store.ts'
import type { DocName } from '../../src/ids.ts'
import { startTestServer } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const cleanups = useCleanups()

/** The SQLite store, except that acknowledgements never reach it (as when the process dies before they are committed). */
const forgettingAcks = (file: string): LocalStore => {
  const store = new SqliteLocalStore(file)
  return new Proxy(store, {
    get: (target, key) => key === 'acknowledge'
      ? async () => {}
      : (typeof target[key as keyof SqliteLocalStore] === 'function' ? (target[key as keyof SqliteLocalStore] as (...a: unknown[]) => unknown).bind(target) : target[key as keyof SqliteLocalStore])
  })
}

describe('acknowledgements lost in a crash', () => {
  it('send the edits again at the next start; the server takes them as already had', async () => {
    const s = await startTestServer()
    cleanups.push(() => s.dispose())
    const dir = mkdtempSync(join(tmpdir(), 'fieldsync-lost-acks-'))
    cleanups.push(() => { rmSync(dir, { recursive: true, force: true }) })
    const file = join(dir, 'device.db')
    const open = async (store: LocalStore): Promise<FieldsyncDevice> =>
      await FieldsyncDevice.open({ url: `ws://127.0.0.1:${s.port}`, token: await s.token('alice'), store, WebSocket: WebSocket as unknown as new (url: string) => SocketLike })

    const first = await open(forgettingAcks(file))
    await first.sync()
    const account = (await first.list('account'))[0].record
    await first.update(account, { telephone1: '+47 once' })
    const note = await first.addNote(account, { subject: 'visit', text: 'met the buyer' })
    const task = await first.create('task', { subject: 'call back' })
    await first.sync()
    // The server has all three; the device never stored that it knows.
    const [id, taskId] = [account.split('/')[1], task.split('/')[1]]
    expect(s.projection.row('account', id)?.telephone1).toBe('+47 once')
    expect(s.projection.row('task', taskId)?.subject).toBe('call back')
    const logged = { account: s.stored(account as DocName).length, task: s.stored(task as DocName).length }
    expect(await first.unsyncedCount()).toBe(3)
    await first.close()

    const again = await open(new SqliteLocalStore(file))
    cleanups.push(() => again.close())
    expect(await again.unsyncedCount()).toBe(3)
    await again.sync()
    expect(await again.unsyncedCount()).toBe(0)
    expect(await again.inbox()).toEqual([])
    expect({ account: s.stored(account as DocName).length, task: s.stored(task as DocName).length }).toEqual(logged)
    expect((await again.notes(account)).filter(n => n.id === note).length).toBe(1)
    expect(s.projection.row('account', id)?.telephone1).toBe('+47 once')
  })
})
