// The y-websocket messages of /sync (numbers from codes.ts): a writer and a reader for each.

import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { MessageType, SyncStep } from './codes.ts'
import type { Receipt } from './receipts.ts'
import { MalformedMessage } from '../errors.ts'

export type SyncStepValue = typeof SyncStep[keyof typeof SyncStep]

/** One /sync message, decoded. */
export type SyncMessage =
  /** step 1 carries a state vector, step 2 and update an update */
  | { readonly type: typeof MessageType.sync, readonly step: SyncStepValue, readonly payload: Uint8Array }
  | { readonly type: typeof MessageType.awareness, readonly update: Uint8Array }
  | { readonly type: typeof MessageType.queryAwareness }
  /** fieldsync's receipts, as the JSON text they travel in */
  | { readonly type: typeof MessageType.receipts, readonly json: string }

/** A sync message of `step` carrying `payload` (a state vector for step 1, an update otherwise). */
export const encodeSyncUpdate = (step: number, payload: Uint8Array): Uint8Array => {
  // (Written straight into one buffer of the frame's size: every published update is framed. The type and
  // the step are below 128, one byte each as var-uints; then the payload's length as a var-uint, lib0's way.)
  let lengthBytes = 1
  for (let n = payload.length; n > 0x7f; n = Math.floor(n / 0x80)) lengthBytes++
  const frame = new Uint8Array(2 + lengthBytes + payload.length)
  frame[0] = MessageType.sync
  frame[1] = step
  let at = 2
  let n = payload.length
  while (n > 0x7f) { frame[at++] = 0x80 | (n & 0x7f); n = Math.floor(n / 0x80) }
  frame[at++] = n
  frame.set(payload, at)
  return frame
}

export const encodeSyncStep1 = (doc: Y.Doc): Uint8Array => encodeSyncUpdate(SyncStep.step1, Y.encodeStateVector(doc))

export const encodeAwareness = (update: Uint8Array): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, MessageType.awareness)
  encoding.writeVarUint8Array(e, update)
  return encoding.toUint8Array(e)
}

/** fieldsync's receipts message: type 100, then a JSON array of receipts as a var-string. */
export const encodeReceipts = (receipts: readonly Receipt[]): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, MessageType.receipts)
  encoding.writeVarString(e, JSON.stringify(receipts))
  return encoding.toUint8Array(e)
}

/** Asks for every presence state (y-websocket's message type 3). */
export const encodeQueryAwareness = (): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, MessageType.queryAwareness)
  return encoding.toUint8Array(e)
}

/** Reads one message; throws MalformedMessage on an unknown type or step (lib0 throws plain errors on truncation). */
export const readSyncMessage = (d: decoding.Decoder): SyncMessage => {
  const type = decoding.readVarUint(d)
  switch (type) {
    case MessageType.sync: {
      const step = decoding.readVarUint(d)
      if (step !== SyncStep.step1 && step !== SyncStep.step2 && step !== SyncStep.update) throw new MalformedMessage(`unknown sync step ${step}`)
      return { type, step, payload: decoding.readVarUint8Array(d) }
    }
    case MessageType.awareness: return { type, update: decoding.readVarUint8Array(d) }
    case MessageType.queryAwareness: return { type }
    case MessageType.receipts: return { type, json: decoding.readVarString(d) }
    default: throw new MalformedMessage(`unknown message type ${type}`)
  }
}

/** Decodes one message (bytes after it are ignored, as y-websocket does); every failure is a MalformedMessage. */
export const decodeSyncMessage = (bytes: Uint8Array): SyncMessage => {
  try {
    return readSyncMessage(decoding.createDecoder(bytes))
  } catch (e) {
    throw e instanceof MalformedMessage ? e : new MalformedMessage((e as Error).message, { cause: e })
  }
}
