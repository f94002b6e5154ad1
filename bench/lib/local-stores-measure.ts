// The two measurements of bench/local-stores, the same code for every store (in Node for SQLite, in
// Chromium for the browser stores): an initial sync's writes, and a cold start's reads.

import * as Y from 'yjs'
import { readRecord } from '../../src/docs/record.ts'
import { indexEntry } from '../../src/client/field-index.ts'
import type { LocalStore } from '../../src/client/store.ts'
import { benchRecord } from './dataset.ts'

/** Milliseconds to store `n` records as an initial sync does (each first state with its index entry, not
 * awaited one by one, then commit), from opening the store to closing it. The records are made first. */
export const initialSync = async (open: () => Promise<LocalStore>, n: number): Promise<number> => {
  const records = Array.from({ length: n }, (_, i) => {
    const r = benchRecord(i)
    return { name: r.name, update: Y.encodeStateAsUpdate(r.doc), entry: indexEntry(r.name, readRecord(r.doc)) }
  })
  const t0 = performance.now()
  const store = await open()
  const writes = records.map(r => store.receive(r.name, r.update, r.entry))
  await store.commit()
  await Promise.all(writes)
  await store.setMeta({ deviceId: 'bench', cursor: n, privilegeVersion: 1, metadata: null, receiptSeq: 0 })
  await store.close()
  return performance.now() - t0
}

/** Milliseconds to open the store and list the accounts' index entries (what the app shows first), and
 * then to load every record into a document. */
export const coldStart = async (open: () => Promise<LocalStore>): Promise<{ list: number, loadAll: number, records: number }> => {
  const t0 = performance.now()
  const store = await open()
  await store.meta()
  const listed = await store.index('account')
  const list = performance.now() - t0
  const names = await store.records()
  const docs = await Promise.all(names.map(async name => {
    const doc = new Y.Doc()
    for (const u of await store.load(name)) Y.applyUpdate(doc, u)
    return doc
  }))
  const loadAll = performance.now() - t0
  if (listed.length !== names.length || docs.some(d => d.getMap('fields').size === 0)) throw new Error(`cold start: ${listed.length} listed, ${names.length} records, some empty`)
  for (const d of docs) d.destroy()
  await store.close()
  return { list, loadAll, records: names.length }
}
