// Seeded malformed-but-plausible y-websocket frames for bench/malformed: each kind is what a fuzzing
// or hostile client sends; most do not decode, some decode and are refused, a few are harmless.

import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as prng from 'lib0/prng'

export const FrameKinds = ['truncated', 'random-after-header', 'unknown-ids', 'struct-soup', 'huge-length', 'unknown-type', 'awareness-garbage'] as const
export type FrameKind = typeof FrameKinds[number]

export interface Frame { readonly kind: FrameKind, readonly bytes: Uint8Array }

const message = (write: (e: encoding.Encoder) => void): Uint8Array => {
  const e = encoding.createEncoder()
  write(e)
  return encoding.toUint8Array(e)
}

const syncMessage = (step: number, payload: Uint8Array): Uint8Array =>
  message(e => { encoding.writeVarUint(e, 0); encoding.writeVarUint(e, step); encoding.writeVarUint8Array(e, payload) })

const awarenessMessage = (inner: Uint8Array): Uint8Array =>
  message(e => { encoding.writeVarUint(e, 1); encoding.writeVarUint8Array(e, inner) })

/** A plausible client id: above the server's low range, like a Y.Doc's random one. */
const clientId = (gen: prng.PRNG): number => prng.uint32(gen, 1 << 21, 0xfffffff0)

/** A real update a device could send: field sets, a memo splice, a note (raw Yjs, on a fresh doc). */
const realUpdate = (gen: prng.PRNG): { doc: Y.Doc, update: Uint8Array } => {
  const doc = new Y.Doc()
  doc.clientID = clientId(gen)
  doc.transact(() => {
    const fields = doc.getMap('fields')
    for (let i = prng.int31(gen, 1, 4); i > 0; i--) fields.set(prng.oneOf(gen, ['name', 'telephone1', 'numberofemployees', 'websiteurl', 'revenue']), prng.bool(gen) ? prng.word(gen, 1, 30) : prng.int31(gen, 0, 1e6))
    if (prng.bool(gen)) doc.getText('memo:description').insert(0, prng.word(gen, 1, 60))
    if (prng.bool(gen)) {
      const note = new Y.Map<string>()
      doc.getMap('notes').set(`n${prng.int31(gen, 1, 1e6)}`, note)
      note.set('subject', prng.word(gen, 1, 20))
      note.set('text', prng.word(gen, 0, 80))
    }
    const meta = doc.getMap('meta')
    meta.set('modifiedby', 'u-avery')
    meta.set('modifiedon', '2026-11-27T10:00:00.000Z')
  })
  return { doc, update: Y.encodeStateAsUpdate(doc) }
}

/** An update that decodes but whose clocks start after state the server never got, or whose
 * items sit next to characters the server never saw. */
const unknownIdsUpdate = (gen: prng.PRNG): Uint8Array => {
  const { doc } = realUpdate(gen)
  if (prng.bool(gen)) {
    const sv = Y.encodeStateVector(doc)
    doc.getMap('fields').set('name', prng.word(gen, 1, 20))
    return Y.encodeStateAsUpdate(doc, sv) // the clock gap: the first part was never sent
  }
  const text = doc.getText('memo:description')
  text.insert(0, prng.word(gen, 4, 20))
  const other = new Y.Doc()
  other.clientID = clientId(gen)
  Y.applyUpdate(other, Y.encodeStateAsUpdate(doc))
  const sv = Y.encodeStateVector(other)
  other.getText('memo:description').insert(prng.int31(gen, 1, 3), prng.word(gen, 1, 10))
  if (prng.bool(gen)) other.getText('memo:description').delete(0, 2) // a delete set over unknown items
  return Y.encodeStateAsUpdate(other, sv)
}

const corrupt = (gen: prng.PRNG, bytes: Uint8Array): Uint8Array => {
  const b = Array.from(bytes)
  for (let i = prng.int31(gen, 1, 4); i > 0; i--) {
    const at = prng.int31(gen, 0, Math.max(0, b.length - 1))
    switch (prng.int31(gen, 0, 3)) {
      case 0: b[at] = prng.uint32(gen, 0, 255); break // flip a byte
      case 1: b.splice(at, 0, ...prng.uint8Array(gen, prng.int31(gen, 1, 8))); break // insert junk
      case 2: b.splice(at, prng.int31(gen, 1, 8)); break // drop some bytes
      default: b.splice(at, 0, ...b.slice(at, at + prng.int31(gen, 1, 16))) // repeat a range
    }
  }
  return Uint8Array.from(b)
}

const writeHugeVarUint = (gen: prng.PRNG, e: encoding.Encoder): void =>
  encoding.writeVarUint(e, prng.oneOf(gen, [2 ** 31, 2 ** 32 - 1, 2 ** 40, Number.MAX_SAFE_INTEGER, 1e9]))

const hugeLength = (gen: prng.PRNG): Uint8Array => {
  const tail = prng.uint8Array(gen, prng.int31(gen, 0, 32))
  switch (prng.int31(gen, 0, 4)) {
    case 0: // a sync payload declared far longer than the frame
      return message(e => { encoding.writeVarUint(e, 0); encoding.writeVarUint(e, prng.int31(gen, 0, 2)); writeHugeVarUint(gen, e); encoding.writeUint8Array(e, tail) })
    case 1: // an update declaring billions of clients or structs
      return syncMessage(2, message(e => {
        if (prng.bool(gen)) { writeHugeVarUint(gen, e); encoding.writeUint8Array(e, tail); return }
        encoding.writeVarUint(e, 1); writeHugeVarUint(gen, e); encoding.writeVarUint(e, clientId(gen)); encoding.writeVarUint(e, 0); encoding.writeUint8Array(e, tail)
      }))
    case 2: // a state vector declaring billions of entries
      return syncMessage(0, message(e => { writeHugeVarUint(gen, e); encoding.writeUint8Array(e, tail) }))
    case 3: // an awareness update declaring billions of entries
      return awarenessMessage(message(e => { writeHugeVarUint(gen, e); encoding.writeUint8Array(e, tail) }))
    default: // a var-string of impossible length inside awareness
      return awarenessMessage(message(e => { encoding.writeVarUint(e, 1); encoding.writeVarUint(e, clientId(gen)); encoding.writeVarUint(e, 1); writeHugeVarUint(gen, e); encoding.writeUint8Array(e, tail) }))
  }
}

const awarenessGarbage = (gen: prng.PRNG): Uint8Array => {
  switch (prng.int31(gen, 0, 3)) {
    case 0: return awarenessMessage(prng.uint8Array(gen, prng.int31(gen, 1, 64)))
    case 1: // well framed, the state is not JSON
      return awarenessMessage(message(e => { encoding.writeVarUint(e, 1); encoding.writeVarUint(e, clientId(gen)); encoding.writeVarUint(e, prng.int31(gen, 0, 1000)); encoding.writeVarString(e, `{"user":${prng.word(gen, 1, 20)}`) }))
    case 2: // well framed, entries cut short
      return awarenessMessage(message(e => { encoding.writeVarUint(e, prng.int31(gen, 2, 50)); encoding.writeVarUint(e, clientId(gen)); encoding.writeVarUint(e, 1); encoding.writeVarString(e, '{}') }))
    default: // decodes: JSON that is not a presence object (both servers keep and relay it)
      return awarenessMessage(message(e => { encoding.writeVarUint(e, 1); encoding.writeVarUint(e, clientId(gen)); encoding.writeVarUint(e, prng.int31(gen, 1, 1000)); encoding.writeVarString(e, JSON.stringify(prng.oneOf(gen, [prng.int31(gen, 0, 9), [prng.word(gen)], prng.word(gen), true]))) }))
  }
}

const truncated = (gen: prng.PRNG): Uint8Array => {
  const whole = prng.oneOf(gen, [
    () => syncMessage(2, realUpdate(gen).update),
    () => syncMessage(1, realUpdate(gen).update),
    () => syncMessage(0, Y.encodeStateVector(realUpdate(gen).doc)),
    () => awarenessMessage(message(e => { encoding.writeVarUint(e, 1); encoding.writeVarUint(e, clientId(gen)); encoding.writeVarUint(e, 1); encoding.writeVarString(e, JSON.stringify({ user: { name: prng.word(gen, 1, 30) } })) }))
  ])()
  return whole.subarray(0, prng.int31(gen, 1, whole.length - 1)).slice()
}

/** One malformed frame of a kind chosen by `gen`. */
export const malformedFrame = (gen: prng.PRNG): Frame => {
  const kind = prng.oneOf(gen, [...FrameKinds])
  switch (kind) {
    case 'truncated': return { kind, bytes: truncated(gen) }
    case 'random-after-header': return { kind, bytes: syncMessage(prng.int31(gen, 0, 2), prng.uint8Array(gen, prng.int31(gen, 1, 200))) }
    case 'unknown-ids': return { kind, bytes: syncMessage(prng.oneOf(gen, [1, 2]), unknownIdsUpdate(gen)) }
    case 'struct-soup': return { kind, bytes: syncMessage(prng.oneOf(gen, [1, 2]), corrupt(gen, realUpdate(gen).update)) }
    case 'huge-length': return { kind, bytes: hugeLength(gen) }
    case 'unknown-type': return { kind, bytes: message(e => { encoding.writeVarUint(e, prng.oneOf(gen, [2, 4, 5, 7, 42, 99, 100, 101, 1000])); encoding.writeUint8Array(e, prng.uint8Array(gen, prng.int31(gen, 0, 40))) }) }
    case 'awareness-garbage': return { kind, bytes: awarenessGarbage(gen) }
    default: throw new Error(`no frame kind ${kind as string}`)
  }
}

/** `n` frames from `seed`: the same seed gives the same frames, byte for byte. */
export const malformedFrames = (seed: number, n: number): Frame[] => {
  const gen = prng.create(seed)
  return Array.from({ length: n }, () => malformedFrame(gen))
}
