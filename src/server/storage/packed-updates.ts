// Several Yjs updates kept as one log entry: each as a length-prefixed byte array (lib0 encoding). A
// batch's updates are stored this way: one row instead of one per update, and no Yjs merge (which would
// cost more than storing them).

import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'

/** The bytes of a varuint (lib0's writeVarUint: 7 bits a byte). */
const varUintLength = (n: number): number => {
  let len = 1
  while (n > 0x7f) { n = Math.floor(n / 128); len++ }
  return len
}

/** lib0's writeVarUint8Array for each update, into one array of the size they take (every commit of a
 * batch packs its updates: no buffer grown and copied as an encoder would). */
export const encodePackedUpdates = (updates: readonly Uint8Array[]): Uint8Array => {
  let size = 0
  for (const u of updates) size += varUintLength(u.length) + u.length
  const out = new Uint8Array(size)
  let pos = 0
  for (const u of updates) {
    let n = u.length
    while (n > 0x7f) { out[pos++] = 0x80 | (n & 0x7f); n = Math.floor(n / 128) }
    out[pos++] = n
    out.set(u, pos)
    pos += u.length
  }
  return out
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
