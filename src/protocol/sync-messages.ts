// Encoders for the y-websocket messages the server sends (numbers from protocol.ts).

import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { MessageType, SyncStep } from './codes.ts'
import type { Receipt } from './receipts.ts'

/** A sync message of `step` carrying `payload` (a state vector for step 1, an update otherwise). */
export const encodeSyncUpdate = (step: number, payload: Uint8Array): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, MessageType.sync)
  encoding.writeVarUint(e, step)
  encoding.writeVarUint8Array(e, payload)
  return encoding.toUint8Array(e)
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
