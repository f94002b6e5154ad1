// The /device protocol: one websocket per device carrying every record it holds (README, "Device
// protocol"). Message numbers are defined here only; each has a writer and a reader. A device sends
// one frame per websocket message; the server may put several frames in one message.

import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { MalformedMessage } from '../errors.ts'

export const DEVICE_PROTOCOL_VERSION = 1

/** The most records one command may touch (qualify: the lead, an account, a contact, an opportunity). */
export const MAX_COMMAND_PARTS = 8

export const DeviceMessage = {
  /** device -> server: protocol version, device id, cursor, privilege version, digest of the metadata it holds (0: none) */
  hello: 0,
  /** server -> device: JSON metadata for the entities the profile enables */
  metadata: 1,
  /** both ways: a record name, then a y-protocols sync message (step, payload) for that record */
  sync: 2,
  /** server -> device: a pushed update (record, id) is committed (or refused: see receipts) */
  ack: 3,
  /** server -> device: JSON array of receipts for dropped changes */
  receipts: 4,
  /** server -> device: a record left the device's scope (record, reason) */
  evict: 5,
  /** server -> device: records done, records total, bytes sent so far in this cycle */
  progress: 6,
  /** server -> device: a cycle is complete; store this cursor. `request` is the newest syncNow it answers (0 for a live cycle);
   * `receiptSeq` is the receipt seq through which the device now has every receipt (0: unchanged) */
  done: 7,
  /** device -> server: run a full sync cycle now; `request` numbers the request; `count` and `digest`
   * summarize the records the device holds (see holdingsDigest), so the server notices when its record
   * of them is wrong and resends the scope whole; `receiptSeq` is the newest receipt it stored */
  syncNow: 8,
  /** device -> server: a local edit to integrate: record, update id, update */
  push: 9,
  /** server -> device: JSON array of every record in scope; the device drops the others (sent only when
   * the server cannot know what the device holds, e.g. after a cycle whose 'done' it did not store) */
  scope: 10,
  /** device -> server: a command over several records (lead qualify, …), accepted or rejected as a
   * whole: command name, target record, then each part's record, pending id and update */
  command: 11
} as const

export interface CommandFramePart { readonly record: string, readonly id: number, readonly update: Uint8Array }

export type DeviceFrame =
  | { type: typeof DeviceMessage.hello, version: number, deviceId: string, cursor: number, privilegeVersion: number, metadataDigest: number }
  | { type: typeof DeviceMessage.metadata, json: string }
  | { type: typeof DeviceMessage.sync, record: string, step: number, payload: Uint8Array }
  | { type: typeof DeviceMessage.ack, record: string, id: number }
  | { type: typeof DeviceMessage.receipts, json: string }
  | { type: typeof DeviceMessage.evict, record: string, reason: string }
  | { type: typeof DeviceMessage.progress, done: number, total: number, bytes: number }
  | { type: typeof DeviceMessage.done, cursor: number, request: number, receiptSeq: number }
  | { type: typeof DeviceMessage.syncNow, request: number, count: number, digest: number, receiptSeq: number }
  | { type: typeof DeviceMessage.push, record: string, id: number, update: Uint8Array }
  | { type: typeof DeviceMessage.scope, json: string }
  | { type: typeof DeviceMessage.command, command: string, target: string, parts: CommandFramePart[] }

export const writeDeviceFrame = (e: encoding.Encoder, f: DeviceFrame): void => {
  encoding.writeVarUint(e, f.type)
  switch (f.type) {
    case DeviceMessage.hello:
      encoding.writeVarUint(e, f.version); encoding.writeVarString(e, f.deviceId); encoding.writeVarUint(e, f.cursor)
      encoding.writeVarUint(e, f.privilegeVersion); encoding.writeVarUint(e, f.metadataDigest); break
    case DeviceMessage.metadata: case DeviceMessage.receipts: case DeviceMessage.scope: encoding.writeVarString(e, f.json); break
    case DeviceMessage.sync: encoding.writeVarString(e, f.record); encoding.writeVarUint(e, f.step); encoding.writeVarUint8Array(e, f.payload); break
    case DeviceMessage.ack: encoding.writeVarString(e, f.record); encoding.writeVarUint(e, f.id); break
    case DeviceMessage.evict: encoding.writeVarString(e, f.record); encoding.writeVarString(e, f.reason); break
    case DeviceMessage.progress: encoding.writeVarUint(e, f.done); encoding.writeVarUint(e, f.total); encoding.writeVarUint(e, f.bytes); break
    case DeviceMessage.done: encoding.writeVarUint(e, f.cursor); encoding.writeVarUint(e, f.request); encoding.writeVarUint(e, f.receiptSeq); break
    case DeviceMessage.syncNow:
      encoding.writeVarUint(e, f.request); encoding.writeVarUint(e, f.count); encoding.writeVarUint(e, f.digest); encoding.writeVarUint(e, f.receiptSeq); break
    case DeviceMessage.push: encoding.writeVarString(e, f.record); encoding.writeVarUint(e, f.id); encoding.writeVarUint8Array(e, f.update); break
    case DeviceMessage.command:
      encoding.writeVarString(e, f.command); encoding.writeVarString(e, f.target); encoding.writeVarUint(e, f.parts.length)
      for (const p of f.parts) { encoding.writeVarString(e, p.record); encoding.writeVarUint(e, p.id); encoding.writeVarUint8Array(e, p.update) }
      break
  }
}

/** Reads one frame; throws on malformed bytes or an unknown type. */
export const readDeviceFrame = (d: decoding.Decoder): DeviceFrame => {
  const type = decoding.readVarUint(d)
  switch (type) {
    case DeviceMessage.hello: return {
      type, version: decoding.readVarUint(d), deviceId: decoding.readVarString(d), cursor: decoding.readVarUint(d),
      privilegeVersion: decoding.readVarUint(d), metadataDigest: decoding.readVarUint(d)
    }
    case DeviceMessage.metadata: case DeviceMessage.receipts: case DeviceMessage.scope: return { type, json: decoding.readVarString(d) }
    case DeviceMessage.sync: return { type, record: decoding.readVarString(d), step: decoding.readVarUint(d), payload: decoding.readVarUint8Array(d) }
    case DeviceMessage.ack: return { type, record: decoding.readVarString(d), id: decoding.readVarUint(d) }
    case DeviceMessage.evict: return { type, record: decoding.readVarString(d), reason: decoding.readVarString(d) }
    case DeviceMessage.progress: return { type, done: decoding.readVarUint(d), total: decoding.readVarUint(d), bytes: decoding.readVarUint(d) }
    case DeviceMessage.done: return { type, cursor: decoding.readVarUint(d), request: decoding.readVarUint(d), receiptSeq: decoding.readVarUint(d) }
    case DeviceMessage.syncNow: return { type, request: decoding.readVarUint(d), count: decoding.readVarUint(d), digest: decoding.readVarUint(d), receiptSeq: decoding.readVarUint(d) }
    case DeviceMessage.push: return { type, record: decoding.readVarString(d), id: decoding.readVarUint(d), update: decoding.readVarUint8Array(d) }
    case DeviceMessage.command: {
      const command = decoding.readVarString(d)
      const target = decoding.readVarString(d)
      const n = decoding.readVarUint(d)
      if (n > MAX_COMMAND_PARTS) throw new MalformedMessage(`a command has at most ${MAX_COMMAND_PARTS} parts`)
      const parts: CommandFramePart[] = []
      for (let i = 0; i < n; i++) parts.push({ record: decoding.readVarString(d), id: decoding.readVarUint(d), update: decoding.readVarUint8Array(d) })
      return { type, command, target, parts }
    }
    default: throw new MalformedMessage(`unknown device message type ${type}`)
  }
}

export const encodeDeviceFrame = (f: DeviceFrame): Uint8Array => {
  const e = encoding.createEncoder()
  writeDeviceFrame(e, f)
  return encoding.toUint8Array(e)
}

/** One frame that is the whole message; throws MalformedMessage on anything else (lib0's readers throw plain errors: wrapped). */
export const decodeDeviceFrame = (bytes: Uint8Array): DeviceFrame => {
  try {
    const d = decoding.createDecoder(bytes)
    const f = readDeviceFrame(d)
    if (decoding.hasContent(d)) throw new MalformedMessage('trailing bytes after the message')
    return f
  } catch (e) {
    throw e instanceof MalformedMessage ? e : new MalformedMessage((e as Error).message, { cause: e })
  }
}

/** 32-bit FNV-1a of a string's UTF-16 code units, from `basis`. */
export const fnv1a32 = (s: string, basis = 0x811c9dc5): number => {
  let h = basis
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/**
 * An order-free summary of a set of record names: the sum, modulo 2^48, of a 48-bit hash of each name
 * (two 32-bit FNV-1a hashes with different bases). Device and server compute it the same way; it is a
 * whole number below 2^48, so it travels as a var-uint.
 */
export const holdingsDigest = (names: Iterable<string>): number => {
  const MOD = 2 ** 48
  let sum = 0
  for (const n of names) sum = (sum + fnv1a32(n, 0x811c9dc5) * 65536 + (fnv1a32(n, 0x01000193) & 0xffff)) % MOD
  return sum
}
