// Several Yjs updates kept as one log entry: each as a length-prefixed byte array (lib0 encoding). A
// batch's updates are stored this way: one row instead of one per update, and no Yjs merge (which would
// cost more than storing them).

import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'

export const encodePackedUpdates = (updates: readonly Uint8Array[]): Uint8Array => {
  const e = encoding.createEncoder()
  for (const u of updates) encoding.writeVarUint8Array(e, u)
  return encoding.toUint8Array(e)
}

/** `parts`: how many updates the entry holds (stored beside it). Throws on bytes that do not hold them. */
export const decodePackedUpdates = (data: Uint8Array, parts: number): Uint8Array[] => {
  const d = decoding.createDecoder(data)
  const out: Uint8Array[] = []
  for (let i = 0; i < parts; i++) out.push(decoding.readVarUint8Array(d))
  if (decoding.hasContent(d)) throw new Error(`a packed log entry holds more than its ${parts} updates`)
  return out
}

/** The updates of one log row (`parts` of them packed, or one as it is). */
export const updatesOf = (r: { data: Uint8Array, parts: number }): Uint8Array[] => {
  const bytes = new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength)
  return r.parts === 1 ? [bytes] : decodePackedUpdates(bytes, r.parts)
}

/** Updates as one (an empty update when there are none). */
export const oneUpdate = (parts: readonly Uint8Array[]): Uint8Array => parts.length === 1 ? parts[0] : Y.mergeUpdates([...parts])

/** Each of `docs`' state, in their order, from log rows of several documents (each document's in order). */
export const statesOf = (docs: readonly string[], rows: Iterable<{ doc: string, data: Uint8Array, parts: number }>): Uint8Array[] => {
  const parts = new Map<string, Uint8Array[]>()
  for (const r of rows) {
    const list = parts.get(r.doc)
    if (list === undefined) parts.set(r.doc, updatesOf(r)); else list.push(...updatesOf(r))
  }
  return docs.map(d => oneUpdate(parts.get(d) ?? []))
}
