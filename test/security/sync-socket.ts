// Raw /sync sockets for attack tests: frames as an attacker writes them, what came back, how it closed.

import WebSocket from 'ws'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { MessageType } from '../../src/protocol/codes.ts'
import type { Cleanup } from '../helpers/cleanups.ts'

export interface RawSync {
  ws: WebSocket
  closed: Promise<{ code: number, reason: string }>
  /** bytes received so far */
  readonly bytes: number
  /** resolves with the first message (received so far or later) that matches */
  received (match: (m: Uint8Array) => boolean): Promise<Uint8Array>
  /** stops reading: the server's sends pile up in its buffers (and the kernel's) */
  pause (): void
  resume (): void
}

export const rawSync = async (url: string, cleanups: Cleanup[]): Promise<RawSync> => {
  const ws = new WebSocket(url)
  const closed = new Promise<{ code: number, reason: string }>(resolve => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  ws.on('error', () => {})
  const messages: Uint8Array[] = []
  let bytes = 0
  const waiters: { match: (m: Uint8Array) => boolean, resolve: (m: Uint8Array) => void }[] = []
  ws.on('message', (data: Buffer) => {
    const m = new Uint8Array(data)
    bytes += m.length
    if (m[0] !== MessageType.awareness || messages.length < 1000) messages.push(m)
    for (const w of waiters.splice(0)) { if (w.match(m)) w.resolve(m); else waiters.push(w) }
  })
  const received = (match: (m: Uint8Array) => boolean): Promise<Uint8Array> => {
    const seen = messages.find(match)
    return seen !== undefined ? Promise.resolve(seen) : new Promise(resolve => waiters.push({ match, resolve }))
  }
  await new Promise<void>((resolve, reject) => { ws.on('open', () => resolve()); ws.on('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`))) })
  cleanups.push(() => ws.terminate())
  const socket = (): { pause (): void, resume (): void } => (ws as unknown as { _socket: { pause (): void, resume (): void } })._socket
  return { ws, closed, received, get bytes () { return bytes }, pause: () => socket().pause(), resume: () => socket().resume() }
}

export interface AwarenessEntry { client: number, clock: number, state: unknown }

/** A y-protocols awareness message (type 1) carrying `entries`. */
export const awarenessFrame = (entries: readonly AwarenessEntry[]): Uint8Array => {
  const u = encoding.createEncoder()
  encoding.writeVarUint(u, entries.length)
  for (const x of entries) {
    encoding.writeVarUint(u, x.client)
    encoding.writeVarUint(u, x.clock)
    encoding.writeVarString(u, JSON.stringify(x.state))
  }
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, MessageType.awareness)
  encoding.writeVarUint8Array(e, encoding.toUint8Array(u))
  return encoding.toUint8Array(e)
}

export const queryAwarenessFrame = (): Uint8Array => new Uint8Array([MessageType.queryAwareness])

/** The entries of an awareness message, or null for any other message. */
export const awarenessEntries = (m: Uint8Array): AwarenessEntry[] | null => {
  const d = decoding.createDecoder(m)
  if (decoding.readVarUint(d) !== MessageType.awareness) return null
  const u = decoding.createDecoder(decoding.readVarUint8Array(d))
  const n = decoding.readVarUint(u)
  const out: AwarenessEntry[] = []
  for (let i = 0; i < n; i++) out.push({ client: decoding.readVarUint(u), clock: decoding.readVarUint(u), state: JSON.parse(decoding.readVarString(u)) })
  return out
}

/** Resolves with `p`, or rejects after `ms` naming what it waited for. */
export const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms) })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}
