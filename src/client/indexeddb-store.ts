// The browser device store: ONE IndexedDB database for every record (not a database per document, as
// y-indexeddb keeps), with writes made close together committed in one transaction.

import type { IndexedRecord, InboxItem, LocalMeta, LocalStore, PendingUpdate } from './store.ts'

const STORES = ['meta', 'updates', 'idx', 'inbox'] as const

type Op = { run: (tx: IDBTransaction) => IDBRequest | null, resolve: (v: unknown) => void, reject: (e: unknown) => void, request?: IDBRequest | null }

const done = <T>(r: IDBRequest<T>): Promise<T> => new Promise((resolve, reject) => {
  r.onsuccess = () => resolve(r.result)
  r.onerror = () => reject(r.error)
})

export class IndexedDbLocalStore implements LocalStore {
  private readonly db: IDBDatabase
  private queue: Op[] = []
  private flushing: Promise<void> | null = null
  private scheduled = false

  private constructor (db: IDBDatabase) {
    this.db = db
  }

  static open (name = 'fieldsync'): Promise<IndexedDbLocalStore> {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(name, 1)
      req.onupgradeneeded = () => {
        const db = req.result
        db.createObjectStore('meta')
        const updates = db.createObjectStore('updates', { keyPath: 'id', autoIncrement: true })
        updates.createIndex('record', 'record')
        updates.createIndex('pending', 'pending')
        const idx = db.createObjectStore('idx', { keyPath: 'record' })
        idx.createIndex('entity', 'entity')
        db.createObjectStore('inbox', { keyPath: 'id', autoIncrement: true })
      }
      req.onsuccess = () => resolve(new IndexedDbLocalStore(req.result))
      req.onerror = () => reject(req.error)
    })
  }

  /** Queues a write; every write queued before the next flush shares its transaction. */
  private write<T> (run: (tx: IDBTransaction) => IDBRequest | null): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (v: unknown) => void, reject })
      if (!this.scheduled) {
        this.scheduled = true
        setTimeout(() => { void this.flush() }, 0)
      }
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
      for (const op of ops) op.request = op.run(tx)
      tx.oncomplete = () => { for (const op of ops) op.resolve(op.request?.result); resolve() }
      tx.onerror = tx.onabort = () => { for (const op of ops) op.reject(tx.error); resolve() }
    })
    await this.flushing
    this.flushing = null
  }

  /** Reads see every write queued before them. */
  private async read<T> (store: typeof STORES[number], f: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
    if (this.queue.length > 0) await this.flush()
    else if (this.flushing !== null) await this.flushing
    return done(f(this.db.transaction(store, 'readonly').objectStore(store)))
  }

  async meta (): Promise<LocalMeta | undefined> {
    return this.read('meta', s => s.get('meta') as IDBRequest<LocalMeta | undefined>)
  }

  setMeta (m: LocalMeta): Promise<void> {
    return this.write(tx => tx.objectStore('meta').put(m, 'meta'))
  }

  async records (): Promise<string[]> {
    if (this.queue.length > 0) await this.flush()
    else if (this.flushing !== null) await this.flushing
    return new Promise((resolve, reject) => {
      const out: string[] = []
      // One step per distinct record, in the index's order.
      const req = this.db.transaction('updates', 'readonly').objectStore('updates').index('record').openKeyCursor(null, 'nextunique')
      req.onsuccess = () => {
        const c = req.result
        if (c === null) { resolve(out); return }
        out.push(String(c.key))
        c.continue()
      }
      req.onerror = () => reject(req.error)
    })
  }

  async load (record: string): Promise<Uint8Array[]> {
    const rows = await this.read('updates', s => s.index('record').getAll(record)) as { id: number, data: Uint8Array }[]
    return rows.sort((a, b) => a.id - b.id).map(r => r.data)
  }

  put (record: string, update: Uint8Array): Promise<void> {
    return this.write(tx => tx.objectStore('updates').add({ record, data: update, pending: 0 }))
  }

  addPending (record: string, update: Uint8Array): Promise<number> {
    return this.write<number>(tx => tx.objectStore('updates').add({ record, data: update, pending: 1 }))
  }

  async pending (): Promise<PendingUpdate[]> {
    const rows = await this.read('updates', s => s.index('pending').getAll(1)) as { id: number, record: string, data: Uint8Array }[]
    return rows.sort((a, b) => a.id - b.id).map(r => ({ id: r.id, record: r.record, update: r.data }))
  }

  acknowledge (id: number): Promise<void> {
    return this.write(tx => {
      const s = tx.objectStore('updates')
      const r = s.get(id)
      r.onsuccess = () => { if (r.result !== undefined) s.put({ ...r.result, pending: 0 }) }
      return null
    })
  }

  remove (record: string): Promise<void> {
    return this.write(tx => {
      const s = tx.objectStore('updates')
      const r = s.index('record').getAllKeys(record)
      r.onsuccess = () => { for (const k of r.result) s.delete(k) }
      tx.objectStore('idx').delete(record)
      return null
    })
  }

  setIndex (record: string, entry: IndexedRecord | null): Promise<void> {
    return this.write(tx => entry === null ? tx.objectStore('idx').delete(record) : tx.objectStore('idx').put(entry))
  }

  async index (entity: string): Promise<IndexedRecord[]> {
    const rows = await this.read('idx', s => s.index('entity').getAll(entity)) as IndexedRecord[]
    return rows.sort((a, b) => a.record < b.record ? -1 : 1)
  }

  addInbox (item: Omit<InboxItem, 'id'>): Promise<number> {
    return this.write<number>(tx => tx.objectStore('inbox').add(item))
  }

  async inbox (): Promise<InboxItem[]> {
    return await this.read('inbox', s => s.getAll()) as InboxItem[]
  }

  removeInbox (id: number): Promise<void> {
    return this.write(tx => tx.objectStore('inbox').delete(id))
  }

  async close (): Promise<void> {
    await this.flush()
    this.db.close()
  }
}
