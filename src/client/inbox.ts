// The device's rejected-changes inbox over the local store: server receipts kept once each, the entries
// the device makes itself (unsynced edits of an evicted record, attachments the server refused), and
// what a record leaving the device takes out of the entries that stood in it.

import type * as Y from 'yjs'
import { readRecord, type RecordState } from '../docs/record.ts'
import { parseFieldDocName } from '../ids.ts'
import { withheldReceipt, type Receipt } from '../protocol/receipts.ts'
import type { LocalReceipt, LocalStore } from './store.ts'
import type { Emit } from './events.ts'
import { contentHashesOf } from './content-gate.ts'

/** Receipts into the inbox, each once (a cycle resends those a cut socket may have lost). */
export const addReceipts = async (store: LocalStore, emit: Emit, receipts: readonly Receipt[]): Promise<void> => {
  const seen = new Set((await store.inbox()).map(i => (i.receipt as Receipt).seq).filter(x => x !== undefined))
  const fresh = receipts.filter(r => r.seq === undefined || !seen.has(r.seq))
  for (const r of fresh) await store.addInbox({ receipt: r, serverValue: r.kept, at: new Date().toISOString() })
  if (fresh.length > 0) emit('receipts', [fresh])
}

/**
 * The server refused attachment content for good: each note of a pending edit that points at it gets
 * an inbox entry (the edit still goes out, and the server drops the note with its own receipt).
 */
export const uploadRefused = async (store: LocalStore, open: (record: string) => Promise<Y.Doc>, hash: string, size: number, status: number, why: string): Promise<void> => {
  const records = new Set((await store.pending()).filter(p => contentHashesOf(p.update).includes(hash)).map(p => p.record))
  for (const record of records) {
    for (const [noteId, note] of Object.entries(readRecord(await open(record)).notes)) {
      if (note.contenthash !== hash) continue
      await store.addInbox({
        receipt: { record, reason: 'upload-refused', message: `the server refused the attachment ${note.filename ?? hash} (${status}): ${why}; the note will not be kept`, field: null, attempted: { noteId, filename: note.filename, hash, size, status }, kept: null },
        serverValue: null, at: new Date().toISOString()
      })
    }
  }
}

/**
 * What stood in a record that left the device goes with it from the inbox too (its entries keep what the
 * user tried: withheldReceipt), as the server serves them once the user may no longer read it.
 */
export const withholdInbox = async (store: LocalStore, record: string): Promise<void> => {
  const of = (name: string): string => parseFieldDocName(name)?.record ?? name
  for (const item of await store.inbox()) {
    const r = item.receipt
    // (The device's own entries hold what it tried alone.)
    if (of(r.record) !== of(record) || isLocalReceipt(r)) continue
    const receipt = withheldReceipt(r)
    if (item.serverValue === null && JSON.stringify(receipt) === JSON.stringify(r)) continue
    await store.removeInbox(item.id)
    await store.addInbox({ receipt, serverValue: null, at: item.at })
  }
}

/** Unsynced edits of a record that left the scope, into the inbox with the state they made. */
export const keepEvicted = async (store: LocalStore, record: string, attempted: RecordState, edits: number): Promise<void> => {
  await store.addInbox({
    receipt: { record, reason: 'evicted', message: `${record} left this device's scope with ${edits} unsynced edit(s)`, field: null, attempted, kept: null },
    serverValue: null, at: new Date().toISOString()
  })
}

const isLocalReceipt = (r: Receipt | LocalReceipt): r is LocalReceipt => r.reason === 'evicted' || r.reason === 'upload-refused'
