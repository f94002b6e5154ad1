// The device's local replica: record documents over the local store, local edits kept as pending
// updates (in one order, on one chain), the last metadata, and what the server sends for records, with
// the field index (field-index.ts) and the inbox (inbox.ts) kept in step. The sync engine moves it; the
// device API edits it.

import * as Y from 'yjs'
import { stateOfUpdates, stateOfWholeUpdate } from '../docs/state-of-update.ts'
import { readRecord, type RecordState } from '../docs/record.ts'
import { newId, parseDocName, parseFieldDocName } from '../ids.ts'
import type { Receipt } from '../protocol/receipts.ts'
import type { CommandFramePart, DeviceFrame } from '../protocol/device-frames.ts'
import { DeviceMessage } from '../protocol/device-frames.ts'
import { OfflineRefusal, type DeviceMetadata } from './offline-rules.ts'
import type { IndexedRecord, LocalMeta, LocalStore } from './store.ts'
import type { Emit } from './events.ts'
import { WriterIds } from './writer-id.ts'
import { entryOf, indexEntry, indexOf, indexWrite, newIndexCache, readUpdates, reindex, securedAttributes, stateWithSecured, type IndexState } from './field-index.ts'
import { addReceipts, keepEvicted, uploadRefused, withholdInbox } from './inbox.ts'

/**
 * Record documents the SDK loads for its own work (an update, a note, a command: not the app's `open`)
 * kept loaded once that work is done, the ones used last. Each loaded document stays on the heap: a device
 * that edited its 400 records once each held them all (bench/team's 25 simulated devices, 10,000 documents
 * and 160 MB, whose full collections stalled the devices' process for 100-200 ms). Reloading one from the
 * store costs tens of microseconds.
 */
export const CACHED_DOCUMENTS = 64

/** The origin of what the server sent: not a local edit. */
export const REMOTE = Symbol('remote')

/** The origin of a command's transactions: their updates are kept together as one pending command. */
export class CommandCapture {
  readonly parts: { record: string, update: Uint8Array }[] = []
}

/**
 * Applies what the server sent to an open document; false when it brought nothing the document did not
 * have (no struct, no deletion) and nothing waits in it for what is missing.
 */
const applyRemote = (doc: Y.Doc, payload: Uint8Array): boolean => {
  let changed = false
  const seen = (tr: Y.Transaction): void => {
    changed = tr.deleteSet.clients.size > 0 || tr.afterState.size !== tr.beforeState.size ||
      [...tr.afterState].some(([client, clock]) => tr.beforeState.get(client) !== clock)
  }
  doc.on('afterTransaction', seen)
  try { Y.applyUpdate(doc, payload, REMOTE) } finally { doc.off('afterTransaction', seen) }
  return changed || doc.store.pendingStructs !== null || doc.store.pendingDs !== null
}

/** The members the field index reads (field-index.ts) are public: IndexState. */
export class Replica implements IndexState {
  readonly store: LocalStore
  private readonly emit: Emit
  private metaValue!: LocalMeta
  private metadataValue: DeviceMetadata | null = null
  /** the open record documents */
  readonly docs = new Map<string, Y.Doc>()
  /** documents the app opened (`FieldsyncDevice.open`): it may hold and edit them, so they stay loaded */
  private readonly pinned = new Set<string>()
  /** the other documents, used longest ago first: past `cachedDocuments`, unloaded once the device's work is done */
  private readonly cached = new Set<string>()
  private readonly cachedDocuments: number
  /** device operations running (`use`): no document is unloaded meanwhile */
  private using = 0
  /** the kept Yjs client ids of this session's writer slot (see writer-id.ts for when one may be reused) */
  private writers!: WriterIds
  /** the client id every document of this session writes under now */
  private clientId = 0
  /** records in the store (loaded at open), so a record's first state can be indexed from its payload alone */
  known = new Set<string>()
  /** store writes of this cycle, awaited before the cursor is stored */
  private writes: Promise<unknown>[] = []
  /** the last cycle's cursor is stored (cycles store theirs in order, each after its own writes) */
  private cursorStored: Promise<void> = Promise.resolve()
  /** local work runs in order on this chain (store writes, then sends) */
  private chain: Promise<unknown> = Promise.resolve()
  /** the field index's cache of entries per entity (field-index.ts) */
  readonly indexCache = newIndexCache()
  /** an unsynced count is scheduled for the end of this turn */
  private unsyncedCounting = false
  private closed = false
  /** sends a frame now when the device is connected and live (the sync engine sets it) */
  sendLive: (f: DeviceFrame) => void = () => {}

  private constructor (store: LocalStore, emit: Emit, cachedDocuments: number) {
    this.store = store
    this.emit = emit
    this.cachedDocuments = cachedDocuments
  }

  static async load (store: LocalStore, emit: Emit, cachedDocuments = CACHED_DOCUMENTS): Promise<Replica> {
    const r = new Replica(store, emit, cachedDocuments)
    const stored = await store.meta()
    r.metaValue = stored === undefined
      ? { deviceId: newId(), cursor: 0, privilegeVersion: 0, metadata: null, receiptSeq: 0 }
      : { ...stored, receiptSeq: stored.receiptSeq ?? 0 }
    await store.setMeta(r.metaValue)
    r.metadataValue = r.metaValue.metadata === null ? null : JSON.parse(r.metaValue.metadata) as DeviceMetadata
    r.writers = await WriterIds.claim(store)
    r.clientId = await r.writers.idFor(r.user)
    r.known = new Set(await store.records())
    return r
  }

  get meta (): LocalMeta { return this.metaValue }
  /** the user the last metadata was for (null before the first sync) */
  private get user (): string | null { return this.metadataValue?.userId ?? null }
  /** the Yjs client id this session's documents write under now, and the writer slot it is kept in */
  get writer (): { readonly clientId: number, readonly slot: number | null } { return { clientId: this.clientId, slot: this.writers.slot } }

  /** Every open document writes under `id` from now on (a fresh or the user's own kept id: see writer-id.ts). */
  private moveTo (id: number): void {
    this.clientId = id
    for (const d of this.docs.values()) d.clientID = id
  }
  get metadata (): DeviceMetadata | null { return this.metadataValue }

  requireMetadata (): DeviceMetadata {
    if (this.metadataValue === null) throw new OfflineRefusal('command-not-offline', 'this device has not synced yet: no metadata')
    return this.metadataValue
  }

  queue<T> (f: () => Promise<T>): Promise<T> {
    const p = this.chain.then(f)
    this.chain = p.catch(() => {})
    return p
  }

  /** Resolves once every local write queued so far is stored. */
  settled (): Promise<unknown> {
    return this.chain
  }

  /**
   * The record's document, loaded from the local store; local edits are kept and sent at sync. `pin`: the
   * app's (kept loaded); else the SDK's own, for work inside `use`. Opens of a record while it loads share
   * its load: one document a record.
   */
  async open (record: string, pin = false): Promise<Y.Doc> {
    let doc = this.docs.get(record)
    if (doc === undefined) {
      let loading = this.loading.get(record)
      if (loading === undefined) {
        loading = this.load(record).finally(() => this.loading.delete(record))
        this.loading.set(record, loading)
      }
      doc = await loading
    }
    this.touch(record, pin)
    return doc
  }

  /** loads under way, one a record */
  private readonly loading = new Map<string, Promise<Y.Doc>>()

  private async load (record: string): Promise<Y.Doc> {
    const doc = new Y.Doc({ guid: record })
    const updates = await this.store.load(record)
    this.known.add(record)
    doc.transact(() => { for (const u of updates) Y.applyUpdate(doc, u) }, REMOTE)
    const raced = this.docs.get(record)
    if (raced !== undefined) { doc.destroy(); return raced }
    // (Loaded in full before any edit: it continues our id's clock from all the store holds of it.)
    doc.clientID = this.clientId
    doc.on('update', (u: Uint8Array, origin: unknown) => {
      if (origin instanceof CommandCapture) origin.parts.push({ record, update: u })
      else if (origin !== REMOTE) void this.localEdit(record, doc, u)
    })
    this.docs.set(record, doc)
    return doc
  }

  /**
   * A change stored for a record that was not loaded when it came: a document loaded since, or loading
   * now, may hold the store as it was before the change (a load reads it once), so it gets the change too
   * (Yjs takes what it has once).
   */
  private alsoToLoaded (record: string, payload: Uint8Array): void {
    const doc = this.docs.get(record)
    if (doc !== undefined) { Y.applyUpdate(doc, payload, REMOTE); return }
    void this.loading.get(record)?.then(d => { Y.applyUpdate(d, payload, REMOTE) }, () => {})
  }

  /** A record's state with the values of its secured fields' documents the device holds. */
  stateWithSecured (record: string, s: RecordState): Promise<RecordState> {
    return stateWithSecured(this, record, s)
  }

  private touch (record: string, pin: boolean): void {
    if (this.pinned.has(record)) return
    this.cached.delete(record)
    if (pin) this.pinned.add(record); else this.cached.add(record)
  }

  /**
   * Runs device work that holds documents across awaits (an update reads, then writes its document): none
   * is unloaded while work runs, nor while a local edit of it waits for its turn on the chain — an edit of
   * a document unloaded meanwhile would be taken for an edit of an evicted record.
   */
  async use<T> (f: () => Promise<T>): Promise<T> {
    this.using++
    try { return await f() } finally {
      this.using--
      this.unloadUnused()
    }
  }

  /** local edits of each record made and not stored yet */
  private readonly editing = new Map<string, number>()

  private unloadUnused (): void {
    if (this.using > 0 || this.closed) return
    for (const record of this.cached) {
      if (this.cached.size <= this.cachedDocuments) return
      if (this.editing.has(record)) continue // (unloaded once stored: localEdit)
      this.cached.delete(record)
      this.docs.get(record)?.destroy()
      this.docs.delete(record)
    }
  }

  private localEdit (record: string, doc: Y.Doc, update: Uint8Array): Promise<void> {
    const state = readRecord(doc)
    const field = parseFieldDocName(record)
    this.editing.set(record, (this.editing.get(record) ?? 0) + 1)
    return this.queue(async () => {
      try { await this.storeEdit(record, doc, update, state, field) } finally {
        const n = this.editing.get(record)! - 1
        if (n > 0) this.editing.set(record, n); else this.editing.delete(record)
        this.unloadUnused()
      }
    })
  }

  private async storeEdit (record: string, doc: Y.Doc, update: Uint8Array, state: RecordState, field: ReturnType<typeof parseFieldDocName>): Promise<void> {
    const entry = field === null ? await entryOf(this, record, state) : null
    // Evicted after the edit was made, before it was stored (the evict frame was queued first): the
    // edit joins the record's other unsynced edits in the inbox. Stored, it would be a pending edit of a
    // record the device no longer holds, sent and later built on without the state it depends on.
    if (this.docs.get(record) !== doc) { await keepEvicted(this.store, record, state, 1); return }
    // The edit and its index entry in one commit (it goes out once stored).
    const stored = this.store.addPending(record, update)
    if (field === null) await indexWrite(this, record, this.store.setIndex(record, entry))
    const id = await stored
    if (field !== null) await reindex(this, field.record)
    this.emitUnsynced()
    this.sendLive({ type: DeviceMessage.push, record, id, update })
  }

  /** Stores the parts of a command (captured from its transactions) as one pending command. */
  storeCommand (command: string, target: string, capture: CommandCapture): Promise<void> {
    return this.queue(async () => {
      const group = newId()
      const parts: CommandFramePart[] = []
      for (const p of capture.parts) {
        const id = await this.store.addPending(p.record, p.update, { group, name: command, target })
        parts.push({ record: p.record, id, update: p.update })
        const d = this.docs.get(p.record)
        await indexWrite(this, p.record, this.store.setIndex(p.record, d === undefined ? null : await entryOf(this, p.record, readRecord(d))))
      }
      this.emitUnsynced()
      this.sendLive({ type: DeviceMessage.command, command, target, parts })
    })
  }

  /**
   * Tells listeners how many local edits are unsynced. Counted once for all the edits and
   * acknowledgements of a turn (under live load a device acknowledges dozens a second), after them.
   */
  emitUnsynced (): void {
    if (this.unsyncedCounting) return
    this.unsyncedCounting = true
    setTimeout(() => { // (a browser has no setImmediate)
      this.unsyncedCounting = false
      if (!this.closed) void this.store.pendingCount().then(n => this.emit('unsynced', [n]))
    }, 0)
  }

  /** The entity's index entries, from the cache or read once from the store. */
  indexOf (entity: string): Promise<IndexedRecord[]> {
    return indexOf(this, entity)
  }

  // --- what the server sends -------------------------------------------------------------------

  async setMetadata (json: string): Promise<void> {
    const m = JSON.parse(json) as DeviceMetadata
    const user = this.user
    this.metadataValue = m
    this.metaValue = { ...this.metaValue, metadata: json, privilegeVersion: m.version }
    await this.store.setMeta(this.metaValue)
    // Another user on this store (or the first sync): the server bound our ids to their first writer.
    if (m.userId !== user) this.moveTo(await this.writers.idFor(m.userId))
  }

  /**
   * Our state of a record the server asked for (a sync step 1), read from the store after the local writes
   * queued before it: the open document may hold an edit not stored yet, and nothing under our kept client
   * id may leave before it is stored (writer-id.ts, rule 2).
   */
  stateFor (record: string, stateVector: Uint8Array): Promise<Uint8Array> {
    return this.queue(async () => {
      await this.store.commit()
      const updates = await this.store.load(record)
      return Y.diffUpdate(updates.length === 1 ? updates[0] : Y.mergeUpdates(updates), stateVector)
    })
  }

  /**
   * A record's state or update from the server. Writes are not awaited one by one: the store commits
   * those made close together at once, and the cycle's end waits for all of them before the cursor moves.
   */
  async receive (record: string, payload: Uint8Array): Promise<void> {
    const known = this.known.has(record)
    this.known.add(record)
    const open = this.docs.get(record)
    const field = parseFieldDocName(record)
    if (field !== null) {
      // A secured field's document: stored as it is; its record's index entry shows the value.
      const stored = known || open !== undefined ? this.store.put(record, payload) : this.store.receive(record, payload, null)
      if (open !== undefined) Y.applyUpdate(open, payload, REMOTE); else this.alsoToLoaded(record, payload)
      this.cycleWrite(stored.then(() => reindex(this, field.record)))
      return
    }
    if (!known && open === undefined) {
      // A record new to this device: its payload is its whole state; one write stores both. Its state is
      // read from the payload itself when it holds map entries only (the usual record), else from a document.
      const state = stateOfWholeUpdate(payload) ?? readUpdates(record, [payload])
      const entity = parseDocName(record)?.entity ?? ''
      const entry = securedAttributes(this, entity).length === 0 ? indexEntry(record, state) : await entryOf(this, record, state)
      this.cycleWrite(indexWrite(this, record, this.store.receive(record, payload, entry), entity))
      this.alsoToLoaded(record, payload)
      return
    }
    // A record it holds: its state after the payload gives the index entry, stored with the payload.
    let state: RecordState
    if (open !== undefined) {
      // The server sends a held record's changes after the cursor, this device's own edits among them
      // (bench:team live: one received change in five). Its open document has them, and so has the
      // store (an edit is stored before it goes out): nothing to store, nor to index again.
      if (!applyRemote(open, payload)) return
      state = readRecord(open)
    } else {
      // Read from the updates themselves when they hold map entries only (a live change of a record held
      // but not open: the usual case), else from a document made of them.
      const updates = [...await this.store.load(record), payload]
      state = stateOfUpdates(updates) ?? readUpdates(record, updates)
    }
    const entry = await entryOf(this, record, state)
    this.cycleWrite(indexWrite(this, record, this.store.put(record, payload, entry)))
    if (open === undefined) this.alsoToLoaded(record, payload)
  }

  /** A store write of this cycle (once: records received one after another may share the store's promise). */
  private cycleWrite (write: Promise<unknown>): void {
    if (this.writes[this.writes.length - 1] !== write) this.writes.push(write)
  }

  /** The server has a local edit. Stored with the next group commit; the caller need not wait for that. */
  acknowledge (id: number): Promise<void> {
    const stored = this.store.acknowledge(id)
    this.emitUnsynced() // (counted after the acknowledgement is stored)
    return stored
  }

  /** Receipts into the inbox, each once (inbox.ts). */
  addReceipts (receipts: readonly Receipt[]): Promise<void> {
    return addReceipts(this.store, this.emit, receipts)
  }

  /** The server refused attachment content for good: the notes that point at it go to the inbox (inbox.ts). */
  uploadRefused (hash: string, size: number, status: number, why: string): Promise<void> {
    return uploadRefused(this.store, r => this.open(r), hash, size, status, why)
  }

  /**
   * Removes an inbox item the user dealt with; a server receipt is marked to be told to the server as
   * dismissed, so that it is not offered to the user's new devices.
   */
  async dismiss (id: number): Promise<void> {
    const item = (await this.store.inbox()).find(i => i.id === id)
    if (item === undefined) return
    await this.store.removeInbox(id)
    const seq = (item.receipt as Receipt).seq
    if (seq === undefined) return
    this.metaValue = { ...this.metaValue, dismissals: [...this.metaValue.dismissals ?? [], seq] }
    await this.store.setMeta(this.metaValue)
  }

  /** The server took these dismissals. */
  async dismissalsSent (seqs: readonly number[]): Promise<void> {
    const sent = new Set(seqs)
    this.metaValue = { ...this.metaValue, dismissals: (this.metaValue.dismissals ?? []).filter(s => !sent.has(s)) }
    await this.store.setMeta(this.metaValue)
  }

  /**
   * A cycle is complete: once its writes are stored, store its cursor and receipt mark; returns when
   * that is done. Cycles store their cursors in order. A cycle the device asked for commits its writes
   * now. A live one (the server ends one every few changes of held records) leaves them to the store's
   * next group commit, so the caller need not wait for it: under live load a device ends dozens of
   * cycles a second, and committing each, then its cursor apart, was most of the device's work.
   */
  finishCycle (cursor: number, receiptSeq: number, asked: boolean): Promise<void> {
    const writes = this.writes.splice(0)
    // (what the server sent may be held back for a larger commit: not now)
    const committed = asked ? this.store.commit() : Promise.resolve()
    const stored = this.cursorStored.then(async () => {
      await committed
      await Promise.all(writes)
      this.metaValue = { ...this.metaValue, cursor, receiptSeq: Math.max(this.metaValue.receiptSeq, receiptSeq) }
      await this.store.setMeta(this.metaValue, !asked)
    })
    // A failed write keeps its cycle's cursor from being stored; the cycles after it go on (the caller reports it).
    this.cursorStored = stored.catch(() => {})
    return stored
  }

  /** Drops every record outside `keep`; returns those dropped. */
  async keepOnly (keep: ReadonlySet<string>): Promise<string[]> {
    const gone = (await this.store.records()).filter(r => !keep.has(r))
    for (const r of gone) await this.evict(r)
    return gone
  }

  /** A record left the scope: unsynced edits go to the inbox, never silently away. */
  async evict (record: string): Promise<void> {
    const pending = (await this.store.pending()).filter(p => p.record === record)
    if (pending.length > 0) await keepEvicted(this.store, record, readRecord(await this.open(record)), pending.length)
    if (await this.holdsOwnItems(record)) this.moveTo(await this.writers.retire(this.user)) // (writer-id.ts, rule 3)
    // Ids kept for other slots (another tab, another process of this store) or users that wrote in the
    // record go too: their next holder would write into it from an empty document at clocks the server has.
    const writers = await this.writersIn(record)
    if (writers.length > 0) await this.store.forgetWriterIds(writers)
    this.docs.get(record)?.destroy()
    this.docs.delete(record)
    this.cached.delete(record)
    this.pinned.delete(record)
    this.known.delete(record)
    await indexWrite(this, record, this.store.remove(record))
    const field = parseFieldDocName(record)
    if (field !== null) await reindex(this, field.record) // its value leaves the record's listing
    await withholdInbox(this.store, record)
    this.emit('evicted', [record])
  }

  /** Whether the record's stored or open copy holds items written under the current client id. */
  private async holdsOwnItems (record: string): Promise<boolean> {
    const open = this.docs.get(record)
    if (open !== undefined && Y.getState(open.store, this.clientId) > 0) return true
    return (await this.store.load(record)).some(u => Y.parseUpdateMeta(u).to.has(this.clientId))
  }

  /** The client ids with items in the record's stored or open copy (not this session's current one). */
  private async writersIn (record: string): Promise<number[]> {
    const ids = new Set<number>()
    const open = this.docs.get(record)
    if (open !== undefined) for (const c of open.store.clients.keys()) ids.add(c)
    for (const u of await this.store.load(record)) for (const c of Y.parseUpdateMeta(u).to.keys()) ids.add(c)
    ids.delete(this.clientId)
    return [...ids]
  }

  async close (): Promise<void> {
    this.closed = true
    await this.chain
    // What is held back for a group commit is stored now; so are the cursors of the cycles that wrote it.
    await this.store.commit()
    await this.cursorStored
    for (const d of this.docs.values()) d.destroy()
    await this.store.close()
  }
}
