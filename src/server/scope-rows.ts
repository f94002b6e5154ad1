// The server's index of projected rows for offline scopes: each entity a profile includes, the columns
// its rules read, by owner, business unit and lookup value; and which secured fields' documents exist.
// Loaded a page at a time on first use, then kept current from the changes feed (what changed since the
// index's position), so a device's cycle reads what changed, never whole tables.

import type { Catalog } from '../docs/catalog-types.ts'
import { isPointer } from '../docs/activity-pointer.ts'
import { FILTER_SYSTEM_FIELDS } from '../docs/system-fields.ts'
import type { Row } from '../projection/rows.ts'
import { scopeFromRows, type ScopeRows } from '../authz/indexed-scope.ts'
import type { ModelIndex } from '../authz/decide.ts'
import type { OfflineProfile } from '../profiles/profile.ts'
import { fieldDocName, parseDocName, parseFieldDocName, type DocName } from '../ids.ts'
import type { ChangesFeed } from './storage/feed-port.ts'
import type { ProjectionReader } from './storage/projection-port.ts'
import { slicer } from './pacing.ts'

/** Rows read from storage a page at a time when an entity is loaded. */
const PAGE = 250
const NONE: ReadonlySet<string> = new Set()

const add = <K, V>(m: Map<K, Set<V>>, key: K, value: V): void => {
  let s = m.get(key)
  if (s === undefined) { s = new Set(); m.set(key, s) }
  s.add(value)
}
const remove = <K, V>(m: Map<K, Set<V>>, key: K, value: V): void => {
  const s = m.get(key)
  if (s !== undefined && s.delete(value) && s.size === 0) m.delete(key)
}

/** One entity's rows (only the columns kept) and their indexes. */
class EntityRows {
  readonly entity: string
  readonly columns: ReadonlySet<string>
  private readonly lookups: readonly string[]
  readonly rows = new Map<string, Row>()
  readonly byOwner = new Map<string, Set<string>>()
  readonly byUnit = new Map<string, Set<string>>()
  /** lookup attribute -> value -> names */
  readonly byRef = new Map<string, Map<string, Set<string>>>()

  constructor (entity: string, columns: ReadonlySet<string>, lookups: readonly string[]) {
    this.entity = entity
    this.columns = columns
    this.lookups = lookups
    for (const a of lookups) this.byRef.set(a, new Map())
  }

  /** Keeps `row` (null: none) as the row of `id`. */
  put (id: string, full: Row | null): void {
    const name = `${this.entity}/${id}`
    const old = this.rows.get(name)
    if (old !== undefined) {
      remove(this.byOwner, String(old.ownerid), name)
      remove(this.byUnit, String(old.owningbusinessunit), name)
      for (const a of this.lookups) { const v = old[a]; if (typeof v === 'string') remove(this.byRef.get(a)!, v, name) }
      this.rows.delete(name)
    }
    if (full === null) return
    const row: Row = {}
    for (const c of this.columns) if (c in full) row[c] = full[c]
    this.rows.set(name, row)
    add(this.byOwner, String(row.ownerid), name)
    add(this.byUnit, String(row.owningbusinessunit), name)
    for (const a of this.lookups) { const v = row[a]; if (typeof v === 'string') add(this.byRef.get(a)!, v, name) }
  }
}

/**
 * A user's offline scope from the index, once prepared for `profile` and `fields`: the records in it, and
 * the documents of the secured fields `fields` (`<entity>.<attribute>`, those the user may read) of the
 * records in it that have one.
 */
export const offlineScope = (rows: ScopeRowIndex, catalog: Catalog, profile: OfflineProfile, ix: ModelIndex, userId: string, fields: readonly string[], now: Date): Set<string> => {
  const scope = scopeFromRows(catalog, profile, ix, userId, rows, now)
  for (const f of fields) {
    const [entity, attribute] = f.split('.')
    const docs = rows.fieldDocuments(entity, attribute)
    if (docs.size === 0) continue
    for (const name of [...scope]) if (name.startsWith(`${entity}/`) && docs.has(fieldDocName(name, attribute))) scope.add(fieldDocName(name, attribute))
  }
  return scope
}

export class ScopeRowIndex implements ScopeRows {
  private readonly catalog: Catalog
  private readonly projection: ProjectionReader
  private readonly feed: ChangesFeed
  private readonly entities = new Map<string, EntityRows>()
  /** `<entity>.<attribute>` -> the names of that secured field's documents */
  private readonly fieldDocs = new Map<string, Set<DocName>>()
  /** the feed position through which every loaded row is current (null: nothing loaded yet) */
  private cursor: number | null = null
  /** loads and refreshes run one at a time, in order */
  private queue: Promise<void> = Promise.resolve()

  constructor (catalog: Catalog, projection: ProjectionReader, feed: ChangesFeed) {
    this.catalog = catalog
    this.projection = projection
    this.feed = feed
  }

  /** The columns a profile's rules read of each of its entities (those with rows). */
  private needs (profile: OfflineProfile): Map<string, Set<string>> {
    const out = new Map<string, Set<string>>()
    for (const [entity, pe] of Object.entries(profile.entities)) {
      const def = this.catalog.entities.get(entity)
      if (def === undefined || isPointer(def)) continue
      const columns = new Set<string>(['id', ...FILTER_SYSTEM_FIELDS, ...def.attributes.filter(a => a.type === 'lookup').map(a => a.name)])
      for (const r of pe.rules) if (r.kind === 'custom') for (const c of r.conditions) columns.add(c.field)
      out.set(entity, columns)
    }
    return out
  }

  private isCurrent (needs: Map<string, Set<string>>, fields: readonly string[], upTo: number): boolean {
    if (this.cursor === null || this.cursor < upTo) return false
    for (const [entity, columns] of needs) {
      const e = this.entities.get(entity)
      if (e === undefined) return false
      for (const c of columns) if (!e.columns.has(c)) return false
    }
    return fields.every(f => this.fieldDocs.has(f))
  }

  /**
   * Makes current, through feed position `upTo` at least, the rows of the profile's entities with the
   * columns its rules read, and the documents of `fields` (`<entity>.<attribute>`). Rows may be newer.
   */
  prepare (profile: OfflineProfile, fields: readonly string[], upTo: number): Promise<void> {
    const needs = this.needs(profile)
    if (this.isCurrent(needs, fields, upTo)) return Promise.resolve()
    const run = this.queue.then(() => this.bringUp(needs, fields, upTo))
    this.queue = run.catch(() => {}) // a failed load is tried again by the next prepare
    return run
  }

  /**
   * Loads, in paced slices, the rows every profile of the model reads, so that the first device to sync
   * after a start does not wait for it (a cycle's scope is computed before its first record goes out).
   */
  async warm (profiles: readonly OfflineProfile[]): Promise<void> {
    const upTo = await this.feed.head()
    for (const p of profiles) await this.prepare(p, [], upTo)
    this.warmed = true
  }

  /** whether warm() has loaded what every profile reads (GET /healthz says so) */
  warmed = false

  private async bringUp (needs: Map<string, Set<string>>, fields: readonly string[], upTo: number): Promise<void> {
    // Every change after this position is read again below: rows loaded after it are at least this new.
    if (this.cursor === null) this.cursor = await this.feed.head()
    for (const [entity, columns] of needs) {
      const e = this.entities.get(entity)
      if (e !== undefined && [...columns].every(c => e.columns.has(c))) continue
      await this.load(entity, new Set([...columns, ...(e?.columns ?? NONE)]))
    }
    for (const f of fields) {
      if (this.fieldDocs.has(f)) continue
      const [entity, attribute] = f.split('.')
      this.fieldDocs.set(f, new Set(await this.feed.fieldDocuments(entity, attribute)))
    }
    if (this.cursor < upTo) await this.refresh(upTo)
  }

  /** Makes the loaded rows current through feed position `upTo` at least. */
  current (upTo: number): Promise<void> {
    if (this.cursor === null || this.cursor >= upTo) return Promise.resolve()
    const run = this.queue.then(async () => { if (this.cursor! < upTo) await this.refresh(upTo) })
    this.queue = run.catch(() => {})
    return run
  }

  /** Whether the rows of `entity` are kept here (then `row` is current, once `current` resolved). */
  covers (entity: string): boolean {
    return this.entities.has(entity)
  }

  /** Reads every row of an entity, a page at a time, into a new index that then replaces the old one. */
  private async load (entity: string, columns: Set<string>): Promise<void> {
    const lookups = this.catalog.entities.get(entity)!.attributes.filter(a => a.type === 'lookup').map(a => a.name)
    const e = new EntityRows(entity, columns, lookups)
    const slice = slicer()
    for (let after: string | null = null; ;) {
      const page: Row[] = await this.projection.page(entity, after, PAGE)
      for (const row of page) e.put(String(row.id), row)
      if (page.length < PAGE) break
      after = String(page[page.length - 1].id)
      if (slice.due()) await slice.pace()
    }
    this.entities.set(entity, e)
  }

  /** Reads again the rows of the records that changed after the index's position, through `upTo`. */
  private async refresh (upTo: number): Promise<void> {
    const changed = await this.feed.changedSince(this.cursor!, upTo)
    const slice = slicer()
    for (const doc of changed.keys()) {
      const field = parseFieldDocName(doc)
      const ref = field ?? parseDocName(doc)
      const e = ref === null ? undefined : this.entities.get(ref.entity)
      if (field !== null) this.fieldDocs.get(`${field.entity}.${field.attribute}`)?.add(doc)
      if (ref === null || e === undefined) continue
      e.put(ref.id, this.projection.row(ref.entity, ref.id) ?? null)
      if (slice.due()) await slice.pace()
    }
    this.cursor = upTo
  }

  /** The documents of a secured field (`<entity>/<id>/<attribute>`) that exist, if prepared. */
  fieldDocuments (entity: string, attribute: string): ReadonlySet<DocName> {
    return this.fieldDocs.get(`${entity}.${attribute}`) ?? NONE as ReadonlySet<DocName>
  }

  row (name: string): Row | undefined {
    return this.entities.get(name.slice(0, name.indexOf('/')))?.rows.get(name)
  }

  names (entity: string): Iterable<string> {
    return this.entities.get(entity)?.rows.keys() ?? NONE
  }

  ownedBy (entity: string, owner: string): Iterable<string> {
    return this.entities.get(entity)?.byOwner.get(owner) ?? NONE
  }

  inUnit (entity: string, unit: string): Iterable<string> {
    return this.entities.get(entity)?.byUnit.get(unit) ?? NONE
  }

  referring (entity: string, attribute: string, target: string): Iterable<string> {
    return this.entities.get(entity)?.byRef.get(attribute)?.get(target) ?? NONE
  }
}
