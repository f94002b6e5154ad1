// The record locks of one instance over PostgreSQL, taken in groups (README, "More than one instance").
// The lock requests of this instance's records that wait together are served by one transaction: it
// takes their advisory locks in one order (so no two such transactions, on any instance, wait for each
// other), then reads what others committed to them since each copy's position (and their bindings), what
// each principal has them keep, and the newest privilege version; each record decides its batch against that; what they append is committed in the same
// transaction, together (one WAL flush, one update of the feed counter), and only then acknowledged.
// The statements of each step go out without waiting for each other (a pipelined connection).

import type { DocName } from '../../ids.ts'
import type { CatchUp, ClientBinding, CommitResult, PrincipalUsage, StoredUpdate } from './port.ts'
import type { PgClient, PgPool } from './pg-db.ts'
import { bytesOf, prepared } from './pg-db.ts'
import { decodePackedUpdates } from './packed-updates.ts'
import { writeLog, type LogWrite } from './pg-log-writes.ts'
import type { PgProjection } from './pg-projection.ts'

/** How many groups may be taking their locks or deciding at once (one more may be committing). */
export const MAX_OPEN_GROUPS = 2

/** What each principal has a record keep, as one comparable string. */
const usageKey = (usage: readonly PrincipalUsage[]): string =>
  usage.map(u => `${u.principal}:${Number(u.receipts)}:${Number(u.refusedBytes)}`).sort().join(' ')

/** Records' write locks: a record's key is 64 bits of a hash of its name (hashtextextended), and they are
 * taken in one order, the names sorted (every transaction of ours that waits for locks takes them so). */
export const LOCK_ALL = 'SELECT pg_advisory_xact_lock(hashtextextended(d, 7146)) FROM (SELECT DISTINCT d FROM unnest($1::text[]) d ORDER BY d) x'

// Sent behind LOCK_ALL, it runs once the locks are granted, with a snapshot of its own: it sees every
// commit made before. Per record: the log entries after its copy's position; its client-id bindings when
// anything was committed after the position its copy's bindings were read at; what each principal has it
// keep (every time: a commit that appends nothing, an update refused whole, changes it too); and the newest
// privilege version.
const CATCH_UP = `WITH x AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS x(doc, after, bound)),
  u AS (SELECT u.doc, u.seq, u.data, u.parts FROM x JOIN record_updates u ON u.doc = x.doc AND u.seq > x.after)
  SELECT 0 AS k, u.doc, u.seq, u.data, u.parts, NULL::bigint AS client, NULL::text AS principal, NULL::bigint AS receipts, NULL::bigint AS refused FROM u
  UNION ALL SELECT 1, b.doc, NULL, NULL, NULL, b.client, b.principal, NULL, NULL FROM x JOIN client_bindings b ON b.doc = x.doc
    WHERE EXISTS (SELECT 1 FROM record_updates r WHERE r.doc = x.doc AND r.seq > x.bound)
  UNION ALL SELECT 2, NULL, (SELECT MAX(version) FROM security_models)::bigint, NULL, NULL, NULL, NULL, NULL, NULL
  UNION ALL SELECT 3, p.doc, NULL, NULL, NULL, NULL, p.principal, p.receipts, p.refused_bytes FROM x JOIN principal_usage p ON p.doc = x.doc
  ORDER BY k, seq`

type CatchUpRow = {
  k: number, doc: string | null, seq: number | null, data: Buffer | null, parts: number | null,
  client: number | null, principal: string | null, receipts: number | null, refused: number | null
}

interface Request {
  readonly doc: DocName
  readonly afterSeq: number
  readonly bindingsAfter: number
  readonly resolve: (c: CatchUp) => void
  readonly reject: (e: Error) => void
}

/** A record in a group: what it appends, and who waits for the group's end. */
interface Member {
  readonly request: Request
  /** the newest log position of the record when its lock was granted */
  head: number
  /** what each principal had the record keep then (usageKey) */
  usage: string
  settled: boolean
  write?: LogWrite & { resolve: (r: CommitResult) => void, reject: (e: Error) => void }
}

interface Group {
  readonly members: Map<DocName, Member>
  client?: PgClient
  /** the privilege version read under the locks */
  version: number
  /** members that have neither appended nor released */
  open: number
  /** resolves when the group's transaction has ended (committed or not) */
  readonly ended: Promise<void>
  readonly end: () => void
}

export interface LockGroupsStats {
  /** transactions that took locks */
  groups: number
  /** locks taken in them */
  locks: number
}

export class LockGroups {
  private readonly pool: PgPool
  private readonly projection: PgProjection | undefined
  private queue: Request[] = []
  private scheduled = false
  private opening = 0
  private readonly groupOf = new Map<DocName, Group>()
  private readonly running = new Set<Group>()
  readonly stats: LockGroupsStats = { groups: 0, locks: 0 }

  /** `pool`: the connections the groups' transactions run on (pipelined ones save round trips). */
  constructor (pool: PgPool, projection: PgProjection | undefined) {
    this.pool = pool
    this.projection = projection
  }

  /** Whether the record's lock is held or asked for. */
  has (doc: DocName): boolean {
    return this.groupOf.has(doc) || this.queue.some(r => r.doc === doc)
  }

  lock (doc: DocName, afterSeq: number, bindingsAfter: number): Promise<CatchUp> {
    if (this.has(doc)) return Promise.reject(new Error(`the write lock of ${doc} is held already`))
    return new Promise((resolve, reject) => {
      this.queue.push({ doc, afterSeq, bindingsAfter, resolve, reject })
      if (this.scheduled) return
      this.scheduled = true
      // What asks during this turn waits together.
      setImmediate(() => { this.scheduled = false; this.start() })
    })
  }

  /** Whether `doc`'s lock is held and it may still append. */
  holds (doc: DocName): boolean {
    const g = this.groupOf.get(doc)
    return g?.client !== undefined && g.members.get(doc)?.settled === false
  }

  /** The record's append (or compaction) under its lock: committed with the rest of its group. */
  append (doc: DocName, write: LogWrite): Promise<CommitResult> {
    const g = this.groupOf.get(doc)!
    const m = g.members.get(doc)!
    return new Promise((resolve, reject) => {
      m.write = { ...write, resolve, reject }
      this.settle(g, m)
    })
  }

  /** Ends the record's part in its group; resolves once the group's transaction has ended. */
  release (doc: DocName): Promise<void> {
    const g = this.groupOf.get(doc)
    if (g === undefined) return Promise.resolve()
    const m = g.members.get(doc)!
    if (!m.settled) this.settle(g, m)
    return g.ended
  }

  /** Waits for every group to end; requests still waiting are refused. */
  async close (): Promise<void> {
    for (const r of this.queue.splice(0)) r.reject(new Error('storage is closed'))
    await Promise.all([...this.running].map(g => g.ended))
  }

  private start (): void {
    while (this.queue.length > 0 && this.opening < MAX_OPEN_GROUPS) {
      const requests = this.queue
      this.queue = []
      let end!: () => void
      const ended = new Promise<void>(resolve => { end = resolve })
      const g: Group = { members: new Map(requests.map(r => [r.doc, { request: r, head: r.afterSeq, usage: '', settled: false }])), version: 0, open: requests.length, ended, end }
      for (const doc of g.members.keys()) this.groupOf.set(doc, g)
      this.opening++
      this.running.add(g)
      this.stats.groups++
      this.stats.locks += requests.length
      void this.begin(g)
    }
  }

  /** Takes the group's locks and answers each record's catch-up. */
  private async begin (g: Group): Promise<void> {
    const docs = [...g.members.keys()]
    const requests = [...g.members.values()].map(m => m.request)
    let c: PgClient
    try {
      c = await this.pool.connect()
    } catch (e) {
      this.fail(g, e as Error)
      return
    }
    g.client = c
    const sent = [
      c.query('BEGIN'),
      c.query(prepared(LOCK_ALL, [docs])),
      c.query<CatchUpRow>(prepared(CATCH_UP, [docs, requests.map(r => r.afterSeq), requests.map(r => r.bindingsAfter)]))
    ] as const
    const settled = await Promise.allSettled(sent)
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')
    if (failed !== undefined) {
      await c.query('ROLLBACK').catch(() => {})
      c.release(failed.reason as Error)
      g.client = undefined
      this.fail(g, failed.reason as Error)
      return
    }
    const rows = (settled[2] as PromiseFulfilledResult<{ rows: CatchUpRow[] }>).value.rows
    const updates = new Map<string, StoredUpdate[]>()
    const bindings = new Map<string, ClientBinding[]>()
    const usage = new Map<string, PrincipalUsage[]>()
    for (const r of rows) {
      if (r.k === 0) {
        const data = bytesOf(r.data!)
        const list = updates.get(r.doc!) ?? []
        for (const u of r.parts === 1 ? [data] : decodePackedUpdates(data, r.parts!)) list.push({ seq: r.seq!, data: u })
        updates.set(r.doc!, list)
      } else if (r.k === 1) {
        const list = bindings.get(r.doc!) ?? []
        list.push({ client: r.client!, principal: r.principal! })
        bindings.set(r.doc!, list)
      } else if (r.k === 2) {
        g.version = r.seq ?? 0
      } else {
        const list = usage.get(r.doc!) ?? []
        list.push({ principal: r.principal!, receipts: r.receipts!, refusedBytes: r.refused! })
        usage.set(r.doc!, list)
      }
    }
    for (const [doc, m] of g.members) {
      const u = updates.get(doc) ?? []
      if (u.length > 0) m.head = u[u.length - 1].seq
      m.usage = usageKey(usage.get(doc) ?? [])
      m.request.resolve({ updates: u, bindings: bindings.get(doc) ?? [], securityVersion: g.version, usage: usage.get(doc) ?? [] })
    }
  }

  private settle (g: Group, m: Member): void {
    m.settled = true
    if (--g.open === 0) void this.commit(g)
  }

  /** The group could not take its locks: every request fails. */
  private fail (g: Group, e: Error): void {
    this.opening--
    for (const m of g.members.values()) m.request.reject(e)
    this.finish(g)
    this.start()
  }

  private finish (g: Group): void {
    for (const doc of g.members.keys()) if (this.groupOf.get(doc) === g) this.groupOf.delete(doc)
    this.running.delete(g)
    g.end()
  }

  /** Every member has appended or released: one commit for all, then each append is answered. */
  private async commit (g: Group): Promise<void> {
    this.opening--
    this.start()
    const c = g.client!
    const members = [...g.members.values()].filter(m => m.write !== undefined)
    const writes = members.map(m => m.write!)
    try {
      const results = await writeLog(c, writes, this.projection, true)
      c.release()
      this.finish(g)
      writes.forEach((w, i) => w.resolve(results[i]))
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {})
      c.release(e as Error)
      // One record's writes that PostgreSQL refuses must not cost the others theirs: each is committed
      // alone, if what it decided on is still what storage holds.
      await this.alone(g, members, e as Error)
      this.finish(g)
    }
  }

  /**
   * Commits each member's write in a transaction of its own, holding its lock again, if nothing was
   * committed to the record, no privilege changed and no principal's use of its quotas changed since its
   * group read them; otherwise (or when this
   * fails too) its append fails.
   */
  private async alone (g: Group, members: readonly Member[], cause: Error): Promise<void> {
    for (const m of members) {
      const w = m.write!
      let c: PgClient | undefined
      try {
        c = await this.pool.connect()
        await c.query('BEGIN')
        await c.query(prepared(LOCK_ALL, [[m.request.doc]]))
        const now = (await c.query<{ moved: boolean, v: number | null }>(`SELECT EXISTS (SELECT 1 FROM record_updates WHERE doc = $1 AND seq > $2) AS moved,
          (SELECT MAX(version) FROM security_models)::bigint AS v`, [m.request.doc, m.head])).rows[0]
        // (What a principal has the record keep changes with commits that append nothing too.)
        const usage = (await c.query<{ principal: string, receipts: number, refused: number }>('SELECT principal, receipts, refused_bytes AS refused FROM principal_usage WHERE doc = $1', [m.request.doc])).rows
        if (now.moved || (now.v ?? 0) !== g.version || usageKey(usage.map(u => ({ principal: u.principal, receipts: Number(u.receipts), refusedBytes: Number(u.refused) }))) !== m.usage) {
          throw new Error(`the commit of ${m.request.doc} failed (${cause.message}) and the record, the privileges or its quotas' use changed since`)
        }
        const [result] = await writeLog(c, [w], this.projection, true)
        c.release()
        w.resolve(result)
      } catch (e) {
        if (c !== undefined) { await c.query('ROLLBACK').catch(() => {}); c.release(e as Error) }
        w.reject(e as Error)
      }
    }
  }
}
