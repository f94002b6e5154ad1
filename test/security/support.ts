// What the attack tests share: a server, raw /sync sockets that speak the protocol by hand (an attacker
// writes whatever bytes it likes), and the records each demo user owns.

import * as Y from 'yjs'
import WebSocket from 'ws'
import * as decoding from 'lib0/decoding'
import type { WebsocketProvider } from 'y-websocket'
import { MessageType, SyncStep } from '../../src/protocol/codes.ts'
import { encodeSyncStep1, encodeSyncUpdate } from '../../src/protocol/sync-messages.ts'
import { DEVICE_PROTOCOL_VERSION, DeviceMessage, encodeDeviceFrame, readDeviceFrame, type DeviceFrame } from '../../src/protocol/device-frames.ts'
import type { Receipt } from '../../src/protocol/receipts.ts'
import type { DocName } from '../../src/ids.ts'
import { provider, startTestServer, synced, until, type TestServer } from '../helpers/server.ts'
import type { Cleanup } from '../helpers/cleanups.ts'

export const startServer = async (cleanups: Cleanup[], env: Record<string, string> = {}): Promise<TestServer> => {
  const s = await startTestServer(env)
  cleanups.push(() => s.dispose())
  return s
}

/** An id of a demo record of `entity` owned by `userId`. */
export const ownedBy = (s: TestServer, entity: string, userId: string): DocName => {
  const row = s.projection.rows(entity, { all: true, businessUnits: new Set(), owners: new Set(), records: new Set() }, 1000, 0).find(r => r.ownerid === `systemuser/${userId}`)
  if (row === undefined) throw new Error(`no ${entity} owned by ${userId}`)
  return `${entity}/${String(row.id)}` as DocName
}

/** A y-websocket provider, destroyed after the test. */
export const open = async (cleanups: Cleanup[], s: TestServer, name: string, login: string, doc = new Y.Doc(), params: Record<string, string> = {}): Promise<{ doc: Y.Doc, p: WebsocketProvider }> => {
  const p = provider(s.wsUrl, name, doc, await s.token(login), params)
  cleanups.push(() => p.destroy())
  await synced(p)
  return { doc, p }
}

export interface Raw {
  readonly ws: WebSocket
  readonly messages: Uint8Array[]
  readonly closed: Promise<{ code: number, reason: string }>
  /** the first message (received so far or later) that matches */
  received (match: (m: Uint8Array) => boolean): Promise<Uint8Array>
  /** receipts pushed so far (with ?receipts=1) */
  receipts (): Receipt[]
  /** sends an update as a y-websocket sync update message */
  update (u: Uint8Array): void
}

/** A raw /sync socket of `name` as `login`, once the server's opening step 1 arrived. */
export const raw = async (cleanups: Cleanup[], s: TestServer, name: string, login: string, query = 'receipts=1'): Promise<Raw> => {
  const self = await rawAt(cleanups, `${s.wsUrl}/${name}?token=${await s.token(login)}&${query}`)
  await self.received(m => m[0] === MessageType.sync && m[1] === SyncStep.step1)
  return self
}

/** A raw websocket on `url` that keeps every message it receives; rejects when the upgrade is refused. */
export const rawAt = async (cleanups: Cleanup[], url: string): Promise<Raw> => {
  const ws = new WebSocket(url)
  const closed = new Promise<{ code: number, reason: string }>(resolve => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  ws.on('error', () => {})
  const messages: Uint8Array[] = []
  const waiters: { match: (m: Uint8Array) => boolean, resolve: (m: Uint8Array) => void }[] = []
  ws.on('message', (data: Buffer) => {
    const m = new Uint8Array(data)
    messages.push(m)
    for (const w of waiters.splice(0)) { if (w.match(m)) w.resolve(m); else waiters.push(w) }
  })
  await new Promise<void>((resolve, reject) => { ws.on('open', () => resolve()); ws.on('unexpected-response', () => reject(new Error('upgrade refused'))) })
  cleanups.push(() => ws.terminate())
  const self: Raw = {
    ws, messages, closed,
    received: match => {
      const seen = messages.find(match)
      return seen !== undefined ? Promise.resolve(seen) : new Promise(resolve => waiters.push({ match, resolve }))
    },
    receipts: () => messages.filter(m => m[0] === MessageType.receipts).flatMap(m => {
      const d = decoding.createDecoder(m)
      decoding.readVarUint(d)
      return JSON.parse(decoding.readVarString(d)) as Receipt[]
    }),
    update: u => ws.send(encodeSyncUpdate(SyncStep.update, u))
  }
  return self
}

/** The sync updates a raw socket received, applied to `doc`. */
export const applyReceived = (doc: Y.Doc, messages: readonly Uint8Array[]): void => {
  for (const m of messages) {
    const d = decoding.createDecoder(m)
    if (decoding.readVarUint(d) !== MessageType.sync) continue
    const step = decoding.readVarUint(d)
    if (step === SyncStep.step1) continue
    Y.applyUpdate(doc, decoding.readVarUint8Array(d))
  }
}

/** A copy of what the server holds of a record now, as a device would have it after syncing. */
export const copyOf = (s: TestServer, name: DocName, clientID?: number): Y.Doc => {
  const doc = new Y.Doc()
  const room = s.server.rooms.get(name)
  // A room still loading holds nothing yet: what storage holds is what the server holds.
  if (room.doc.store.clients.size > 0) Y.applyUpdate(doc, Y.encodeStateAsUpdate(room.doc))
  else for (const u of s.stored(name)) Y.applyUpdate(doc, u)
  // Set after applying: Yjs gives a document a new client id when a remote update advanced its own.
  if (clientID !== undefined) doc.clientID = clientID
  return doc
}

/** The update `f` makes on `doc`. */
export const edit = (doc: Y.Doc, f: (doc: Y.Doc) => void): Uint8Array => {
  const sv = Y.encodeStateVector(doc)
  f(doc)
  return Y.encodeStateAsUpdate(doc, sv)
}

/** A shared type's content read from its items, whatever class the document gave it: live map entries
 * (nested types read the same way), live list content, and formatting marks. */
const contentOf = (t: Y.AbstractType<unknown>): unknown => {
  const value = (v: unknown): unknown => v instanceof Y.AbstractType ? contentOf(v) : v
  const map: Record<string, unknown> = {}
  for (const [k, item] of [...t._map].sort(([a], [b]) => a.localeCompare(b))) if (!item.deleted) map[k] = value(item.content.getContent()[item.length - 1])
  const list: unknown[] = []
  for (let item = t._start; item !== null; item = item.right) {
    if (item.deleted || !item.countable && !(item.content instanceof Y.ContentFormat)) continue
    if (item.content instanceof Y.ContentFormat) list.push({ format: item.content.key, value: item.content.value })
    else if (item.content instanceof Y.ContentString) list.push(item.content.str)
    else list.push(...item.content.getContent().map(value))
  }
  const out: Record<string, unknown> = {}
  if (Object.keys(map).length > 0) out.map = map
  if (list.length > 0) out.list = list.every(x => typeof x === 'string') ? list.join('') : list
  return out
}

/** The whole content of a record document, formatting and embeds included, for exact comparisons
 * (an empty root type is no content: a document gets one by merely naming it). */
export const exactly = (doc: Y.Doc): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [name, t] of [...doc.share].sort(([a], [b]) => a.localeCompare(b))) {
    const c = contentOf(t as Y.AbstractType<unknown>) as Record<string, unknown>
    if (Object.keys(c).length > 0) out[name] = c
  }
  return out
}

export const TIME = '2026-11-27T12:00:00.000Z'

/** The ids of the demo records of `entity` owned by `userId`. */
export const idsOwnedBy = (s: TestServer, entity: string, userId: string): string[] => {
  const ids = s.projection.rows(entity, { all: true, businessUnits: new Set(), owners: new Set(), records: new Set() }, 1000, 0)
    .filter(r => r.ownerid === `systemuser/${userId}`).map(r => String(r.id))
  if (ids.length === 0) throw new Error(`no ${entity} owned by ${userId}`)
  return ids
}

/** A JSON request to the HTTP API as `login`. */
export const api = async (s: TestServer, login: string, path: string, init: RequestInit = {}): Promise<Response> =>
  fetch(`${s.url}${path}`, { ...init, headers: { authorization: `Bearer ${await s.token(login)}`, 'content-type': 'application/json', ...init.headers } })

/** A synced y-websocket document of `name` as `login`, closed after the test. */
export const docOf = async (cleanups: Cleanup[], s: TestServer, name: string, login: string): Promise<Y.Doc> => (await open(cleanups, s, name, login)).doc

/** A principal's receipts about one record. */
export const receiptsOn = (s: TestServer, userId: string, record: string): Receipt[] => s.storage.receipts(userId, 0, 10_000).filter(r => r.record === record)

export interface RawDevice {
  readonly ws: WebSocket
  /** every /device frame received so far */
  readonly frames: DeviceFrame[]
  send (frame: DeviceFrame): void
}

/** A raw /device socket of `login` that has said hello as device `deviceId`, with `cursor` (nothing else yet). */
export const rawDevice = async (cleanups: Cleanup[], s: TestServer, login: string, deviceId: string, cursor = 0): Promise<RawDevice> => {
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}/device?token=${await s.token(login)}`)
  ws.on('error', () => {})
  cleanups.push(() => ws.terminate())
  const frames: DeviceFrame[] = []
  ws.on('message', (data: Buffer) => { const d = decoding.createDecoder(new Uint8Array(data)); while (decoding.hasContent(d)) frames.push(readDeviceFrame(d)) })
  await new Promise(resolve => ws.on('open', resolve))
  const send = (frame: DeviceFrame): void => ws.send(encodeDeviceFrame(frame))
  send({ type: DeviceMessage.hello, version: DEVICE_PROTOCOL_VERSION, deviceId, cursor, privilegeVersion: 0, metadataDigest: 0 })
  return { ws, frames, send }
}

/** Sends `update` on `sock` and waits until the server has committed it (its answer to a later step 1). */
export const sendCommitted = async (sock: Raw, update: Uint8Array): Promise<void> => {
  sock.update(update)
  const before = sock.messages.length
  sock.ws.send(encodeSyncStep1(new Y.Doc()))
  await sock.received(m => sock.messages.indexOf(m) >= before && m[0] === MessageType.sync && m[1] === SyncStep.step2)
}

/** Sends `update` on `r` and waits until the server answered (a sync reply queued behind it) and the record settled. */
export const sendSettled = async (s: TestServer, name: DocName, r: Raw, update: Uint8Array): Promise<void> => {
  const from = r.messages.length
  r.update(update)
  r.ws.send(new Uint8Array([0, SyncStep.step1, 1, 0]))
  await until(() => r.messages.slice(from).some(m => m[0] === 0 && m[1] === SyncStep.step2) || r.ws.readyState >= 2, 'the reply')
  await s.server.rooms.get(name).settled()
}
