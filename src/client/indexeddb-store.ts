// The browser device store: ONE IndexedDB database for every record (not a database per document, as
// y-indexeddb keeps), with writes made close together committed in one transaction, in order. Records
// received together (an initial sync) keep their first states in one 'chunk' row, so each costs one
// IndexedDB write (its index entry, which names the chunk) instead of two. A chunk holds at most
// CHUNK_RECORDS records: loading one record reads its whole chunk (bench:local-stores measured loading
// every record of 1,000 received in one chunk at 7.6 s, growing with the square of the count).

import * as Y from 'yjs'
import { claimWebLockSlot, forgetWriterIdsIn, writerIdKey, type WebLockSlot } from './web-lock-slot.ts'
import type { IndexedRecord, InboxItem, LocalMeta, LocalStore, PendingCommand, PendingUpdate } from './store.ts'
import { COMPACT_ROWS } from './compact.ts'

/** Records per chunk: a load reads ~1.3 KB x this of first states (an account of 20 fields) to find its own. */
const CHUNK_RECORDS = 32

const STORES = ['meta', 'updates', 'idx', 'inbox', 'chunks', 'blobs'] as const

/** An index row: the entry (null entity for a record without one, e.g. deleted) and its first state's chunk. */
interface IdxRow { record: string, entity: string | null, values: Record<string, unknown> | null, chunk?: number }

interface ChunkMember { record: string, update: Uint8Array, entry: IndexedRecord | null }

/**
 * A write: issues its requests on the transaction and calls `next` once every request it depends on
 * has been issued (at once for blind writes; in a callback for read-modify-write), so that writes stay
 * in the order they were made. `result` is what the caller's promise resolves with.
 */
interface Op {
  run (tx: IDBTransaction, next: () => void): void
  result?: unknown
  /** a setMeta: only the last of a transaction writes */
  meta?: boolean
  superseded?: boolean
  resolve (v: unknown): void
  reject (e: unknown): void
}

const done = <T>(r: IDBRequest<T>): Promise<T> => new Promise((resolve, reject) => {
  r.onsuccess = () => resolve(r.result)
  r.onerror = () => reject(r.error)
})

/** Writes a record's index entry, keeping the chunk its first state lives in; `next` once the read is done. */
const putIndex = (tx: IDBTransaction, record: string, entry: IndexedRecord | null, next: () => void): void => {
  const s = tx.objectStore('idx')
  const r = s.get(record)
  r.onsuccess = () => {
    const old = r.result as IdxRow | undefined
    s.put({ record, entity: entry?.entity ?? null, values: entry?.values ?? null, ...(old?.chunk !== undefined ? { chunk: old.chunk } : {}) } satisfies IdxRow)
    next()
  }
}

export class IndexedDbLocalStore implements LocalStore {
  private readonly db: IDBDatabase
  private readonly name: string
  /** the writer slot this store holds, once claimed (null: none was free) */
  private slot: WebLockSlot | null | undefined = undefined
  private queue: Op[] = []
  private flushing: Promise<void> | null = null
  private scheduled = false
  private nextChunk: number
  /** first states received since the last write of another kind, stored as one chunk */
  private chunk: ChunkMember[] | null = null
  private chunkWritten: Promise<void> | null = null
  /** the metadata in its entry, once this store wrote it (undefined: not known) */
  private metadataStored: string | null | undefined = undefined

  private constructor (db: IDBDatabase, name: string, nextChunk: number) {
    this.db = db
    this.name = name
    this.nextChunk = nextChunk
  }

  static async open (name = 'fieldsync'): Promise<IndexedDbLocalStore> {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open(name, 3)
      req.onupgradeneeded = e => {
        const db = req.result
        if (e.oldVersion < 2) {
          for (const n of Array.from(db.objectStoreNames)) db.deleteObjectStore(n)
          db.createObjectStore('meta')
          const updates = db.createObjectStore('updates', { keyPath: 'id', autoIncrement: true })
          updates.createIndex('record', 'record')
          updates.createIndex('pending', 'pending')
          const idx = db.createObjectStore('idx', { keyPath: 'record' })
          idx.createIndex('entity', 'entity')
          db.createObjectStore('inbox', { keyPath: 'id', autoIncrement: true })
          db.createObjectStore('chunks')
        }
        // version 3: attachment content, by hash
        db.createObjectStore('blobs', { keyPath: 'hash' }).createIndex('pending', 'pending')
      }
      req.onsuccess = () => resolve(req.result)
      req.onerror = () => reject(req.error)
    })
    const last = await done(db.transaction('chunks', 'readonly').objectStore('chunks').openKeyCursor(null, 'prev'))
    return new IndexedDbLocalStore(db, name, last === null ? 1 : Number(last.key) + 1)
  }

  private schedule (): void {
    if (!this.scheduled) {
      this.scheduled = true
      setTimeout(() => { void this.flush() }, 0)
    }
  }

  private enqueue<T> (run: Op['run'], meta = false): Promise<T> {
    this.chunk = null // a later first state starts a new chunk, after this write
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (v: unknown) => void, reject, ...(meta ? { meta } : {}) })
      this.schedule()
    })
  }

  /** A blind write (put, add, delete): the next write may follow at once. */
  private blind<T> (f: (tx: IDBTransaction) => IDBRequest): Promise<T> {
    return this.enqueue<T>(function (this: Op, tx, next) {
      const r = f(tx)
      r.onsuccess = () => { this.result = r.result }
      next()
    })
  }

  private async flush (): Promise<void> {
    this.scheduled = false
    if (this.flushing !== null) await this.flushing
    const ops = this.queue
    this.queue = []
    this.chunk = null
    if (ops.length === 0) return
    let last = true
    for (let i = ops.length - 1; i >= 0; i--) if (ops[i].meta === true) { ops[i].superseded = !last; last = false }
    this.flushing = new Promise<void>(resolve => {
      const tx = this.db.transaction([...STORES], 'readwrite', { durability: 'strict' } as IDBTransactionOptions)
      const step = (i: number): void => { if (i < ops.length) ops[i].run.call(ops[i], tx, () => step(i + 1)) }
      step(0)
      tx.oncomplete = () => { for (const op of ops) op.resolve(op.result); resolve() }
      tx.onerror = tx.onabort = () => { this.metadataStored = undefined; for (const op of ops) op.reject(tx.error); resolve() }
    })
    await this.flushing
    this.flushing = null
  }

  commit (): Promise<void> {
    return this.settle()
  }

  /** Reads see every write queued before them. */
  private async settle (): Promise<void> {
    if (this.queue.length > 0) await this.flush()
    else if (this.flushing !== null) await this.flushing
  }

  private async read<T> (store: typeof STORES[number], f: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
    await this.settle()
    return done(f(this.db.transaction(store, 'readonly').objectStore(store)))
  }

  async meta (): Promise<LocalMeta | undefined> {
    await this.settle()
    const s = this.db.transaction('meta', 'readonly').objectStore('meta')
    const [m, metadata] = await Promise.all([
      done(s.get('meta') as IDBRequest<(Omit<LocalMeta, 'metadata'> & { metadata?: string | null }) | undefined>),
      done(s.get('metadata') as IDBRequest<string | undefined>)
    ])
    if (m === undefined) return undefined
    // (a database written before the metadata had an entry of its own holds it in this one)
    return m.metadata !== undefined ? m as LocalMeta : { ...m, metadata: metadata ?? null }
  }

  /** As the SQLite store: the metadata is written only when it changed, and of the settings in one transaction only the last. */
  setMeta (m: LocalMeta): Promise<void> {
    const store = this
    return this.enqueue(function (this: Op, tx, next) {
      if (this.superseded !== true) {
        const { metadata, ...rest } = m
        const s = tx.objectStore('meta')
        s.put(rest, 'meta')
        if (metadata !== store.metadataStored) {
          if (metadata === null) s.delete('metadata'); else s.put(metadata, 'metadata')
          store.metadataStored = metadata
        }
      }
      next()
    }, true)
  }

  async records (): Promise<string[]> {
    await this.settle()
    const out = new Set((await done(this.db.transaction('idx', 'readonly').objectStore('idx').getAllKeys())).map(String))
    await new Promise<void>((resolve, reject) => {
      // One step per distinct record of the updates.
      const req = this.db.transaction('updates', 'readonly').objectStore('updates').index('record').openKeyCursor(null, 'nextunique')
      req.onsuccess = () => {
        const c = req.result
        if (c === null) { resolve(); return }
        out.add(String(c.key))
        c.continue()
      }
      req.onerror = () => reject(req.error)
    })
    return [...out].sort()
  }

  async load (record: string): Promise<Uint8Array[]> {
    const idx = await this.read('idx', s => s.get(record)) as IdxRow | undefined
    const first: Uint8Array[] = []
    if (idx?.chunk !== undefined) {
      const chunk = await this.read('chunks', s => s.get(idx.chunk!)) as [string, Uint8Array][] | undefined
      const hit = chunk?.find(([r]) => r === record)
      if (hit !== undefined) first.push(hit[1])
    }
    const rows = (await this.read('updates', s => s.index('record').getAll(record)) as { id: number, data: Uint8Array, pending: number }[]).sort((a, b) => a.id - b.id)
    if (rows.length > COMPACT_ROWS) this.compact(record, rows)
    return [...first, ...rows.map(r => r.data)]
  }

  /** records whose compaction is queued */
  private readonly compacting = new Set<string>()

  /**
   * Replaces the record's updates read (`rows`) by their merge, with the next write (as the SQLite store
   * does: pending edits keep their rows, and their content in the merge changes nothing).
   */
  private compact (record: string, rows: readonly { id: number, data: Uint8Array, pending: number }[]): void {
    if (this.compacting.has(record)) return
    this.compacting.add(record)
    const merged = Y.mergeUpdates(rows.map(r => r.data))
    const gone = rows.filter(r => r.pending === 0).map(r => r.id)
    void this.enqueue(function (this: Op, tx, next) {
      const s = tx.objectStore('updates')
      for (const id of gone) s.delete(id)
      s.add({ record, data: merged, pending: 0 })
      next()
    }).finally(() => this.compacting.delete(record))
  }

  put (record: string, update: Uint8Array, entry?: IndexedRecord | null): Promise<void> {
    if (entry === undefined) return this.blind(tx => tx.objectStore('updates').add({ record, data: update, pending: 0 }))
    return this.enqueue(function (this: Op, tx, next) {
      tx.objectStore('updates').add({ record, data: update, pending: 0 })
      putIndex(tx, record, entry, next)
    })
  }

  receive (record: string, update: Uint8Array, entry: IndexedRecord | null): Promise<void> {
    // Join the chunk being built unless another write came in between (writes keep their order).
    if (this.chunk === null || this.chunk.length >= CHUNK_RECORDS) {
      const members: ChunkMember[] = []
      const id = this.nextChunk++
      this.chunkWritten = this.enqueue<void>((tx, next) => {
        tx.objectStore('chunks').put(members.map(m => [m.record, m.update]), id)
        const idx = tx.objectStore('idx')
        for (const m of members) idx.put({ record: m.record, entity: m.entry?.entity ?? null, values: m.entry?.values ?? null, chunk: id } satisfies IdxRow)
        next()
      })
      this.chunk = members
    }
    this.chunk.push({ record, update, entry })
    return this.chunkWritten!
  }

  addPending (record: string, update: Uint8Array, command?: PendingCommand): Promise<number> {
    return this.blind<number>(tx => tx.objectStore('updates').add({ record, data: update, pending: 1, ...(command === undefined ? {} : { command }) }))
  }

  async pending (): Promise<PendingUpdate[]> {
    const rows = await this.read('updates', s => s.index('pending').getAll(1)) as { id: number, record: string, data: Uint8Array, command?: PendingCommand }[]
    return rows.sort((a, b) => a.id - b.id).map(r => ({ id: r.id, record: r.record, update: r.data, ...(r.command === undefined ? {} : { command: r.command }) }))
  }

  pendingCount (): Promise<number> {
    return this.read('updates', s => s.index('pending').count(1))
  }

  acknowledge (id: number): Promise<void> {
    return this.enqueue(function (this: Op, tx, next) {
      const s = tx.objectStore('updates')
      const r = s.get(id)
      r.onsuccess = () => { if (r.result !== undefined) s.put({ ...r.result, pending: 0 }); next() }
    })
  }

  remove (record: string): Promise<void> {
    return this.enqueue(function (this: Op, tx, next) {
      const s = tx.objectStore('updates')
      const r = s.index('record').getAllKeys(record)
      r.onsuccess = () => { for (const k of r.result) s.delete(k); tx.objectStore('idx').delete(record); next() }
    })
  }

  /** Updates a record's index entry, keeping the chunk its first state lives in. */
  setIndex (record: string, entry: IndexedRecord | null): Promise<void> {
    return this.enqueue((tx, next) => { putIndex(tx, record, entry, next) })
  }

  async index (entity: string): Promise<IndexedRecord[]> {
    const rows = await this.read('idx', s => s.index('entity').getAll(entity)) as IdxRow[]
    return rows.map(r => ({ record: r.record, entity: r.entity!, values: r.values ?? {} })).sort((a, b) => a.record < b.record ? -1 : 1)
  }

  addInbox (item: Omit<InboxItem, 'id'>): Promise<number> {
    return this.blind<number>(tx => tx.objectStore('inbox').add(item))
  }

  async inbox (): Promise<InboxItem[]> {
    return await this.read('inbox', s => s.getAll()) as InboxItem[]
  }

  removeInbox (id: number): Promise<void> {
    return this.blind(tx => tx.objectStore('inbox').delete(id))
  }

  putBlob (hash: string, data: Uint8Array, pending: boolean): Promise<void> {
    return this.enqueue(function (this: Op, tx, next) {
      const s = tx.objectStore('blobs')
      const r = s.get(hash)
      // Pending stays pending (a download does not upload it); see LocalStore.putBlob.
      r.onsuccess = () => { const old = r.result as { pending: number, added: number } | undefined; s.put({ hash, data, pending: old?.pending === 1 || pending ? 1 : 0, added: old?.added ?? Date.now() }); next() }
    })
  }

  async blob (hash: string): Promise<Uint8Array | undefined> {
    const r = await this.read('blobs', s => s.get(hash)) as { data: Uint8Array } | undefined
    return r?.data
  }

  async pendingBlobs (): Promise<string[]> {
    const rows = await this.read('blobs', s => s.index('pending').getAll(1)) as { hash: string, added: number }[]
    return rows.sort((a, b) => a.added - b.added).map(r => r.hash)
  }

  blobUploaded (hash: string): Promise<void> {
    return this.enqueue(function (this: Op, tx, next) {
      const s = tx.objectStore('blobs')
      const r = s.get(hash)
      r.onsuccess = () => { if (r.result !== undefined) s.put({ ...r.result, pending: 0 }); next() }
    })
  }

  // Writes commit with durability 'strict': a commit survives an OS crash, so a slot's ids are never
  // forgotten for want of a clean end.
  async claimWriterSlot (slots: number): Promise<number | null> {
    this.slot ??= await claimWebLockSlot(this.name, slots)
    return this.slot?.slot ?? null
  }

  writerId (slot: number, user: string): Promise<number | undefined> {
    return this.read<number | undefined>('meta', s => s.get(writerIdKey(slot, user)))
  }

  setWriterId (slot: number, user: string, id: number): Promise<void> {
    return this.blind(tx => tx.objectStore('meta').put(id, writerIdKey(slot, user)))
  }

  forgetWriterIds (ids: readonly number[]): Promise<void> {
    return this.enqueue((tx, next) => forgetWriterIdsIn(tx.objectStore('meta'), ids, next))
  }

  async close (): Promise<void> {
    await this.flush()
    this.db.close()
    this.slot?.release()
  }

  async destroy (): Promise<void> {
    await this.close()
    await deleteDatabase(this.name)
  }
}

/** Deletes an IndexedDB database; connections still open (another tab) make this wait until they close. */
export const deleteDatabase = (name: string): Promise<void> => new Promise((resolve, reject) => {
  const r = indexedDB.deleteDatabase(name)
  r.onsuccess = () => resolve()
  r.onerror = () => reject(r.error)
})
