// The browser device store on y-indexeddb: every record document in a database of its own (an
// `IndexeddbPersistence` named `<store>/<record>`, the way y-indexeddb keeps documents), and what is not a
// document (meta, the record list with index entries, pending edits, inbox, attachment content) in one
// catalog database `<store>`. Offered beside IndexedDbLocalStore, which the app uses by default: see the
// README's "Local stores" for the figures.
//
// Writes keep their order: catalog writes made in one turn share one transaction, in the order they were
// made; a record's document writes are chained per record. Reads see every write made before them.
// Catalog and document are two databases, so no write spans both atomically; each write is ordered so a
// crash between its two halves is repaired by what the device does anyway:
// - what the server sent: the catalog row (with the index entry) and the document are written side by side.
//   The cursor moves only after commit(), which waits for both, so after a crash between them the server
//   sends the change again and both are written again (a document database without its row is also
//   found and deleted by destroy()).
// - a local edit: kept in the catalog only (load() adds it to the document's state) until acknowledged;
//   then written into the document, and only after that dropped from the catalog (applying it twice is
//   harmless in Yjs).

import * as Y from 'yjs'
import { IndexeddbPersistence, PREFERRED_TRIM_SIZE, storeState } from 'y-indexeddb'
import { deleteDatabase } from './indexeddb-store.ts'
import { claimWebLockSlot, forgetWriterIdsIn, writerIdKey, type WebLockSlot } from './web-lock-slot.ts'
import type { IndexedRecord, InboxItem, LocalMeta, LocalStore, PendingCommand, PendingUpdate } from './store.ts'

const STORES = ['meta', 'records', 'pending', 'inbox', 'blobs'] as const
type StoreName = typeof STORES[number]

/** A record the store holds: its index entry (null entity: none) and whether its document database was written. */
interface RecordRow { record: string, entity: string | null, values: Record<string, unknown> | null, doc: boolean }
interface PendingRow { id?: number, record: string, data: Uint8Array, command?: PendingCommand }
interface BlobRow { hash: string, data: Uint8Array, pending: number, added: number }

/** A catalog write: issues its requests and calls `next` once the ones later writes depend on are issued;
 * `set` gives the caller's promise its result. */
type Op = (tx: IDBTransaction, next: () => void, set: (v: unknown) => void) => void
interface Queued { run: Op, result?: unknown, resolve: (v: unknown) => void, reject: (e: unknown) => void }

const done = <T>(r: IDBRequest<T>): Promise<T> => new Promise((resolve, reject) => {
  r.onsuccess = () => resolve(r.result)
  r.onerror = () => reject(r.error)
})

/** Writes a record's row, keeping what is not given. */
const putRow = (tx: IDBTransaction, record: string, change: (old: RecordRow | undefined) => RecordRow, next: () => void): void => {
  const s = tx.objectStore('records')
  const r = s.get(record)
  r.onsuccess = () => { s.put(change(r.result as RecordRow | undefined)); next() }
}

const withEntry = (record: string, entry: IndexedRecord | null, doc: boolean) => (old: RecordRow | undefined): RecordRow =>
  ({ record, entity: entry?.entity ?? null, values: entry?.values ?? null, doc: doc || (old?.doc ?? false) })

/** Resolves once y-indexeddb's writes issued so far are committed (a read-only transaction starts after them). */
const written = (p: IndexeddbPersistence): Promise<void> => new Promise((resolve, reject) => {
  const tx = p.db!.transaction('updates', 'readonly')
  tx.objectStore('updates').count()
  tx.oncomplete = () => resolve()
  tx.onerror = tx.onabort = () => reject(tx.error)
})

/** Opens a record's document from its y-indexeddb database (`initial`, if given, is stored into it first and
 * committed by the time it resolves). */
const openDoc = async (name: string, initial?: Uint8Array): Promise<{ doc: Y.Doc, persistence: IndexeddbPersistence }> => {
  const doc = new Y.Doc()
  if (initial !== undefined) Y.applyUpdate(doc, initial)
  // On opening, y-indexeddb stores the document's state (here: `initial`) and then reads every update stored.
  const persistence = new IndexeddbPersistence(name, doc)
  try {
    await Promise.race([persistence.whenSynced, persistence._db.then(() => new Promise<never>(() => {}))])
    await written(persistence) // (and its row count known)
    // y-indexeddb merges a document's updates only when a persistence stays open a second after its 500th;
    // ours are opened for one read or write each (and every opening adds a row), so merge them here.
    if (persistence._dbsize >= PREFERRED_TRIM_SIZE) {
      await storeState(persistence, true)
      await written(persistence)
    }
  } catch (e) {
    await closeDoc({ doc, persistence })
    throw e
  }
  return { doc, persistence }
}

const closeDoc = async (d: { doc: Y.Doc, persistence: IndexeddbPersistence }): Promise<void> => {
  await d.persistence.destroy()
  d.doc.destroy()
}

export class YIndexedDbLocalStore implements LocalStore {
  private readonly db: IDBDatabase
  private readonly name: string
  /** the writer slot this store holds, once claimed (null: none was free) */
  private slot: WebLockSlot | null | undefined = undefined
  private queue: Queued[] = []
  private flushing: Promise<void> | null = null
  private scheduled = false
  /** the last document write of each record (they run one after another) */
  private readonly chains = new Map<string, Promise<void>>()
  private readonly inflight = new Set<Promise<void>>()
  private closed = false

  private constructor (db: IDBDatabase, name: string) {
    this.db = db
    this.name = name
  }

  static async open (name = 'fieldsync-y'): Promise<YIndexedDbLocalStore> {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open(name, 1)
      req.onupgradeneeded = () => {
        const db = req.result
        db.createObjectStore('meta')
        db.createObjectStore('records', { keyPath: 'record' }).createIndex('entity', 'entity')
        db.createObjectStore('pending', { keyPath: 'id', autoIncrement: true }).createIndex('record', 'record')
        db.createObjectStore('inbox', { keyPath: 'id', autoIncrement: true })
        db.createObjectStore('blobs', { keyPath: 'hash' }).createIndex('pending', 'pending')
      }
      req.onsuccess = () => resolve(req.result)
      req.onerror = () => reject(req.error)
    })
    return new YIndexedDbLocalStore(db, name)
  }

  /** The y-indexeddb database of a record's document. */
  private docName (record: string): string {
    return `${this.name}/${record}`
  }

  private enqueue<T> (run: Op): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (v: unknown) => void, reject })
      if (!this.scheduled) {
        this.scheduled = true
        setTimeout(() => { void this.flush() }, 0)
      }
    })
  }

  /** A blind catalog write whose request's result the caller gets. */
  private blind<T> (f: (tx: IDBTransaction) => IDBRequest): Promise<T> {
    return this.enqueue<T>((tx, next, set) => {
      const r = f(tx)
      r.onsuccess = () => set(r.result)
      next()
    })
  }

  private async flush (): Promise<void> {
    this.scheduled = false
    if (this.flushing !== null) await this.flushing
    const ops = this.queue
    this.queue = []
    if (ops.length === 0) return
    this.flushing = new Promise<void>(resolve => {
      const tx = this.db.transaction([...STORES], 'readwrite', { durability: 'strict' } as IDBTransactionOptions)
      const step = (i: number): void => { if (i < ops.length) ops[i].run(tx, () => step(i + 1), v => { ops[i].result = v }) }
      step(0)
      tx.oncomplete = () => { for (const op of ops) op.resolve(op.result); resolve() }
      tx.onerror = tx.onabort = () => { for (const op of ops) op.reject(tx.error); resolve() }
    })
    await this.flushing
    this.flushing = null
  }

  private async settle (): Promise<void> {
    if (this.queue.length > 0) await this.flush()
    else if (this.flushing !== null) await this.flushing
  }

  private async read<T> (store: StoreName, f: (s: IDBObjectStore) => IDBRequest): Promise<T> {
    await this.settle()
    return await done(f(this.db.transaction(store, 'readonly').objectStore(store))) as T
  }

  /** Keeps `p` until it settles, for commit() to wait for. */
  private track<T> (p: Promise<T>): Promise<T> {
    const tracked: Promise<void> = p.then(() => {}, () => {}).then(() => { this.inflight.delete(tracked) })
    this.inflight.add(tracked)
    return p
  }

  /** Runs `f` after the record's earlier document writes. */
  private onDoc (record: string, f: () => Promise<void>): Promise<void> {
    const p = (this.chains.get(record) ?? Promise.resolve()).catch(() => {}).then(f)
    this.chains.set(record, p)
    void p.catch(() => {}).then(() => { if (this.chains.get(record) === p) this.chains.delete(record) })
    return this.track(p)
  }

  /** Stores an update into a record's document database. */
  private writeDoc (record: string, update: Uint8Array): Promise<void> {
    return this.onDoc(record, async () => {
      await closeDoc(await openDoc(this.docName(record), update))
    })
  }

  async commit (): Promise<void> {
    do {
      await this.settle()
      await Promise.all(this.inflight)
    } while (this.inflight.size > 0 || this.queue.length > 0)
  }

  async meta (): Promise<LocalMeta | undefined> {
    return this.read('meta', s => s.get('meta'))
  }

  setMeta (m: LocalMeta): Promise<void> {
    return this.blind(tx => tx.objectStore('meta').put(m, 'meta'))
  }

  async records (): Promise<string[]> {
    return (await this.read<IDBValidKey[]>('records', s => s.getAllKeys())).map(String).sort()
  }

  async load (record: string): Promise<Uint8Array[]> {
    const before = this.chains.get(record)
    const row = await this.read<RecordRow | undefined>('records', s => s.get(record))
    const pending = (await this.read<PendingRow[]>('pending', s => s.index('record').getAll(record))).sort((a, b) => a.id! - b.id!).map(p => p.data)
    await before?.catch(() => {})
    if (row === undefined || !row.doc) return pending
    const d = await openDoc(this.docName(record))
    try { return [Y.encodeStateAsUpdate(d.doc), ...pending] } finally { await closeDoc(d) }
  }

  put (record: string, update: Uint8Array, entry?: IndexedRecord | null): Promise<void> {
    const row = this.enqueue<void>((tx, next) => putRow(tx, record, old => entry === undefined
      ? { record, entity: old?.entity ?? null, values: old?.values ?? null, doc: true }
      : withEntry(record, entry, true)(old), next))
    return Promise.all([row, this.writeDoc(record, update)]).then(() => {})
  }

  receive (record: string, update: Uint8Array, entry: IndexedRecord | null): Promise<void> {
    return this.put(record, update, entry)
  }

  addPending (record: string, update: Uint8Array, command?: PendingCommand): Promise<number> {
    const row: PendingRow = { record, data: update, ...(command === undefined ? {} : { command }) }
    return this.enqueue<number>((tx, next, set) => {
      // The record is held from its first edit on (a record created on this device has no other write yet).
      putRow(tx, record, old => old ?? { record, entity: null, values: null, doc: false }, () => {
        const r = tx.objectStore('pending').add(row)
        r.onsuccess = () => set(r.result)
        next()
      })
    })
  }

  async pending (): Promise<PendingUpdate[]> {
    const rows = await this.read<PendingRow[]>('pending', s => s.getAll())
    return rows.map(r => ({ id: r.id!, record: r.record, update: r.data, ...(r.command === undefined ? {} : { command: r.command }) }))
  }

  pendingCount (): Promise<number> {
    return this.read<number>('pending', s => s.count())
  }

  acknowledge (id: number): Promise<void> {
    return this.track(this.acknowledged(id))
  }

  private async acknowledged (id: number): Promise<void> {
    const row = await this.read<PendingRow | undefined>('pending', s => s.get(id))
    if (row === undefined) return
    await this.onDoc(row.record, async () => {
      // Not if the record was removed meanwhile (its pending rows go with it).
      if (await this.read<PendingRow | undefined>('pending', s => s.get(id)) === undefined) return
      await closeDoc(await openDoc(this.docName(row.record), row.data))
      await this.enqueue<void>((tx, next) => putRow(tx, row.record, old => ({ record: row.record, entity: old?.entity ?? null, values: old?.values ?? null, doc: true }), next))
    })
    await this.blind(tx => tx.objectStore('pending').delete(id))
  }

  remove (record: string): Promise<void> {
    const row = this.enqueue<void>((tx, next) => {
      const s = tx.objectStore('pending')
      const r = s.index('record').getAllKeys(record)
      r.onsuccess = () => { for (const k of r.result) s.delete(k); tx.objectStore('records').delete(record); next() }
    })
    return Promise.all([row, this.onDoc(record, () => deleteDatabase(this.docName(record)))]).then(() => {})
  }

  setIndex (record: string, entry: IndexedRecord | null): Promise<void> {
    return this.enqueue((tx, next) => putRow(tx, record, withEntry(record, entry, false), next))
  }

  async index (entity: string): Promise<IndexedRecord[]> {
    const rows = await this.read<RecordRow[]>('records', s => s.index('entity').getAll(entity))
    return rows.map(r => ({ record: r.record, entity: r.entity!, values: r.values ?? {} })).sort((a, b) => a.record < b.record ? -1 : 1)
  }

  addInbox (item: Omit<InboxItem, 'id'>): Promise<number> {
    return this.blind<number>(tx => tx.objectStore('inbox').add(item))
  }

  async inbox (): Promise<InboxItem[]> {
    return this.read('inbox', s => s.getAll())
  }

  removeInbox (id: number): Promise<void> {
    return this.blind(tx => tx.objectStore('inbox').delete(id))
  }

  putBlob (hash: string, data: Uint8Array, pending: boolean): Promise<void> {
    return this.enqueue((tx, next) => {
      const s = tx.objectStore('blobs')
      const r = s.get(hash)
      // Pending stays pending (a download does not upload it); see LocalStore.putBlob.
      r.onsuccess = () => { const old = r.result as BlobRow | undefined; s.put({ hash, data, pending: old?.pending === 1 || pending ? 1 : 0, added: old?.added ?? Date.now() } satisfies BlobRow); next() }
    })
  }

  async blob (hash: string): Promise<Uint8Array | undefined> {
    return (await this.read<BlobRow | undefined>('blobs', s => s.get(hash)))?.data
  }

  async pendingBlobs (): Promise<string[]> {
    const rows = await this.read<BlobRow[]>('blobs', s => s.index('pending').getAll(1))
    return rows.sort((a, b) => a.added - b.added).map(r => r.hash)
  }

  blobUploaded (hash: string): Promise<void> {
    return this.enqueue((tx, next) => {
      const s = tx.objectStore('blobs')
      const r = s.get(hash)
      r.onsuccess = () => { if (r.result !== undefined) s.put({ ...(r.result as BlobRow), pending: 0 }); next() }
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
    await this.commit()
    this.db.close()
    this.closed = true
    this.slot?.release()
  }

  async destroy (): Promise<void> {
    const held = this.closed ? [] : await this.records()
    await this.close()
    // Every record's database, and any left by a write cut short (a crash between catalog and document).
    const names = new Set(held.map(r => this.docName(r)))
    for (const d of await indexedDB.databases()) if (d.name?.startsWith(`${this.name}/`) === true) names.add(d.name)
    await Promise.all([...names].map(deleteDatabase))
    await deleteDatabase(this.name)
  }
}
