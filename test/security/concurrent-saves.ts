// What the attacks on the server's kept-as-sent shortcuts share (src/projection/project.ts keeps an update as
// the bytes it came in when it lost nothing but its author's own save stamps): two saves of one record made
// from the same copy, the one sent second losing Yjs's tie on modifiedby/modifiedon; and the places a value
// must not be found afterwards, deleted or not: the stored log's bytes, a replica that keeps deleted content,
// a replica that never got the winning save.

import * as Y from 'yjs'
import { expect } from 'vitest'
import type { DocName } from '../../src/ids.ts'
import type { Receipt } from '../../src/protocol/receipts.ts'
import { until, type TestServer } from '../helpers/server.ts'
import type { Cleanup } from '../helpers/cleanups.ts'
import { open, receiptsOn, sendSettled } from './support.ts'

/** Client ids: a save under WINS beats one under LOSES on Yjs's tie (the higher id stays), both above the server's range. */
export const WINS = 0x7ff00000
export const LOSES = 0x00400000

export const iso = (ms: number): string => new Date(ms).toISOString()

/** Sends `update` on `r` and waits until the server answered and settled (support.ts). */
export const send = sendSettled

/** The record's stored log, one update per row. */
export const storedRows = async (s: TestServer, name: DocName): Promise<Uint8Array[]> => (await s.storage.load(name)).updates.map(u => u.data)

/** Whether any of `updates` spells `text` in its bytes (Yjs writes every string as UTF-8, whatever the
 * content kind, live or deleted, placed or not). */
export const spells = (updates: readonly Uint8Array[], text: string): boolean =>
  updates.some(u => Buffer.from(u.buffer, u.byteOffset, u.byteLength).includes(text))

/** Every value the items of `updates` carry as they are encoded (before any document places or collects them). */
export const encodedValues = (updates: readonly Uint8Array[]): unknown[] =>
  updates.flatMap(u => Y.decodeUpdate(u).structs.flatMap(s => s instanceof Y.Item ? s.content.getContent() : []))

/** Every value any item of `doc` holds, deleted ones included (for a document that collects nothing). */
export const heldValues = (doc: Y.Doc): unknown[] => {
  const out: unknown[] = []
  for (const structs of doc.store.clients.values()) {
    for (const s of structs) if (s instanceof Y.Item) out.push(...s.content.getContent())
  }
  return out
}

/** A document that keeps deleted content, built from `updates` in order. */
export const keeping = (updates: readonly Uint8Array[]): Y.Doc => {
  const doc = new Y.Doc({ gc: false })
  for (const u of updates) Y.applyUpdate(doc, u)
  return doc
}

/** A replica that keeps deleted content, synced with the real y-websocket client as `login`. */
export const keepingReplica = async (cleanups: Cleanup[], s: TestServer, name: string, login: string): Promise<Y.Doc> =>
  (await open(cleanups, s, name, login, new Y.Doc({ gc: false }))).doc

/** `text` is nowhere: not in the stored log's bytes, not in a replica that keeps deleted content. */
export const nowhere = (text: string, rows: readonly Uint8Array[], replicas: readonly Y.Doc[], what: string): void => {
  expect(spells(rows, text), `${what}: the stored log spells ${text}`).toBe(false)
  for (const r of replicas) expect(heldValues(r).some(v => typeof v === 'string' && v.includes(text)), `${what}: a replica holds ${text}`).toBe(false)
}

/** The receipts a principal got about `name` since it had `from` of them, as what they say (not when). */
export const receiptsSince = (s: TestServer, userId: string, name: string, from: number): unknown[] =>
  receiptsOn(s, userId, name).slice(from).map((r: Receipt) => [r.change, r.field, r.attempted, r.reason])
