// Records over HTTP: the relational projection (read-checked, secured fields redacted), assign, share,
// and the caller's receipts.

import { Hono } from 'hono'
import * as v from 'valibot'
import { HTTPException } from 'hono/http-exception'
import { bodyLimit } from 'hono/body-limit'
import type { Catalog, EntityDef } from '../docs/catalog-types.ts'
import { fieldPermission, mayAccess, ownerUnit, readScope, SHARE_GRANTS, type ModelIndex, type ReadScope } from '../authz/decide.ts'
import { rowOwnership, type RecordOwnership } from '../docs/ownership.ts'
import * as admin from '../authz/admin.ts'
import { docName, isValidId, parseDocName, type RecordId } from '../ids.ts'
import { FieldError } from '../errors.ts'
import { Reason, type Receipt } from '../protocol/receipts.ts'
import { columnsOf, type Row } from '../projection/rows.ts'
import { activityEntities, isPointer } from '../docs/activity-pointer.ts'
import { META, stampRecord } from '../docs/record.ts'
import type { Rooms } from './rooms.ts'
import type { Security } from './security.ts'
import type { ProjectionReader } from './storage/projection-port.ts'
import type { ReceiptStore } from './storage/receipt-port.ts'
import { TokenBuckets } from './rate-limit.ts'
import { readableReceipts } from './receipt-access.ts'
import { listAnswer, MAX_LIST_ROW_BYTES, mergedById, rowsOf, takeWithin, type ReadRows, type RowPage } from './row-pages.ts'

/** `POST /api/receipts/dismiss`: the receipts the user dealt with on a device (at most 1,000 at a time). */
const DismissBody = v.object({ seqs: v.pipe(v.array(v.pipe(v.number(), v.integer(), v.minValue(1))), v.maxLength(1000)) })
/** 1,000 seqs of 16 digits take 17 KB: a bigger body is refused while it streams in, not parsed whole. */
const MAX_DISMISS_BODY_BYTES = 64 * 1024

/** How far the activity pointer's list pages (each activity entity's rows up to it are read per request). */
export const MAX_POINTER_WINDOW = 10_000

/** Assign, share and associate bodies are a few short strings: a bigger body is refused while it streams in. */
const MAX_RECORD_BODY_BYTES = 16 * 1024
const recordBodyLimit = bodyLimit({ maxSize: MAX_RECORD_BODY_BYTES, onError: c => c.json({ error: `a body here may have at most ${MAX_RECORD_BODY_BYTES} bytes` }, 413) })

/** A stored record's (`<entity>/<id>`) projected row; undefined when there is none. */
export const storedRow = (projection: Pick<ProjectionReader, 'row'>, name: string): Row | undefined => {
  const ref = parseDocName(name)
  return ref === null ? undefined : projection.row(ref.entity, ref.id)
}

/** The owner of a stored record (`<entity>/<id>`) from its projected row; undefined when there is none. */
export const storedOwnership = (projection: Pick<ProjectionReader, 'row'>, name: string): RecordOwnership | undefined => {
  const row = storedRow(projection, name)
  return row === undefined ? undefined : rowOwnership(name, row)
}

const redact = (ix: ModelIndex, userId: string, entity: EntityDef, row: Row): Row => {
  const out: Row = { ...row }
  for (const f of ix.model.securedFields) {
    const [e, attr] = f.split('.', 2)
    if (e === entity.name && !fieldPermission(ix, userId, e, attr).read) delete out[attr]
  }
  return out
}

/** An activity's row as the pointer shows it. */
const pointerRow = (pointer: EntityDef, activity: EntityDef, row: Row): Row => {
  const out: Row = {}
  for (const c of columnsOf(pointer)) out[c.name] = row[c.name] ?? null
  out.activitytypecode = activity.name
  return out
}

const intParam = (v: string | undefined, name: string, fallback: number, max: number): number => {
  if (v === undefined) return fallback
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0 || n > max) throw new HTTPException(400, { message: `${name}: expected a whole number from 0 to ${max}` })
  return n
}

/** Share changes one user may make at once, and how many a minute after that (README, "Security"). */
/** Share changes a user may make at once and per minute after it; principals one record may be shared
 * with; shares in the whole model (every version of the model is a copy of all of them). */
export interface ShareLimits { readonly burst: number, readonly perMinute: number, readonly perRecord: number, readonly total: number }
export const DEFAULT_SHARE_LIMITS: ShareLimits = { burst: 30, perMinute: 10, perRecord: 100, total: 20_000 }

export const recordRoutes = (catalog: Catalog, security: Security, projection: ProjectionReader, receipts: ReceiptStore, rooms: Rooms, now: () => string, shareLimits = DEFAULT_SHARE_LIMITS): Hono => {
  const app = new Hono()
  // Each share change is a new version of the whole security model, saved, indexed and checked by every
  // open socket and device: any user with the share privilege could make the server do that without end.
  // Per instance (behind N instances a user gets N times this): what it bounds is each instance's work.
  const shareChanges = new TokenBuckets({ burst: shareLimits.burst, refillMs: 60_000 / shareLimits.perMinute, maxKeys: 10_000, now: Date.now })
  const entityOf = (name: string): EntityDef => {
    const e = catalog.entities.get(name)
    if (e === undefined) throw new HTTPException(404, { message: `unknown entity ${JSON.stringify(name)}` })
    return e
  }
  const rowOrThrow = (entity: EntityDef, id: string): Row => {
    if (!isValidId(id)) throw new HTTPException(400, { message: 'invalid record id' })
    const row = projection.row(entity.name, id)
    if (row === undefined) throw new HTTPException(404, { message: `no ${entity.name} ${id}` })
    return row
  }
  const ownership = (entity: EntityDef, row: Row): RecordOwnership => rowOwnership(`${entity.name}/${String(row.id)}`, row)

  app.get('/receipts', async c => {
    const since = intParam(c.req.query('since'), 'since', 0, Number.MAX_SAFE_INTEGER)
    const limit = intParam(c.req.query('limit'), 'limit', 100, 1000)
    const userId = c.get('principal').userId
    // (Withheld: what stands in a record the user may no longer read, receipt-access.ts.)
    return c.json({ receipts: readableReceipts(await receipts.receipts(userId, since, limit), userId, security.index, n => storedOwnership(projection, n)) })
  })

  app.post('/receipts/dismiss', bodyLimit({
    maxSize: MAX_DISMISS_BODY_BYTES, onError: c => c.json({ error: `seqs: a dismissal body may have at most ${MAX_DISMISS_BODY_BYTES} bytes` }, 413)
  }), async c => {
    const parsed = v.safeParse(DismissBody, await c.req.json().catch(() => undefined))
    if (!parsed.success) throw new HTTPException(400, { message: `expected {"seqs": [receipt seq, …]} (at most 1000): ${parsed.issues[0].message}` })
    return c.json({ dismissed: await receipts.dismissReceipts(c.get('principal').userId, parsed.output.seqs) })
  })

  app.get('/records/:entity', async c => {
    const entity = entityOf(c.req.param('entity'))
    const limit = intParam(c.req.query('limit'), 'limit', 50, 1000)
    const offset = intParam(c.req.query('offset'), 'offset', 0, Number.MAX_SAFE_INTEGER)
    const ix = security.index
    const userId = c.get('principal').userId
    // Rows are read a few at a time and the answer stops at MAX_LIST_ROW_BYTES (row-pages.ts): a thousand
    // rows of long memo texts read and answered at once held hundreds of MB for one request.
    const reader = (e: EntityDef): ReadRows => {
      const scope = readScope(ix, userId, e.name)
      return (n, skip, after) => projection.rows(e.name, scope, n, skip, after)
    }
    let page: RowPage
    if (isPointer(entity)) {
      // Each activity entity's rows the caller may read, merged by id: each is read from its first row up
      // to offset + limit at most (the rows before `offset` are read to be skipped), so the window is bounded.
      if (offset + limit > MAX_POINTER_WINDOW) throw new HTTPException(400, { message: `offset + limit may be at most ${MAX_POINTER_WINDOW} for ${entity.name} (list each activity entity for more)` })
      const merged = mergedById(activityEntities(catalog.entities.values()).map(a =>
        rowsOf(reader(a), 0, offset + limit, r => pointerRow(entity, a, redact(ix, userId, a, r)))))
      page = await takeWithin(merged, offset, limit, MAX_LIST_ROW_BYTES)
    } else {
      page = await takeWithin(rowsOf(reader(entity), offset, limit, r => redact(ix, userId, entity, r)), 0, limit, MAX_LIST_ROW_BYTES)
    }
    return c.body(listAnswer(entity.name, limit, offset, page), 200, { 'content-type': 'application/json' })
  })

  app.get('/records/:entity/:id', c => {
    const asked = entityOf(c.req.param('entity'))
    const found = rowOrThrow(asked, c.req.param('id'))
    // Through the pointer, the activity is read as what it is (its entity's read privilege).
    const entity = isPointer(asked) ? entityOf(String(found.activitytypecode)) : asked
    const row = isPointer(asked) ? rowOrThrow(entity, c.req.param('id')) : found
    const ix = security.index
    const userId = c.get('principal').userId
    const d = mayAccess(ix, userId, 'read', entity.name, ownership(entity, row))
    if (!d.allowed) throw new HTTPException(403, { message: d.why })
    const shown = redact(ix, userId, entity, row)
    return c.json(isPointer(asked) ? pointerRow(asked, entity, shown) : shown)
  })

  /** The activity pointer has no records of its own (read, delete): its records are assigned and shared as the activity they are. */
  const notPointer = (entity: EntityDef, row: Row, what: string): void => {
    if (isPointer(entity)) throw new HTTPException(400, { message: `${entity.name} has no records of its own: ${what} ${String(row.activitytypecode)}/${String(row.id)}` })
  }

  app.post('/records/:entity/:id/assign', recordBodyLimit, async c => {
    const entity = entityOf(c.req.param('entity'))
    const row = rowOrThrow(entity, c.req.param('id'))
    notPointer(entity, row, 'assign')
    const body = await c.req.json().catch(() => null) as { ownerid?: unknown } | null
    const ix = security.index
    const owner = ownerUnit(ix, body?.ownerid)
    if ('problem' in owner && owner.problem === 'not-a-principal') throw new FieldError('ownerid', 'expected "systemuser/<id>" or "team/<id>"')
    const ownerid = body!.ownerid as string
    const userId = c.get('principal').userId
    const d = mayAccess(ix, userId, 'assign', entity.name, ownership(entity, row))
    if (!d.allowed) throw new HTTPException(403, { message: d.why })
    if ('problem' in owner) throw new FieldError('ownerid', `no owner ${ownerid}`)
    const bu = owner.unit
    const room = await rooms.open(docName(entity.name, String(row.id) as RecordId))
    try {
      await room.write(doc => {
        const meta = doc.getMap(META)
        meta.set('ownerid', ownerid)
        meta.set('owningbusinessunit', bu)
        stampRecord(doc, { by: userId, at: now() })
      })
    } finally {
      rooms.released(room.name)
    }
    return c.json({ ownerid, owningbusinessunit: bu })
  })

  // Associations through N:N relationships are read-only for devices (they are not part of a record
  // document); 1:N associations are made by setting the lookup on the related record.
  for (const action of ['associate', 'disassociate'] as const) {
    app.post(`/records/:entity/:id/${action}`, recordBodyLimit, async c => {
      const entity = entityOf(c.req.param('entity'))
      rowOrThrow(entity, c.req.param('id'))
      const body = await c.req.json().catch(() => null) as { relationship?: unknown } | null
      const rel = catalog.relationships.find(r => r.from === entity.name && r.name === body?.relationship)
      if (rel === undefined) throw new HTTPException(400, { message: `relationship: ${entity.name} has no relationship ${JSON.stringify(body?.relationship)}` })
      if (rel.kind === 'N:N') return c.json({ error: `${rel.name} is an N:N relationship; N:N relationships are read-only offline`, reason: Reason.relationshipReadOnly }, 409)
      throw new HTTPException(400, { message: `${rel.name} is ${rel.kind}: set the lookup ${rel.attribute} on the related record instead` })
    })
  }

  app.put('/records/:entity/:id/shares', recordBodyLimit, async c => {
    const entity = entityOf(c.req.param('entity'))
    const row = rowOrThrow(entity, c.req.param('id'))
    notPointer(entity, row, 'share')
    const body = await c.req.json().catch(() => null)
    const ix = security.index
    const userId = c.get('principal').userId
    const d = mayAccess(ix, userId, 'share', entity.name, ownership(entity, row))
    if (!d.allowed) throw new HTTPException(403, { message: d.why })
    // As in Dynamics, a share grants no more than the sharer holds on the record: the share privilege alone
    // would let a user share a record read-write with themselves and write what their roles do not reach.
    const access = (body as { access?: unknown } | null)?.access
    for (const privilege of typeof access === 'string' && Object.hasOwn(SHARE_GRANTS, access) ? SHARE_GRANTS[access] : []) {
      const held = mayAccess(ix, userId, privilege, entity.name, ownership(entity, row))
      if (!held.allowed) throw new HTTPException(403, { message: `a ${access} share grants ${privilege}, which you do not hold on this record: ${held.why}` })
    }
    const record = `${entity.name}/${String(row.id)}`
    // A change that changes nothing is no new version (each version is a copy of the whole model).
    const same = (a: typeof ix.model.shares, b: typeof ix.model.shares): boolean =>
      JSON.stringify(a.filter(x => x.record === record)) === JSON.stringify(b.filter(x => x.record === record))
    const next = admin.setShare(ix.model, record, body).shares
    if (same(next, ix.model.shares)) return c.json({ version: ix.version })
    // A new share past a bound is refused (a change or a removal of one is not): the model has no bound
    // of its own, and every version of it is a copy of all its shares.
    if (next.length > ix.model.shares.length) {
      const onRecord = next.filter(x => x.record === record).length
      if (onRecord > shareLimits.perRecord) return c.json({ error: `${record} is shared with ${shareLimits.perRecord} principals, the most one record may be (share it with a team instead)` }, 409)
      if (next.length > shareLimits.total) return c.json({ error: `the organization has ${shareLimits.total} shares, the most it may have: remove some first` }, 409)
    }
    // (Charged only for a change: one that changes nothing costs no new version.)
    if (!shareChanges.take(userId)) {
      const wait = Math.ceil(shareChanges.waitMs(userId) / 1000)
      return c.json({ error: `too many share changes: try again in ${wait} s` }, 429, { 'retry-after': String(wait) })
    }
    return c.json({ version: security.change(m => admin.setShare(m, record, body)).version })
  })
  return app
}
