// A device restarted between edits (a phone that closes the app, a browser tab reloaded) opens its records
// in new Y.Docs, each with a new random Yjs client id: every session that edits a record binds another
// client id to the user there, and the server accepts at most MAX_CLIENT_IDS_PER_RECORD (1000) per user and
// record. Past that, the device's pending edit of the record closes its /device socket (4413) at every
// connect, so the device syncs nothing, of any record, ever again (and the user's other devices may not
// edit that record either). Here the limit is 3 so that four honest sessions reach it.

import { describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { FieldsyncDevice, type SocketLike } from '../../src/client/device.ts'
import { SqliteLocalStore } from '../../src/client/sqlite-store.ts'
import { serverFor } from '../helpers/device.ts'
import type { TestServer } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const cleanups = useCleanups()

/** A device over a store in its own folder that can be closed and opened again over the same store. */
const restartable = async (s: TestServer, login: string): Promise<{ restart: () => Promise<FieldsyncDevice> }> => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldsync-restart-'))
  const open = async (): Promise<FieldsyncDevice> => FieldsyncDevice.open({ url: `ws://127.0.0.1:${s.port}`, token: await s.token(login), store: new SqliteLocalStore(join(dir, 'device.db')), WebSocket: WebSocket as unknown as new (url: string) => SocketLike })
  let d: FieldsyncDevice | null = null
  cleanups.push(async () => { await d?.close(); rmSync(dir, { recursive: true, force: true }) })
  return { restart: async () => { await d?.close(); d = null; d = await open(); return d } }
}

/** The sync's outcome, or 'no answer' after 10 s. */
const syncOutcome = (d: FieldsyncDevice): Promise<string> => {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    d.sync().then(() => 'synced', (e: Error) => `failed: ${e.message}`),
    new Promise<string>(resolve => { timer = setTimeout(() => resolve('no answer'), 10_000) })
  ]).finally(() => clearTimeout(timer))
}

describe('a device restarted between edits of one record', () => {
  it.fails('keeps syncing after more restarts than MAX_CLIENT_IDS_PER_RECORD, that record and others', async () => {
    const s = await serverFor(cleanups, { MAX_CLIENT_IDS_PER_RECORD: '3' })
    const device = await restartable(s, 'alice')
    const first = await device.restart()
    expect(await syncOutcome(first)).toBe('synced')
    const [record, other] = (await first.list('account')).filter(r => r.values.ownerid === 'systemuser/u-alice').map(r => r.record)
    const row = (r: string): unknown => s.projection.row('account', r.split('/')[1])?.telephone1
    for (let session = 1; session <= 4; session++) {
      const d = await device.restart()
      await d.update(record, { telephone1: `session ${session}` })
      // (Another record, edited only in the last session: its edit is the device's first there.)
      if (session === 4) await d.update(other, { telephone1: 'another record' })
      expect(await syncOutcome(d), `session ${session}`).toBe('synced')
      expect(row(record)).toBe(`session ${session}`)
    }
    expect(row(other)).toBe('another record')
  })
})
