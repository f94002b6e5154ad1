// A test server and devices on it (the real SDK over `ws`, a SQLite local store in a temporary folder),
// removed after the test.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { FieldsyncDevice, type SocketLike } from '../../src/client/device.ts'
import { SqliteLocalStore } from '../../src/client/sqlite-store.ts'
import type { Receipt } from '../../src/protocol/receipts.ts'
import { startTestServer, type TestServer } from './server.ts'
import type { Cleanup } from './cleanups.ts'

export const serverFor = async (cleanups: Cleanup[], env: Record<string, string> = {}, dir?: string): Promise<TestServer> => {
  const s = await startTestServer(env, dir)
  cleanups.push(() => s.dispose())
  return s
}

export const deviceFor = async (cleanups: Cleanup[], s: TestServer, login: string, dir = mkdtempSync(join(tmpdir(), 'fieldsync-device-'))): Promise<FieldsyncDevice> => {
  const d = await FieldsyncDevice.open({ url: `ws://127.0.0.1:${s.port}`, token: await s.token(login), store: new SqliteLocalStore(join(dir, 'device.db')), WebSocket: WebSocket as unknown as new (url: string) => SocketLike })
  cleanups.push(async () => { await d.close(); rmSync(dir, { recursive: true, force: true }) })
  return d
}

/** The receipts in a device's inbox. */
export const inboxReceipts = async (d: FieldsyncDevice): Promise<Receipt[]> => (await d.inbox()).map(i => i.receipt as Receipt)

/** Sends raw frames on a /device socket as `login`; resolves with the code the server closes it with. */
export const deviceCloseCode = async (s: TestServer, login: string, frames: Uint8Array[]): Promise<number> => {
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}/device?token=${await s.token(login)}`)
  ws.on('error', () => {})
  await new Promise(resolve => ws.on('open', resolve))
  const closed = new Promise<number>(resolve => ws.on('close', code => resolve(code)))
  for (const f of frames) ws.send(f)
  return closed
}

/** Assigns `record` (`<entity>/<id>`) to `ownerid` over HTTP as `login` (the administrator, avery, by default). */
export const assignAs = async (s: TestServer, record: string, ownerid: string, login = 'avery'): Promise<Response> =>
  fetch(`${s.url}/api/records/${record}/assign`, { method: 'POST', headers: { authorization: `Bearer ${await s.token(login)}`, 'content-type': 'application/json' }, body: JSON.stringify({ ownerid }) })

/** On a new server, alice's and bob's devices, both offline, change one field of alice's account: bob
 * first, alice later (a same-field conflict once both sync). */
export const editedOffline = async (cleanups: Cleanup[]): Promise<{ s: TestServer, alice: FieldsyncDevice, bob: FieldsyncDevice, record: string }> => {
  const s = await serverFor(cleanups)
  const alice = await deviceFor(cleanups, s, 'alice')
  const bob = await deviceFor(cleanups, s, 'bob')
  await alice.sync()
  await bob.sync()
  const record = (await alice.list('account')).find(r => r.values.ownerid === 'systemuser/u-alice')!.record
  if (!(await bob.list('account')).some(r => r.record === record)) throw new Error(`bob does not hold ${record}`)
  alice.disconnect()
  bob.disconnect()
  await bob.update(record, { telephone1: 'bob, earlier' })
  // (The wall clock moves on, so that alice's edit is the later one.)
  await new Promise(resolve => setTimeout(resolve, 5))
  await alice.update(record, { telephone1: 'alice, later' })
  return { s, alice, bob, record }
}

