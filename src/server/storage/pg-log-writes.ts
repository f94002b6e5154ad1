// What one commit of the PostgreSQL record log writes, for any number of records: one statement per kind
// of row (bindings, usage, each projection table, the log and receipts with the feed counter), all sent
// without waiting for each other's answers (on a pipelined client: one round trip with the COMMIT).
// Feed and receipt numbers are taken from the one-row counter in the statement that inserts the log
// entries, so they follow commit order; the counter row is locked from that statement to the commit.

import type { DocName } from '../../ids.ts'
import type { CommitEffects, CommitResult } from './port.ts'
import type { PgProjection, ProjectedRow } from './pg-projection.ts'
import { prepared, type PgClient } from './pg-db.ts'
import { encodePackedUpdates } from './packed-updates.ts'

/** One record's append: its updates (one log entry) and what commits with them; or (`merge`) a compaction
 * on its own: the record's entries through `throughSeq` replaced by one holding `merged`. */
export interface LogWrite {
  readonly doc: DocName
  readonly data: Uint8Array | readonly Uint8Array[] | null
  readonly effects: CommitEffects
  readonly merge?: { readonly merged: Uint8Array, readonly throughSeq: number }
}

const listOf = (data: LogWrite['data']): readonly Uint8Array[] =>
  data === null ? [] : data instanceof Uint8Array ? [data] : data

const buffer = (d: Uint8Array): Buffer => Buffer.from(d.buffer, d.byteOffset, d.byteLength)

// Counter, log entries and receipts in one statement: the numbers are the counter's before this commit
// plus each row's position.
const LOG_AND_RECEIPTS = `WITH c AS (UPDATE fs_counters SET feed = feed + $1, receipt = receipt + $2 WHERE id = 1 RETURNING feed - $1 AS feed, receipt - $2 AS receipt),
  l AS (INSERT INTO record_updates (seq, doc, data, parts) SELECT c.feed + x.i, x.doc, x.data, x.parts FROM c, unnest($3::text[], $4::bytea[], $5::int[]) WITH ORDINALITY AS x(doc, data, parts, i)),
  r AS (INSERT INTO receipts (seq, principal, data) SELECT c.receipt + x.i, x.principal, x.data FROM c, unnest($6::text[], $7::text[]) WITH ORDINALITY AS x(principal, data, i))
  SELECT feed, receipt FROM c`

/**
 * Writes `writes` (in this order) in `c`'s open transaction and, with `commit`, commits it; resolves with
 * each write's result once every statement has answered. Throws the first statement's error (the
 * transaction is then aborted: the caller rolls it back).
 */
export const writeLog = async (c: PgClient, writes: readonly LogWrite[], projection: PgProjection | undefined, commit: boolean): Promise<CommitResult[]> => {
  const { stored, seqOf, compacted } = logEntries(writes)
  const bindings = writes.flatMap(w => (w.effects.bindings ?? []).map(b => ({ doc: w.doc, ...b })))
  const usage = usageOf(writes)
  const rows: ProjectedRow[] = writes.flatMap(w => w.effects.row === undefined ? [] : [w.effects.row])
  if (rows.length > 0 && projection === undefined) throw new Error('this storage has no projection')
  const receipts = writes.flatMap(w => w.effects.receipts ?? [])
  const merges = writes.flatMap(w => w.merge === undefined ? [] : [{ doc: w.doc, ...w.merge }])

  const sent: Promise<unknown>[] = []
  const send = <T>(p: Promise<T>): Promise<T> => { sent.push(p); return p }
  let numbers: Promise<{ rows: { feed: number, receipt: number }[] }> | undefined
  try {
    if (merges.length > 0) {
      send(c.query(prepared('DELETE FROM record_updates r USING unnest($1::text[], $2::bigint[]) AS x(doc, through) WHERE r.doc = x.doc AND r.seq <= x.through',
        [merges.map(m => m.doc), merges.map(m => m.throughSeq)])))
      send(c.query(prepared('INSERT INTO record_updates (seq, doc, data) SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[])',
        [merges.map(m => m.throughSeq), merges.map(m => m.doc), merges.map(m => buffer(m.merged))])))
    }
    if (compacted.length > 0) send(c.query(prepared('DELETE FROM record_updates WHERE doc = ANY($1::text[])', [compacted])))
    if (bindings.length > 0) {
      send(c.query(prepared('INSERT INTO client_bindings (doc, client, principal) SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[]) ON CONFLICT DO NOTHING',
        [bindings.map(b => b.doc), bindings.map(b => b.client), bindings.map(b => b.principal)])))
    }
    if (usage.length > 0) {
      send(c.query(prepared(`INSERT INTO principal_usage (doc, principal, receipts, refused_bytes) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])
        ON CONFLICT (doc, principal) DO UPDATE SET receipts = principal_usage.receipts + excluded.receipts, refused_bytes = principal_usage.refused_bytes + excluded.refused_bytes`,
      [usage.map(x => x.doc), usage.map(x => x.principal), usage.map(x => x.receipts), usage.map(x => x.refusedBytes)])))
    }
    if (rows.length > 0) for (const p of projection!.writeRows(c, rows)) send(p)
    if (stored.length > 0 || receipts.length > 0) {
      numbers = send(c.query<{ feed: number, receipt: number }>(prepared(LOG_AND_RECEIPTS, [
        stored.length, receipts.length,
        stored.map(e => e.doc), stored.map(e => buffer(e.data)), stored.map(e => e.parts),
        receipts.map(r => r.principal), receipts.map(({ seq: _, ...rest }) => JSON.stringify(rest))
      ])))
    }
    if (commit) send(c.query('COMMIT'))
  } catch (e) {
    // (a row that cannot be written: whatever was sent before it answers first)
    await Promise.allSettled(sent)
    throw e
  }
  // Every statement answers before the client is used again (a pipelined client has sent them all).
  const settled = await Promise.allSettled(sent)
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')
  if (failed !== undefined) throw failed.reason as Error
  const base = numbers === undefined ? { feed: 0, receipt: 0 } : (await numbers).rows[0]
  let receipt = base.receipt
  return writes.map((w, i) => {
    const at = seqOf[i]
    return { seq: at < 0 ? 0 : base.feed + 1 + at, receipts: (w.effects.receipts ?? []).map(r => ({ ...r, seq: ++receipt })) }
  })
}

interface Entry { readonly doc: DocName, readonly data: Uint8Array, readonly parts: number, folded?: Entry }

/**
 * The log entries to insert: one per write with updates. A compaction's entry replaces the record's
 * earlier entries, in the table and in this commit (when one commit appends to a record twice): an entry
 * folded into it is not stored, its write's result names the entry that holds it, and no feed number goes
 * unused. `seqOf`: each write's entry's position among `stored` (-1: none).
 */
const logEntries = (writes: readonly LogWrite[]): { stored: Entry[], seqOf: number[], compacted: DocName[] } => {
  const entryOf: (Entry | undefined)[] = []
  const compacted = new Set<DocName>()
  for (const w of writes) {
    const updates = listOf(w.data)
    if (updates.length === 0) { entryOf.push(undefined); continue }
    const merged = w.effects.compacted
    const e: Entry = merged !== undefined
      ? { doc: w.doc, data: merged, parts: 1 }
      : { doc: w.doc, data: updates.length === 1 ? updates[0] : encodePackedUpdates(updates), parts: updates.length }
    if (merged !== undefined) {
      compacted.add(w.doc)
      for (const x of entryOf) if (x !== undefined && x.doc === w.doc && x.folded === undefined) x.folded = e
    }
    entryOf.push(e)
  }
  const stored = entryOf.filter((e): e is Entry => e !== undefined && e.folded === undefined)
  const position = new Map(stored.map((e, i) => [e, i]))
  const holder = (e: Entry): Entry => e.folded === undefined ? e : holder(e.folded)
  return { stored, seqOf: entryOf.map(e => e === undefined ? -1 : position.get(holder(e))!), compacted: [...compacted] }
}

/** Usage deltas summed per record and principal (an upsert may touch a row once per statement). */
const usageOf = (writes: readonly LogWrite[]): { doc: DocName, principal: string, receipts: number, refusedBytes: number }[] => {
  const usage = new Map<string, { doc: DocName, principal: string, receipts: number, refusedBytes: number }>()
  for (const w of writes) {
    for (const u of w.effects.usage ?? []) {
      const key = JSON.stringify([w.doc, u.principal])
      const sum = usage.get(key) ?? { doc: w.doc, principal: u.principal, receipts: 0, refusedBytes: 0 }
      sum.receipts += u.receipts
      sum.refusedBytes += u.refusedBytes
      usage.set(key, sum)
    }
  }
  return [...usage.values()]
}
