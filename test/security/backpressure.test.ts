// Issue 9, class 7: every socket has a bounded send buffer; presence is bounded in size, client ids per
// connection and queries.

import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { addNote, readRecord, setField } from '../../src/docs/record.ts'
import { CloseCode } from '../../src/protocol/codes.ts'
import { DEVICE_PROTOCOL_VERSION, DeviceMessage, encodeDeviceFrame } from '../../src/protocol/device-frames.ts'
import { SyncStep } from '../../src/protocol/codes.ts'
import { provider, startTestServer, synced, until, type TestServer } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { deviceFor } from '../helpers/device.ts'
import { awarenessEntries, awarenessFrame, queryAwarenessFrame, rawSync, within, type RawSync } from './sync-socket.ts'

const account = buildCatalog().entities.get('account')!
const cleanups = useCleanups()
const RECORD = 'account/acc0004'
const KiB = 1024
const MiB = 1024 * KiB

const start = async (env: Record<string, string> = {}): Promise<TestServer> => {
  const s = await startTestServer(env)
  cleanups.push(() => s.dispose())
  return s
}

const raw = async (s: TestServer, login: string): Promise<RawSync> => rawSync(`${s.wsUrl}/${RECORD}?token=${await s.token(login)}`, cleanups)

const open = async (s: TestServer, login: string, doc = new Y.Doc()) => {
  const p = provider(s.wsUrl, RECORD, doc, await s.token(login))
  cleanups.push(() => p.destroy())
  await synced(p)
  return p
}

/** Every update sent so far has been committed and the record holds `n` notes: a peer opened now gets the
 * record in one reply, not as a stream of published updates (which a small send buffer would refuse). */
const notesCommitted = (s: TestServer, n: number): Promise<void> => until(() => {
  const room = s.server.rooms.find(RECORD as never)
  return room !== undefined && !room.busy && Object.keys(readRecord(room.doc, account).notes).length >= n
}, `${n} notes committed`)

/** The server's side of each TCP connection accepted from now on (the test server runs in this process),
 * by the client's port. */
const acceptedSockets = (): ReadonlyMap<number, Socket> => {
  const byPort = new Map<number, Socket>()
  const accepted = (m: unknown): void => { const { socket } = m as { socket: Socket }; if (socket.remotePort !== undefined) byPort.set(socket.remotePort, socket) }
  subscribe('net.server.socket', accepted)
  cleanups.push(() => { unsubscribe('net.server.socket', accepted) })
  return byPort
}

/** The server's websocket on `socket` (ws keeps it on the TCP socket under a symbol named 'websocket'). */
const serverWebSocket = (socket: Socket | undefined): WebSocket | undefined => {
  if (socket === undefined) return undefined
  const key = Object.getOwnPropertySymbols(socket).find(k => k.description === 'websocket')
  return key === undefined ? undefined : (socket as unknown as Record<symbol, WebSocket | undefined>)[key]
}

/** A presence state of about `bytes` of JSON. */
const stateOf = (bytes: number, clock: number): unknown => ({ pad: 'x'.repeat(bytes - 40), clock })

/** The observer has processed every presence message sent before `sender`'s marker. */
const marker = async (observer: ReturnType<typeof provider>, sender: RawSync, client: number): Promise<void> => {
  sender.ws.send(awarenessFrame([{ client, clock: 1, state: { marker: true } }]))
  await until(() => observer.awareness.getStates().has(client), `marker ${client}`)
}

describe('presence limits (issue 9, class 7)', () => {
  it('refuses a presence state larger than 8 KiB and closes its sender with 4413', async () => {
    const s = await start()
    const observer = await open(s, 'avery')
    const big = await raw(s, 'alice')
    big.ws.send(awarenessFrame([{ client: 4001, clock: 1, state: stateOf(9 * KiB, 1) }]))
    expect((await within(big.closed, 5000, 'the sender closed')).code).toBe(CloseCode.quotaExceeded)
    await marker(observer, await raw(s, 'nina'), 4999)
    expect(observer.awareness.getStates().has(4001)).toBe(false)
    // at the limit is fine
    const fits = await raw(s, 'alice')
    fits.ws.send(awarenessFrame([{ client: 4002, clock: 1, state: stateOf(8 * KiB - 200, 1) }]))
    await until(() => observer.awareness.getStates().has(4002), 'a state within the limit relayed')
  })

  it('lets a connection introduce at most 4 awareness client ids', async () => {
    const s = await start()
    const observer = await open(s, 'avery')
    const many = await raw(s, 'alice')
    many.ws.send(awarenessFrame([1, 2, 3, 4].map(i => ({ client: 5000 + i, clock: 1, state: { i } }))))
    await until(() => observer.awareness.getStates().has(5004), 'four ids relayed')
    many.ws.send(awarenessFrame([{ client: 5005, clock: 1, state: { i: 5 } }]))
    expect((await within(many.closed, 5000, 'the sender closed')).code).toBe(CloseCode.quotaExceeded)
    await marker(observer, await raw(s, 'nina'), 5999)
    expect(observer.awareness.getStates().has(5005)).toBe(false)
  })

  it('rate-limits presence queries with 4429', async () => {
    const s = await start()
    const q = await raw(s, 'alice')
    for (let i = 0; i < 100; i++) q.ws.send(queryAwarenessFrame())
    expect((await within(q.closed, 5000, 'the querier closed')).code).toBe(CloseCode.rateLimited)
  })

  it('closes a client that stops reading while asking for presence, keeping what it is owed bounded', async () => {
    const s = await start()
    // Four full presence states in the record: every answer to a query is ~32 KiB.
    const filler = await raw(s, 'nina')
    filler.ws.send(awarenessFrame([1, 2, 3, 4].map(i => ({ client: 6000 + i, clock: 1, state: stateOf(8 * KiB - 100, 1) }))))
    const reader = await raw(s, 'avery')
    await reader.received(m => awarenessEntries(m)?.some(e => e.client === 6004) === true)
    const attacker = await raw(s, 'alice')
    attacker.pause()
    for (let i = 0; i < 400; i++) attacker.ws.send(queryAwarenessFrame()) // ~13 MB of answers if all were sent
    await new Promise<void>(resolve => attacker.ws.send(queryAwarenessFrame(), () => resolve()))
    // Whatever the server did, it did it by now for the frames above: the other reader still gets served.
    const other = new Y.Doc()
    await open(s, 'avery', other)
    attacker.resume()
    const { code } = await within(attacker.closed, 10_000, 'the attacker closed')
    expect([CloseCode.rateLimited, CloseCode.slowConsumer]).toContain(code)
    expect(attacker.bytes).toBeLessThan(2 * MiB)
  })
})

describe('bounded send buffers (issue 9, class 7)', () => {
  it('closes a /sync socket that stops reading with 4408; the record and its other peers carry on', async () => {
    // (A flood of presence updates is what fills the paused socket here: not limited for this test.)
    const s = await start({ MAX_SEND_BUFFER_BYTES: String(MiB), PRESENCE_UPDATES_BURST: '1000000' })
    const readerDoc = new Y.Doc()
    const reader = await open(s, 'nina', readerDoc)
    const writerDoc = new Y.Doc()
    const writer = await open(s, 'alice', writerDoc)
    // The slow client shows a presence state: when the server drops it, the others see it go.
    const slow = await raw(s, 'avery')
    slow.ws.send(awarenessFrame([{ client: 7777, clock: 1, state: { slow: true } }]))
    await until(() => reader.awareness.getStates().has(7777), 'the slow client\'s presence')
    slow.pause()
    // A peer updates its presence, four states of ~8 KiB each time; each goes to every peer (the paused
    // one too) until the server gives up on the paused one.
    const flood = await raw(s, 'erin')
    const broadcast: number[] = [0] // bytes of every flood message the server sent each peer, by round
    flood.ws.on('message', (m: Buffer) => { if (awarenessEntries(new Uint8Array(m))?.[0]?.client === 7001) broadcast.push(broadcast[broadcast.length - 1] + m.length) })
    const round = async (n: number): Promise<void> => {
      flood.ws.send(awarenessFrame([1, 2, 3, 4].map(i => ({ client: 7000 + i, clock: n, state: stateOf(8 * KiB - 100, n) }))))
      if (n % 10 === 0) await until(() => broadcast.length > n, `echo of round ${n}`)
    }
    let n = 0
    while (reader.awareness.getStates().has(7777)) {
      if (++n > 3000) throw new Error('the paused socket was never closed (~100 MB sent to it)')
      await round(n)
    }
    const closedBy = n
    // Nothing more is queued for it, while the others still get everything.
    for (let i = 0; i < 100; i++) await round(++n)
    await until(() => broadcast.length > n, 'the last echo')
    setField(writerDoc, account, 'telephone1', '+47 1234', { by: 'u-alice', at: new Date().toISOString() })
    await until(() => readRecord(readerDoc, account).fields.telephone1 === '+47 1234', 'the other peer gets the write', [readerDoc])
    expect(writer.wsconnected && reader.wsconnected).toBe(true)
    expect(reader.awareness.getStates().get(7001)?.clock).toBe(n)
    slow.resume()
    const { code } = await within(slow.closed, 10_000, 'the slow socket closed')
    expect(code).toBe(CloseCode.slowConsumer)
    expect(slow.bytes).toBeLessThan(broadcast[closedBy] + 64 * KiB)
    expect(flood.ws.readyState).toBe(WebSocket.OPEN)
  })

  it('closes a /device socket that stops reading with 4408', async () => {
    const s = await start({ MAX_SEND_BUFFER_BYTES: String(MiB) })
    // A large record (six notes of 100,000 characters): every request for its state is answered whole.
    const doc = new Y.Doc()
    const p = await open(s, 'avery', doc)
    for (let i = 0; i < 6; i++) addNote(doc, account, `big${i}`, { subject: 'big', text: 'y'.repeat(100_000) }, { by: 'u-avery', at: new Date().toISOString() })
    await notesCommitted(s, 6)
    const check = new Y.Doc()
    const q = await open(s, 'avery', check)
    await until(() => Object.keys(readRecord(check, account).notes).length >= 6, 'the large notes committed', [check])
    p.destroy(); q.destroy()
    const serverSide = acceptedSockets()
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/device?token=${await s.token('avery')}`)
    cleanups.push(() => ws.terminate())
    ws.on('error', () => {})
    let bytes = 0
    ws.on('message', (m: Buffer) => { bytes += m.length })
    const closed = new Promise<number>(resolve => ws.on('close', code => resolve(code)))
    await new Promise(resolve => ws.on('open', resolve))
    const socket = (ws as unknown as { _socket: { pause (): void, resume (): void } })._socket
    socket.pause()
    ws.send(encodeDeviceFrame({ type: DeviceMessage.hello, version: DEVICE_PROTOCOL_VERSION, deviceId: 'slow-device-1', cursor: 0, privilegeVersion: 0, metadataDigest: 0 }))
    const ask = encodeDeviceFrame({ type: DeviceMessage.sync, record: RECORD, step: SyncStep.step1, payload: Y.encodeStateVector(new Y.Doc()) })
    for (let i = 0; i < 80; i++) ws.send(ask) // ~48 MB of answers if all were sent
    await new Promise<void>(resolve => ws.send(ask, () => resolve()))
    // The client reads nothing until the server has given up on it (once the kernel's buffers are full and
    // more than the limit waits, its next answer closes the socket), however fast the store answers.
    const local = (socket as unknown as { localPort: number }).localPort
    await until(() => (serverWebSocket(serverSide.get(local))?.readyState ?? WebSocket.OPEN) > WebSocket.OPEN, 'the server closing the paused device\'s socket')
    // the server answers in order; a fresh device socket is served meanwhile
    const other = new WebSocket(`ws://127.0.0.1:${s.port}/device?token=${await s.token('avery')}`)
    cleanups.push(() => other.terminate())
    await new Promise(resolve => other.on('open', resolve))
    other.send(encodeDeviceFrame({ type: DeviceMessage.hello, version: DEVICE_PROTOCOL_VERSION, deviceId: 'fast-device-1', cursor: 0, privilegeVersion: 0, metadataDigest: 0 }))
    other.send(ask)
    await new Promise(resolve => other.once('message', resolve))
    socket.resume()
    expect(await within(closed, 20_000, 'the slow device closed')).toBe(CloseCode.slowConsumer)
    expect(bytes).toBeLessThan(30 * MiB)
  })
})

describe('a device that reads (issue 9, class 7)', () => {
  it('sends a device cycle larger than the send buffer (one record of ~600 KB) to a device that reads, without closing it', async () => {
    const s = await start({ MAX_SEND_BUFFER_BYTES: String(64 * KiB) })
    // One record of alice's scope grows to ~600 KB (six notes of 100,000 characters).
    const doc = new Y.Doc()
    const p = await open(s, 'alice', doc)
    for (let i = 0; i < 6; i++) addNote(doc, account, `big${i}`, { subject: 'big', text: 'z'.repeat(100_000) }, { by: 'u-alice', at: new Date().toISOString() })
    await notesCommitted(s, 6)
    const check = new Y.Doc()
    const q = await open(s, 'nina', check)
    await until(() => Object.keys(readRecord(check, account).notes).length >= 6, 'the large notes committed', [check])
    p.destroy(); q.destroy()
    const d = await deviceFor(cleanups, s, 'alice')
    let bytes = 0
    d.on('progress', (p: { bytes: number }) => { bytes = p.bytes })
    await within(d.sync(), 30_000, 'the first sync')
    expect(bytes).toBeGreaterThan(600_000)
    expect(await d.notes(RECORD)).toHaveLength(6)
  })
})
