// A record leaves a device's scope while the device edits it: the evict frame and the edit cross. The
// device must end up holding every record it holds whole (never an update without the state it builds
// on) and the edit must be on the server or in the inbox. Real server, real device SDK; the device's
// socket holds incoming frames back on request, so the two orders are reproduced exactly.

import { describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import WebSocket from 'ws'
import { FieldsyncDevice, type SocketLike } from '../../src/client/device.ts'
import { SqliteLocalStore } from '../../src/client/sqlite-store.ts'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { readRecord, setField, type RecordState } from '../../src/docs/record.ts'
import * as admin from '../../src/authz/admin.ts'
import { demoProfiles } from '../../src/server/demo.ts'
import { DeviceMessage, readDeviceFrame, type DeviceFrame } from '../../src/protocol/device-frames.ts'
import { until, type TestServer } from '../helpers/server.ts'
import { serverFor } from '../helpers/device.ts'
import { idsOwnedBy } from '../security/support.ts'
import { useCleanups } from '../helpers/cleanups.ts'

const cleanups = useCleanups()
const catalog = buildCatalog()
const task = catalog.entities.get('task')!

/** Incoming messages of a device's sockets: every frame seen, and delivery held back while paused. */
class Gate {
  readonly frames: DeviceFrame[] = []
  private paused = false
  private held: (() => void)[] = []

  pause (): void { this.paused = true }

  /** Delivers what was held, in order, synchronously; later messages go straight through. */
  release (): void {
    this.paused = false
    for (const deliver of this.held.splice(0)) deliver()
  }

  arrived (data: unknown, deliver: () => void): void {
    const d = decoding.createDecoder(new Uint8Array(data as ArrayBuffer))
    while (decoding.hasContent(d)) this.frames.push(readDeviceFrame(d))
    if (this.paused) this.held.push(deliver)
    else deliver()
  }
}

/** A `ws` socket whose incoming messages pass through `gate`. */
const gatedSocket = (gate: Gate): new (url: string) => SocketLike => class implements SocketLike {
  private readonly ws: WebSocket
  onopen: ((e: unknown) => void) | null = null
  onmessage: ((e: { data: unknown }) => void) | null = null
  onclose: ((e: { code: number, reason: string }) => void) | null = null
  onerror: ((e: unknown) => void) | null = null

  constructor (url: string) {
    this.ws = new WebSocket(url)
    this.ws.binaryType = 'arraybuffer'
    this.ws.onopen = e => this.onopen?.(e)
    this.ws.onmessage = e => gate.arrived(e.data, () => this.onmessage?.({ data: e.data }))
    this.ws.onclose = e => this.onclose?.({ code: e.code, reason: e.reason })
    this.ws.onerror = e => this.onerror?.(e)
  }

  get binaryType (): string { return this.ws.binaryType }
  set binaryType (t: string) { this.ws.binaryType = t as WebSocket['binaryType'] }
  get readyState (): number { return this.ws.readyState }
  send (data: Uint8Array): void { this.ws.send(data) }
  close (code?: number, reason?: string): void { this.ws.close(code, reason) }
}

const gatedDevice = async (s: TestServer, login: string, gate: Gate): Promise<FieldsyncDevice> => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldsync-evict-race-'))
  const d = await FieldsyncDevice.open({ url: `ws://127.0.0.1:${s.port}`, token: await s.token(login), store: new SqliteLocalStore(join(dir, 'device.db')), WebSocket: gatedSocket(gate) })
  cleanups.push(async () => { await d.close(); rmSync(dir, { recursive: true, force: true }) })
  return d
}

/** The sales profile with or without its `task` entity (tasks leave, or come back into, every sales device's scope). */
const salesTasks = (s: TestServer, withTasks: boolean): void => {
  const [sales] = demoProfiles(catalog) as { entities: Record<string, unknown> }[]
  const entities = { ...sales.entities }
  if (!withTasks) delete entities.task
  s.security.change(m => admin.putProfile(m, catalog, { ...sales, entities }))
}

const serverState = async (s: TestServer, name: string): Promise<RecordState> => {
  const doc = new Y.Doc()
  for (const u of (await s.storage.load(name as never)).updates) Y.applyUpdate(doc, u.data)
  return readRecord(doc)
}

const isFrame = (type: number, record?: string) => (f: DeviceFrame): boolean => f.type === type && (record === undefined || (f as { record?: string }).record === record)

/** Alice's device, synced, with one of her tasks open; tasks then leave her scope, its frames held back. */
const evictHeldBack = async (): Promise<{ s: TestServer, gate: Gate, alice: FieldsyncDevice, name: string, doc: Y.Doc }> => {
  const s = await serverFor(cleanups)
  const gate = new Gate()
  const alice = await gatedDevice(s, 'alice', gate)
  await alice.sync()
  const name = `task/${idsOwnedBy(s, 'task', 'u-alice')[0]}`
  expect(await alice.store.records()).toContain(name)
  const doc = await alice.open(name)
  gate.pause()
  const from = gate.frames.length
  salesTasks(s, false)
  await until(() => gate.frames.slice(from).some(isFrame(DeviceMessage.evict, name)) && gate.frames.slice(from).some(isFrame(DeviceMessage.done)), 'the cycle evicting the task arrived (held back)')
  return { s, gate, alice, name, doc }
}

/**
 * Tasks back in the sales profile, and the server's own cycle (which sends them) received. The device's
 * next sync then says it holds what the server thinks it holds, so nothing starts over from scratch.
 */
const tasksBack = async (s: TestServer, gate: Gate): Promise<void> => {
  const from = gate.frames.length
  salesTasks(s, true)
  await until(() => gate.frames.slice(from).some(isFrame(DeviceMessage.done)), 'the cycle bringing tasks back')
}

/** Resolves when the device has evicted `name`. */
const evicted = (d: FieldsyncDevice, name: string): Promise<void> => new Promise(resolve => {
  const on = (record: string): void => { if (record === name) { d.off('evicted', on); resolve() } }
  d.on('evicted', on)
})

describe('a record evicted while the device edits it', () => {
  it('an edit made after the evict frame arrived, before the device applied it, goes to the inbox: the device never holds a part of the record', async () => {
    const { s, gate, alice, name, doc } = await evictHeldBack()
    // The evict is queued on the device first, then the edit (the form was open on the record).
    gate.release()
    setField(doc, task, 'subject', 'edited as it left', { by: 'u-alice', at: new Date().toISOString() })
    // A later edit of another record, through the API (it waits for the device's earlier work), and its
    // acknowledgement: whatever the device sent about the task, the server has decided it.
    const fence = `account/${idsOwnedBy(s, 'account', 'u-alice')[0]}`
    const from = gate.frames.length
    await alice.update(fence, { telephone1: '+47 fence' })
    await until(() => gate.frames.slice(from).some(isFrame(DeviceMessage.ack, fence)), 'the fence edit acknowledged')
    // Back in scope before the device syncs again: the server's own cycle sends the task.
    await tasksBack(s, gate)
    await alice.sync()
    const back = await alice.open(name)
    expect(back.store.pendingStructs).toBeNull()
    expect(readRecord(back)).toEqual(await serverState(s, name))
    const inbox = (await alice.inbox()).filter(i => i.receipt.record === name && i.receipt.reason === 'evicted')
    expect(inbox.map(i => (i.receipt.attempted as RecordState).fields.subject)).toEqual(['edited as it left'])
    expect(readRecord(back).fields.subject).not.toBe('edited as it left')
  })

  it('an edit pushed after the server evicted the record, applied there before the device saw the evict: back in scope, the record comes whole', async () => {
    const { s, gate, alice, name, doc } = await evictHeldBack()
    // The device has not seen the evict: its edit goes out live, and the server integrates it
    // (alice may still write her task; the profile only decides what her device holds).
    const from = gate.frames.length
    setField(doc, task, 'subject', 'edited as it left', { by: 'u-alice', at: new Date().toISOString() })
    await until(() => gate.frames.slice(from).some(isFrame(DeviceMessage.ack, name)), 'the edit acknowledged (held back)')
    expect((await serverState(s, name)).fields.subject).toBe('edited as it left')
    // The evict removes the record (its edit, acknowledged only after, goes to the inbox as well).
    const gone = evicted(alice, name)
    gate.release()
    await gone
    expect(await alice.store.records()).not.toContain(name)
    // Back in scope before the device syncs again: the server's own cycle sends the task.
    await tasksBack(s, gate)
    await alice.sync()
    expect(await alice.store.records()).toContain(name)
    const back = await alice.open(name)
    expect(back.store.pendingStructs).toBeNull()
    expect(readRecord(back)).toEqual(await serverState(s, name))
  })
})
