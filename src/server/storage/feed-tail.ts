// The newest entries of the record log, kept in memory by the adapter that writes them, so that the changes
// feed answers a device's live cycle (what changed since a recent cursor, and those records' updates since
// it) without reading the database: with a team online every commit starts a cycle on each device holding
// the record, and each read the log three times. Only for a log with one writer (the embedded SQLite file,
// owned by one process): entries written elsewhere would be missed.

import type { DocName } from '../../ids.ts'

interface Entry {
  readonly seq: number
  readonly doc: DocName
  /** (emptied once dead: only its position and record are read then) */
  updates: readonly Uint8Array[]
  bytes: number
  /** removed from the log since (a compaction replaced it) */
  dead: boolean
}

/** How much the tail keeps: at most `entries` log entries of at most `bytes` in all. */
export interface FeedTailBounds { readonly entries: number, readonly bytes: number }

export const DEFAULT_FEED_TAIL: FeedTailBounds = { entries: 4096, bytes: 4 * 1024 * 1024 }

/** `u` as an array of its own: a view into a socket's read buffer would keep all of that buffer. */
const own = (u: Uint8Array): Uint8Array => u.byteOffset === 0 && u.byteLength === u.buffer.byteLength ? u : u.slice()

export class FeedTail {
  /** entries in position order, from `first` on (the array is trimmed now and then, not shifted each time;
   * the slots before `first` are emptied) */
  private entries: Array<Entry | undefined> = []
  private first = 0
  private readonly byDoc = new Map<DocName, Entry[]>()
  private bytes = 0
  /** every entry after this position is here (those up to it only in the log) */
  private floor: number
  /** the newest position written */
  private last: number

  constructor (head: number, private readonly bounds: FeedTailBounds = DEFAULT_FEED_TAIL) {
    this.floor = head
    this.last = head
  }

  head (): number {
    return this.last
  }

  /** Whether what changed after `cursor` is all here. */
  covers (cursor: number): boolean {
    return cursor >= this.floor
  }

  /** An entry committed at `seq` (positions only grow). `replaces`: the entry holds the record's whole
   * log, which the same commit deleted. */
  add (seq: number, doc: DocName, updates: readonly Uint8Array[], replaces = false): void {
    if (seq <= this.last) { this.reset(); return } // (not the one writer's next position: trust nothing kept)
    if (replaces) this.dropDoc(doc)
    const kept = updates.map(own)
    let bytes = 0
    for (const u of kept) bytes += u.length
    const e: Entry = { seq, doc, updates: kept, bytes, dead: false }
    this.entries.push(e)
    const list = this.byDoc.get(doc)
    if (list === undefined) this.byDoc.set(doc, [e]); else list.push(e)
    this.bytes += bytes
    this.last = seq
    this.trim()
  }

  /** Evicts the oldest entries while the tail is past its bounds. */
  private trim (): void {
    while (this.entries.length - this.first > this.bounds.entries || (this.bytes > this.bounds.bytes && this.entries.length > this.first)) this.evictOldest()
  }

  /**
   * `doc`'s log through `throughSeq` was replaced in place by one entry at `throughSeq` holding `merged`
   * (its entries before it deleted): the same here, so what is read through the tail stays what the log holds.
   */
  compacted (doc: DocName, throughSeq: number, merged: Uint8Array): void {
    if (throughSeq <= this.floor) return // (none of the entries it replaced is here)
    const list = this.byDoc.get(doc) ?? []
    const at = list.find(e => e.seq === throughSeq)
    // (The entry it replaces was written after the floor, so by this adapter: missing, trust nothing kept.)
    if (at === undefined) { this.reset(); return }
    for (const e of list) if (e.seq < throughSeq) this.kill(e)
    this.byDoc.set(doc, list.filter(e => !e.dead))
    const whole = own(merged)
    this.bytes += whole.length - at.bytes
    at.updates = [whole]
    at.bytes = whole.length
    this.trim()
  }

  /** Forgets every entry: the log was rewritten where the tail cannot follow. */
  reset (): void {
    this.entries = []
    this.first = 0
    this.byDoc.clear()
    this.bytes = 0
    this.floor = this.last = Math.max(this.last, this.floor)
  }

  /** Records with an entry after `cursor` through `upTo`, each with its newest position (call when covered). */
  changedSince (cursor: number, upTo: number): Map<DocName, number> {
    const out = new Map<DocName, number>()
    for (let i = this.firstAfter(cursor); i < this.entries.length; i++) {
      const e = this.entries[i]!
      if (e.seq > upTo) break
      if (!e.dead) out.set(e.doc, e.seq)
    }
    return out
  }

  /** The updates of `doc`'s entries after `cursor` through `upTo`, oldest first (call when covered). */
  updatesSince (doc: DocName, cursor: number, upTo: number): Uint8Array[] {
    const out: Uint8Array[] = []
    const list = this.byDoc.get(doc)
    if (list === undefined) return out
    for (const e of list) if (e.seq > cursor && e.seq <= upTo) out.push(...e.updates)
    return out
  }

  /** The position of the first entry after `cursor` (entries are in position order). */
  private firstAfter (cursor: number): number {
    let lo = this.first
    let hi = this.entries.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.entries[mid]!.seq <= cursor) lo = mid + 1; else hi = mid
    }
    return lo
  }

  private dropDoc (doc: DocName): void {
    for (const e of this.byDoc.get(doc) ?? []) this.kill(e)
    this.byDoc.delete(doc)
  }

  /** An entry the log no longer holds: its bytes go now, its position stays until it is evicted. */
  private kill (e: Entry): void {
    e.dead = true
    this.bytes -= e.bytes
    e.bytes = 0
    e.updates = []
  }

  private evictOldest (): void {
    const e = this.entries[this.first]!
    this.entries[this.first++] = undefined
    this.floor = e.seq
    if (!e.dead) {
      this.bytes -= e.bytes
      const list = this.byDoc.get(e.doc)!
      list.shift() // (the doc's oldest entry is this one)
      if (list.length === 0) this.byDoc.delete(e.doc)
    }
    if (this.first > 1024 && this.first * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.first)
      this.first = 0
    }
  }
}
