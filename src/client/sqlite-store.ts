// The Node device store: one SQLite file (WAL, synchronous=FULL by default) holding every record.
// Writes are committed in groups, in the order they were made: those made in the same turn of the event
// loop share one transaction (one fsync, which blocks the thread), and what the server sent (put,
// receive) may wait up to SERVER_DATA_COMMIT_MS for more to share it — an initial sync brings
// thousands of records, and its cycle's end commits at once (commit). Reads see every write made before
// them: most commit what is queued first; load() adds the record's queued updates to what is stored
// and commits nothing (a received change of a record the device holds is read with its earlier state
// and stored with its index entry in the same turn).

import { rmSync } from 'node:fs'
import Database from 'better-sqlite3'
import * as Y from 'yjs'
import type { IndexedRecord, InboxItem, LocalMeta, LocalStore, PendingCommand, PendingUpdate } from './store.ts'
import { COMPACT_ROWS } from './compact.ts'
import { claimFileSlot, removeSlotFiles, type FileSlot } from './sqlite-store-slots.ts'

const bytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)

export interface SqliteLocalStoreOptions {
  /**
   * SQLite's `synchronous` setting: `full` (the default) syncs every commit to disk, so a local edit
   * survives a power loss once stored; `normal` (WAL) survives the app's crash but may lose the last
   * commits on a power loss or OS crash. (bench/team runs many simulated devices on one disk with it.)
   */
  readonly synchronous?: 'full' | 'normal'
}

interface QueuedWrite { run: () => unknown, resolve: (v: unknown) => void, reject: (e: unknown) => void }

/**
 * First states received one after another (receive), queued as one write with one promise: an initial sync
 * brings thousands, and what each kept until the commit (a closure, a promise, its entry's object and values)
 * the garbage collector copied at every scavenge meanwhile. An entry is kept as the JSON it is stored as.
 */
interface Received {
  readonly records: string[]
  readonly updates: Uint8Array[]
  /** the entry's entity and values (JSON), or null: no entry */
  readonly entities: (string | null)[]
  readonly data: (string | null)[]
}

/** How long what the server sent may wait for a commit (local edits and everything else commit at the end of the turn). */
const SERVER_DATA_COMMIT_MS = 50

export class SqliteLocalStore implements LocalStore {
  private readonly db: Database.Database
  private readonly file: string
  private queue: QueuedWrite[] = []
  /** a commit at the end of this turn is scheduled */
  private scheduled = false
  /** a commit of server data is scheduled for later */
  private timer: ReturnType<typeof setTimeout> | null = null
  /** updates queued and not committed yet, per record (load() reads them with the stored ones) */
  private unflushed = new Map<string, Uint8Array[]>()
  /** the last write queued, when it is first states received: the next receive joins it */
  private received: { readonly into: Received, readonly written: Promise<void> } | null = null
  /** records removed by a queued write: their stored updates are gone once it commits */
  private removed = new Set<string>()
  private readonly statements = new Map<string, Database.Statement>()
  /** the last setMeta queued (the one its group commit writes) */
  private metaQueued: LocalMeta | null = null
  /** the metadata in the metadata row, once this store wrote it (undefined: not known) */
  private metadataStored: string | null | undefined = undefined
  private readonly synchronous: 'full' | 'normal'
  /** the writer slot this store holds, once claimed (null: none was free) */
  private slot: FileSlot | null | undefined = undefined

  /** A statement prepared once. */
  private st<P extends unknown[] = unknown[], R = unknown> (sql: string): Database.Statement<P, R> {
    let s = this.statements.get(sql)
    if (s === undefined) { s = this.db.prepare(sql); this.statements.set(sql, s) }
    return s as unknown as Database.Statement<P, R>
  }

  /** Queues a write for the next group commit: at the end of this turn, or (`later`: what may wait: server data, acknowledgements, a live cycle's cursor) within SERVER_DATA_COMMIT_MS. */
  private write<T> (f: () => T, later = false): Promise<T> {
    this.received = null // (a receive after this write is queued after it)
    return new Promise((resolve, reject) => {
      this.queue.push({ run: f, resolve: resolve as (v: unknown) => void, reject })
      if (!later) {
        if (!this.scheduled) { this.scheduled = true; setImmediate(() => this.flush()) }
      } else if (this.timer === null && !this.scheduled) {
        this.timer = setTimeout(() => this.flush(), SERVER_DATA_COMMIT_MS)
      }
    })
  }

  async commit (): Promise<void> {
    this.flush()
  }

  /** Notes an update queued for `record` (before its write is queued). */
  private queued (record: string, update: Uint8Array): void {
    const list = this.unflushed.get(record)
    if (list === undefined) this.unflushed.set(record, [update]); else list.push(update)
  }

  private flush (): void {
    this.scheduled = false
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null }
    const ops = this.queue
    this.queue = []
    this.received = null
    this.unflushed = new Map()
    this.removed = new Set()
    if (ops.length === 0 || !this.db.open) return
    // Each write's promise settles only after the commit: a local edit goes out once stored, and its
    // Yjs client id is kept across sessions (src/client/writer-id.ts), so what went out must be stored.
    const outcomes: { ok: boolean, value: unknown }[] = []
    try {
      this.db.transaction(() => {
        for (const op of ops) {
          try { outcomes.push({ ok: true, value: op.run() }) } catch (e) { outcomes.push({ ok: false, value: e }) }
        }
      })()
    } catch (e) {
      this.metadataStored = undefined // (rolled back: not known any more)
      for (const op of ops) op.reject(e)
      throw e
    }
    ops.forEach((op, i) => { const o = outcomes[i]; if (o.ok) op.resolve(o.value); else op.reject(o.value) })
  }

  constructor (file: string, options: SqliteLocalStoreOptions = {}) {
    this.file = file
    this.synchronous = options.synchronous ?? 'full'
    this.db = new Database(file)
    // 8 KiB pages (for a new file; an existing one keeps its own). A record's state is one to a few KiB:
    // with 4 KiB pages an initial sync spends as long in the kernel writing pages as in the rest of the
    // store. But every live commit writes each page it touched whole to the WAL: with 16 KiB pages, 25
    // simulated devices under live load wrote about 100 MB/s. In process, 10,000 records received then
    // 4,000 live changes (one commit per 4), us of CPU per record / per change: 4 KiB 26-28 / 65-66,
    // 8 KiB 20-22 / 61-62, 16 KiB 18-20 / 65-68 (and the most wall time a change, 101-117 against 75-87).
    this.db.pragma('page_size = 8192')
    this.db.pragma('journal_mode = WAL')
    this.db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`)
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (k INTEGER PRIMARY KEY CHECK (k = 1), data TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS metadata (k INTEGER PRIMARY KEY CHECK (k = 1), data TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS updates (id INTEGER PRIMARY KEY AUTOINCREMENT, record TEXT NOT NULL, data BLOB NOT NULL, pending INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS updates_record ON updates (record, id);
      -- Only pending edits are indexed as such (a few), not every update the server sent (thousands).
      CREATE INDEX IF NOT EXISTS updates_pending_only ON updates (id) WHERE pending = 1;
      DROP INDEX IF EXISTS updates_pending;
      CREATE TABLE IF NOT EXISTS idx (record TEXT PRIMARY KEY, entity TEXT NOT NULL, data TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS idx_entity ON idx (entity, record);
      CREATE TABLE IF NOT EXISTS inbox (id INTEGER PRIMARY KEY AUTOINCREMENT, data TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS blobs (hash TEXT PRIMARY KEY, data BLOB NOT NULL, pending INTEGER NOT NULL, added INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS writers (slot INTEGER NOT NULL, user TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (slot, user));
    `)
    // Stores made before commands existed lack the column.
    if (!this.db.prepare<[], { name: string }>('PRAGMA table_info(updates)').all().some(c => c.name === 'command')) this.db.exec('ALTER TABLE updates ADD COLUMN command TEXT')
  }

  async meta (): Promise<LocalMeta | undefined> {
    this.flush()
    const r = this.st<[], { data: string }>('SELECT data FROM meta WHERE k = 1').get()
    if (r === undefined) return undefined
    const m = JSON.parse(r.data) as Omit<LocalMeta, 'metadata'> & { metadata?: string | null }
    // (a store written before the metadata had a row of its own holds it in this one)
    if (m.metadata !== undefined) return m as LocalMeta
    const metadata = this.st<[], { data: string }>('SELECT data FROM metadata WHERE k = 1').get()?.data ?? null
    return { ...m, metadata }
  }

  /**
   * The cursor moves with every live cycle (dozens a second under live load), the metadata (tens of KiB)
   * seldom: it has a row of its own, written only when it changed. Of the settings queued for one group
   * commit only the last is written: the commit stores all of them or none.
   */
  setMeta (m: LocalMeta, lazy = false): Promise<void> {
    this.metaQueued = m
    return this.write(() => {
      if (this.metaQueued !== m) return
      const { metadata, ...rest } = m
      this.st('INSERT INTO meta (k, data) VALUES (1, ?) ON CONFLICT (k) DO UPDATE SET data = excluded.data').run(JSON.stringify(rest))
      if (metadata === this.metadataStored) return
      if (metadata === null) this.st('DELETE FROM metadata WHERE k = 1').run()
      else this.st('INSERT INTO metadata (k, data) VALUES (1, ?) ON CONFLICT (k) DO UPDATE SET data = excluded.data').run(metadata)
      this.metadataStored = metadata
    }, lazy)
  }

  async records (): Promise<string[]> {
    this.flush()
    return this.st<[], { record: string }>('SELECT DISTINCT record FROM updates ORDER BY record').all().map(r => r.record)
  }

  async load (record: string): Promise<Uint8Array[]> {
    const rows = this.removed.has(record) ? [] : this.st<[string], { id: number, data: Buffer }>('SELECT id, data FROM updates WHERE record = ? ORDER BY id').all(record)
    const stored = rows.map(r => bytes(r.data))
    if (rows.length > COMPACT_ROWS) this.compact(record, rows[rows.length - 1].id, stored)
    const queued = this.unflushed.get(record)
    return queued === undefined ? stored : [...stored, ...queued]
  }

  /** records whose compaction is queued */
  private compacting = new Set<string>()

  /**
   * Replaces the record's stored updates up to row `upTo` by their merge, with the next group commit.
   * Pending edits keep their rows (they go out until acknowledged); their content in the merge as well
   * changes nothing (Yjs takes what it has once). Writes queued meanwhile keep theirs.
   */
  private compact (record: string, upTo: number, updates: Uint8Array[]): void {
    if (this.compacting.has(record)) return
    this.compacting.add(record)
    const merged = Y.mergeUpdates(updates)
    void this.write(() => {
      this.compacting.delete(record)
      this.st('DELETE FROM updates WHERE record = ? AND id <= ? AND pending = 0').run(record, upTo)
      this.st('INSERT INTO updates (record, data, pending) VALUES (?, ?, 0)').run(record, merged)
    }, true)
  }

  put (record: string, update: Uint8Array, entry?: IndexedRecord | null): Promise<void> {
    this.queued(record, update)
    // (the entry as JSON now: the string waits for the commit, not the object and its values)
    const data = entry == null ? null : JSON.stringify(entry.values)
    return this.write(() => {
      this.st('INSERT INTO updates (record, data, pending) VALUES (?, ?, 0)').run(record, update)
      if (entry !== undefined) this.writeIndexData(record, entry?.entity ?? null, data)
    }, true)
  }

  /** Joins the first states received just before (see Received); their promise settles once they are committed. */
  receive (record: string, update: Uint8Array, entry: IndexedRecord | null): Promise<void> {
    this.queued(record, update)
    let r = this.received
    if (r === null) {
      const into: Received = { records: [], updates: [], entities: [], data: [] }
      r = { into, written: this.write(() => { this.writeReceived(into) }, true) }
      this.received = r
    }
    const { into } = r
    into.records.push(record)
    into.updates.push(update)
    into.entities.push(entry === null ? null : entry.entity)
    into.data.push(entry === null ? null : JSON.stringify(entry.values))
    return r.written
  }

  /** Stores first states received, each with its entry. Each is written even if one before it failed; the first failure rejects them all. */
  private writeReceived (r: Received): void {
    const insert = this.st('INSERT INTO updates (record, data, pending) VALUES (?, ?, 0)')
    let failure: { error: unknown } | null = null
    for (let i = 0; i < r.records.length; i++) {
      try {
        insert.run(r.records[i], r.updates[i])
        this.writeIndexData(r.records[i], r.entities[i], r.data[i])
      } catch (e) { failure ??= { error: e } }
    }
    if (failure !== null) throw failure.error
  }

  addPending (record: string, update: Uint8Array, command?: PendingCommand): Promise<number> {
    this.queued(record, update)
    return this.write(() => Number(this.st('INSERT INTO updates (record, data, pending, command) VALUES (?, ?, 1, ?)').run(record, update, command === undefined ? null : JSON.stringify(command)).lastInsertRowid))
  }

  async pending (): Promise<PendingUpdate[]> {
    this.flush()
    return this.st<[], { id: number, record: string, data: Buffer, command: string | null }>('SELECT id, record, data, command FROM updates WHERE pending = 1 ORDER BY id').all()
      .map(r => ({ id: r.id, record: r.record, update: bytes(r.data), ...(r.command === null ? {} : { command: JSON.parse(r.command) as PendingCommand }) }))
  }

  /** Counted in the next group commit, after the writes queued before it (it does not hurry that commit). */
  pendingCount (): Promise<number> {
    return this.write(() => this.st<[], { n: number }>('SELECT count(*) AS n FROM updates WHERE pending = 1').get()!.n, true)
  }

  acknowledge (id: number): Promise<void> {
    return this.write(() => { this.st('UPDATE updates SET pending = 0 WHERE id = ?').run(id) }, true)
  }

  remove (record: string): Promise<void> {
    this.unflushed.delete(record)
    this.removed.add(record)
    return this.write(() => {
      this.st('DELETE FROM updates WHERE record = ?').run(record)
      this.st('DELETE FROM idx WHERE record = ?').run(record)
    })
  }

  setIndex (record: string, entry: IndexedRecord | null): Promise<void> {
    return this.write(() => this.writeIndex(record, entry))
  }

  private writeIndex (record: string, entry: IndexedRecord | null): void {
    this.writeIndexData(record, entry === null ? null : entry.entity, entry === null ? null : JSON.stringify(entry.values))
  }

  /** Writes an index entry: its entity and values (JSON), or none (null). */
  private writeIndexData (record: string, entity: string | null, data: string | null): void {
    if (entity === null || data === null) { this.st('DELETE FROM idx WHERE record = ?').run(record); return }
    // One statement in the usual cases: a new entry (an initial sync's), or one there with its entity, of
    // which only the data changes (idx_entity is not rewritten). Its entity changed: a second one.
    if (this.st('INSERT INTO idx (record, entity, data) VALUES (?, ?, ?) ON CONFLICT (record) DO UPDATE SET data = excluded.data WHERE entity = excluded.entity').run(record, entity, data).changes > 0) return
    this.st('UPDATE idx SET entity = ?, data = ? WHERE record = ?').run(entity, data, record)
  }

  async index (entity: string): Promise<IndexedRecord[]> {
    this.flush()
    return this.st<[string], { record: string, entity: string, data: string }>('SELECT * FROM idx WHERE entity = ? ORDER BY record').all(entity)
      .map(r => ({ record: r.record, entity: r.entity, values: JSON.parse(r.data) as Record<string, unknown> }))
  }

  addInbox (item: Omit<InboxItem, 'id'>): Promise<number> {
    return this.write(() => Number(this.st('INSERT INTO inbox (data) VALUES (?)').run(JSON.stringify(item)).lastInsertRowid))
  }

  async inbox (): Promise<InboxItem[]> {
    this.flush()
    return this.st<[], { id: number, data: string }>('SELECT * FROM inbox ORDER BY id').all().map(r => ({ ...JSON.parse(r.data) as Omit<InboxItem, 'id'>, id: r.id }))
  }

  removeInbox (id: number): Promise<void> {
    return this.write(() => { this.st('DELETE FROM inbox WHERE id = ?').run(id) })
  }

  putBlob (hash: string, data: Uint8Array, pending: boolean): Promise<void> {
    return this.write(() => { this.st('INSERT INTO blobs (hash, data, pending, added) VALUES (?, ?, ?, ?) ON CONFLICT (hash) DO UPDATE SET pending = max(pending, excluded.pending)').run(hash, data, pending ? 1 : 0, Date.now()) })
  }

  async blob (hash: string): Promise<Uint8Array | undefined> {
    this.flush()
    const r = this.st<[string], { data: Buffer }>('SELECT data FROM blobs WHERE hash = ?').get(hash)
    return r === undefined ? undefined : bytes(r.data)
  }

  async pendingBlobs (): Promise<string[]> {
    this.flush()
    return this.st<[], { hash: string }>('SELECT hash FROM blobs WHERE pending = 1 ORDER BY added, hash').all().map(r => r.hash)
  }

  blobUploaded (hash: string): Promise<void> {
    return this.write(() => { this.st('UPDATE blobs SET pending = 0 WHERE hash = ?').run(hash) })
  }

  private get inMemory (): boolean { return this.file === ':memory:' || this.file === '' }

  async claimWriterSlot (slots: number): Promise<number | null> {
    if (this.inMemory) return 0 // (no one else can open it)
    if (this.slot === undefined) {
      this.slot = claimFileSlot(this.file, slots)
      // With synchronous=normal a commit may be lost to a power loss or an OS crash: after a holder that
      // did not end cleanly, the store may lack items it wrote and sent under the slot's ids.
      if (this.slot?.endedUnclean === true && this.synchronous === 'normal') {
        const slot = this.slot.slot
        await this.write(() => { this.st('DELETE FROM writers WHERE slot = ?').run(slot) })
      }
    }
    return this.slot?.slot ?? null
  }

  async writerId (slot: number, user: string): Promise<number | undefined> {
    this.flush()
    return this.st<[number, string], { id: number }>('SELECT id FROM writers WHERE slot = ? AND user = ?').get(slot, user)?.id
  }

  setWriterId (slot: number, user: string, id: number): Promise<void> {
    return this.write(() => { this.st('INSERT INTO writers (slot, user, id) VALUES (?, ?, ?) ON CONFLICT (slot, user) DO UPDATE SET id = excluded.id').run(slot, user, id) })
  }

  forgetWriterIds (ids: readonly number[]): Promise<void> {
    return this.write(() => { for (const id of ids) this.st('DELETE FROM writers WHERE id = ?').run(id) })
  }

  async close (): Promise<void> {
    this.flush()
    this.db.close()
    // (after the last commit: a clean end says every write of the session is stored)
    this.slot?.release()
  }

  async destroy (): Promise<void> {
    if (this.db.open) await this.close()
    if (this.inMemory) return
    for (const suffix of ['', '-wal', '-shm']) rmSync(this.file + suffix, { force: true })
    removeSlotFiles(this.file)
  }
}
