// Y.decodeUpdate, read in one loop: the same structs (Yjs's own Item, GC and Skip objects, content and all)
// and the same delete set. Every update the server takes in is decoded once, by the check step, and those
// structs are then integrated as they are (src/projection/integrate-decoded.ts). Yjs reads an update's
// structs through a generator (an iterator result per struct) and every string through a TextDecoder
// call; a record's keys and values are short ASCII strings, read here from their bytes (others through
// lib0, as Yjs reads them). Content holding a shared type or a subdocument (a note's map) is left to
// Y.decodeUpdate.

import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import { asciiAt } from '../docs/state-of-update.ts'

export type DecodedUpdate = ReturnType<typeof Y.decodeUpdate>
type DeleteItem = DecodedUpdate['ds']['clients'] extends Map<number, Array<infer D>> ? D : never

/** Thrown inside the loop for content this reader leaves to Yjs. */
const LEAVE_TO_YJS = new Error('content left to Y.decodeUpdate')

/** lib0's readVarString, with a short ASCII string made from its bytes (the same string). */
const readString = (d: decoding.Decoder): string => {
  const at = d.pos
  const len = decoding.readVarUint(d)
  const start = d.pos
  const end = start + len
  if (len <= 64 && end <= d.arr.length) {
    const s = asciiAt(d.arr, start, end)
    if (s !== null) { d.pos = end; return s }
  }
  d.pos = at
  return decoding.readVarString(d)
}

/** lib0's readAny, with its string case read by readString. */
const readAny = (d: decoding.Decoder): unknown => {
  if (d.arr[d.pos] !== 119) return decoding.readAny(d)
  d.pos++
  return readString(d)
}

/** Yjs's readItemContent (its contentRefs) for the kinds of content read here. */
const readContent = (d: Y.UpdateDecoderV1, ref: number): Y.Item['content'] => {
  switch (ref) {
    case 1: return new Y.ContentDeleted(d.readLen())
    case 2: {
      const len = d.readLen()
      const cs: unknown[] = []
      for (let i = 0; i < len; i++) {
        const c = d.readString()
        cs.push(c === 'undefined' ? undefined : JSON.parse(c))
      }
      return new Y.ContentJSON(cs)
    }
    case 3: return new Y.ContentBinary(d.readBuf())
    case 4: return new Y.ContentString(readString(d.restDecoder))
    case 5: return new Y.ContentEmbed(d.readJSON() as object)
    case 6: return new Y.ContentFormat(d.readKey(), d.readJSON() as object)
    case 8: {
      const len = d.readLen()
      const cs: unknown[] = []
      for (let i = 0; i < len; i++) cs.push(readAny(d.restDecoder))
      return new Y.ContentAny(cs)
    }
    case 7: case 9: throw LEAVE_TO_YJS
    // (Yjs's table has no reader past 10: it fails calling undefined.)
    default: throw new Error(`unknown content ref ${ref}`)
  }
}

/** What Y.decodeUpdate(update) gives (a format v1 update); malformed bytes throw, as there. */
export const decodeUpdate = (update: Uint8Array): DecodedUpdate => {
  try {
    return read(update)
  } catch (e) {
    if (e === LEAVE_TO_YJS) return Y.decodeUpdate(update)
    throw e
  }
}

const read = (update: Uint8Array): DecodedUpdate => {
  const d = new Y.UpdateDecoderV1(decoding.createDecoder(update))
  const rest = d.restDecoder
  const structs: Array<Y.Item | Y.GC | Y.Skip> = []
  for (let groups = decoding.readVarUint(rest); groups > 0; groups--) {
    const count = decoding.readVarUint(rest)
    const client = decoding.readVarUint(rest)
    let clock = decoding.readVarUint(rest)
    for (let i = 0; i < count; i++) {
      const info = decoding.readUint8(rest)
      if (info === 10) {
        const len = decoding.readVarUint(rest)
        structs.push(new Y.Skip(Y.createID(client, clock), len))
        clock += len
      } else if ((info & 0x1f) !== 0) {
        // (Read in Yjs's order: origin, right origin, parent, key, content.)
        const cantCopyParentInfo = (info & 0xc0) === 0
        const origin = (info & 0x80) !== 0 ? d.readLeftID() : null
        const rightOrigin = (info & 0x40) !== 0 ? d.readRightID() : null
        // A root's name stays a string, as in Y.decodeUpdate (whose type says an id or a type).
        const parent = cantCopyParentInfo ? (d.readParentInfo() ? readString(rest) : d.readLeftID()) : null
        const parentSub = cantCopyParentInfo && (info & 0x20) !== 0 ? readString(rest) : null
        const item = new Y.Item(Y.createID(client, clock), null, origin, null, rightOrigin, parent as unknown as Y.ID | null, parentSub, readContent(d, info & 0x1f))
        structs.push(item)
        clock += item.length
      } else {
        const len = d.readLen()
        structs.push(new Y.GC(Y.createID(client, clock), len))
        clock += len
      }
    }
  }
  const ds = Y.createDeleteSet()
  for (let clients = decoding.readVarUint(rest); clients > 0; clients--) {
    const client = decoding.readVarUint(rest)
    const n = decoding.readVarUint(rest)
    if (n === 0) continue
    let list = ds.clients.get(client)
    if (list === undefined) { list = []; ds.clients.set(client, list) }
    // (Yjs's DeleteItem holds these two numbers and nothing else; its class is not exported. Format v1
    // writes them as plain varuints.)
    for (let i = 0; i < n; i++) list.push({ clock: decoding.readVarUint(rest), len: decoding.readVarUint(rest) } as DeleteItem)
  }
  return { structs, ds }
}
