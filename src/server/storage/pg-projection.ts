// The relational projection in PostgreSQL: one table per entity, written by the record log inside the
// transaction of the update it projects, read through the projection port (a row's owner synchronously,
// pages over the pool).

import type { Catalog, EntityDef } from '../../docs/catalog-types.ts'
import { activityEntities, isPointer } from '../../docs/activity-pointer.ts'
import { columnsOf, tableName, type Row } from '../../projection/rows.ts'
import type { ReadScope } from '../../authz/decide.ts'
import type { ProjectionReader } from './projection-port.ts'
import type { CommitEffects } from './port.ts'
import { prepared, quoteIdent as quote, type PgClient, type PgPool } from './pg-db.ts'
import type { SyncPg } from './pg-sync.ts'

/** PostgreSQL text holds no NUL character (SQLite's does): a value's NULs are stored as U+FFFD. */
const pgValue = (v: Row[string] | undefined): Row[string] => typeof v === 'string' && v.includes('\u0000') ? v.replaceAll('\u0000', '\ufffd') : v ?? null

/** A record's projected row as a commit writes it. */
export type ProjectedRow = NonNullable<CommitEffects['row']>

const SQL_TYPE = { text: 'TEXT', integer: 'BIGINT', real: 'DOUBLE PRECISION' } as const

/** The statements that bring the projection's tables up to date with the catalog (idempotent). */
export const projectionMigrations = (catalog: Catalog): string[] => {
  const out: string[] = []
  for (const e of catalog.entities.values()) {
    if (isPointer(e)) continue
    const cols = columnsOf(e)
    const t = quote(tableName(e.name))
    // ids compare byte by byte (as in SQLite), whatever the database's collation
    const type = (c: { name: string, kind: keyof typeof SQL_TYPE }): string => `${SQL_TYPE[c.kind]}${c.name === 'id' ? ' COLLATE "C" PRIMARY KEY' : ''}`
    out.push(`CREATE TABLE IF NOT EXISTS ${t} (${cols.map(c => `${quote(c.name)} ${type(c)}`).join(', ')})`)
    // A catalog that gained attributes since the table was made gains columns.
    for (const c of cols) if (c.name !== 'id') out.push(`ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS ${quote(c.name)} ${SQL_TYPE[c.kind]}`)
    out.push(`CREATE INDEX IF NOT EXISTS ${quote(`${tableName(e.name)}_owner`)} ON ${t} (ownerid)`)
    out.push(`CREATE INDEX IF NOT EXISTS ${quote(`${tableName(e.name)}_bu`)} ON ${t} (owningbusinessunit)`)
  }
  for (const p of [...catalog.entities.values()].filter(isPointer)) out.push(...pointerView(catalog, p))
  return out
}

/** The activity pointer: a view over the activity tables (its columns plus `activitytypecode`). */
const pointerView = (catalog: Catalog, pointer: EntityDef): string[] => {
  const t = quote(tableName(pointer.name))
  const cols = columnsOf(pointer).map(c => c.name).filter(c => c !== 'activitytypecode')
  const parts = activityEntities(catalog.entities.values()).map(a => {
    const have = new Set(columnsOf(a).map(c => c.name))
    const kind = new Map(columnsOf(pointer).map(c => [c.name, SQL_TYPE[c.kind]]))
    return `SELECT ${cols.map(c => have.has(c) ? quote(c) : `NULL::${kind.get(c)} AS ${quote(c)}`).join(', ')}, '${a.name}'::TEXT AS activitytypecode FROM ${quote(tableName(a.name))}`
  })
  // (migrate drops and makes it again only when this definition changed)
  return parts.length > 0 ? [`CREATE VIEW ${t} AS ${parts.join(' UNION ALL ')}`] : [`DROP VIEW IF EXISTS ${t}`]
}

export class PgProjection implements ProjectionReader {
  private readonly pool: PgPool
  private readonly sync: SyncPg
  private readonly catalog: Catalog

  /** The tables must exist (projectionMigrations, run by openPgStores). */
  constructor (pool: PgPool, sync: SyncPg, catalog: Catalog) {
    this.pool = pool
    this.sync = sync
    this.catalog = catalog
  }

  private columns (entity: string): string[] {
    const e = this.catalog.entities.get(entity)
    if (e === undefined) throw new Error(`no entity ${entity}`)
    return columnsOf(e).map(c => c.name)
  }

  /** Writes (or with null removes) a record's row in the commit's transaction; columns left out keep their value. */
  async write (c: PgClient, entity: string, id: string, row: Row | null): Promise<void> {
    if (isPointer(this.catalog.entities.get(entity))) {
      if (row === null) return
      throw new Error(`${entity} has no records of its own (its create is refused)`)
    }
    const t = quote(tableName(entity))
    if (row === null) { await c.query(`DELETE FROM ${t} WHERE id = $1`, [id]); return }
    const given = this.columns(entity).filter(col => col in row)
    const sets = given.filter(col => col !== 'id').map(col => `${quote(col)} = excluded.${quote(col)}`)
    await c.query(`INSERT INTO ${t} (${given.map(quote).join(', ')}) VALUES (${given.map((_, i) => `$${i + 1}`).join(', ')})
      ON CONFLICT (id) DO ${sets.length === 0 ? 'NOTHING' : `UPDATE SET ${sets.join(', ')}`}`, given.map(col => pgValue(row[col])))
  }

  /**
   * Sends the statements that write `rows` in `c`'s transaction and returns their answers without waiting
   * for them: per table, one statement removes the rows that go and one writes each set of columns given
   * (an upsert from a JSON array). A row given twice (appends of one record outside its lock), a value
   * JSON cannot carry (a number that is not finite) and a secured field's column are written one
   * statement each, in order, the secured fields last (after the row they go into).
   */
  writeRows (c: PgClient, rows: readonly ProjectedRow[]): Promise<void>[] {
    const out: Promise<void>[] = []
    const key = (r: ProjectedRow): string => `${r.entity}\u0000${r.id}`
    const times = new Map<string, number>()
    for (const r of rows) if (r.partial !== true) times.set(key(r), (times.get(key(r)) ?? 0) + 1)
    const tables = new Map<string, { gone: string[], upserts: Map<string, Row[]> }>()
    const alone: ProjectedRow[] = []
    for (const r of rows) {
      if (r.partial === true) continue
      const values = r.values
      if (times.get(key(r))! > 1 || isPointer(this.catalog.entities.get(r.entity)) || (values !== null && Object.values(values).some(v => typeof v === 'number' && !Number.isFinite(v)))) { alone.push(r); continue }
      let t = tables.get(r.entity)
      if (t === undefined) tables.set(r.entity, t = { gone: [], upserts: new Map() })
      if (values === null) { t.gone.push(r.id); continue }
      const given = this.columns(r.entity).filter(col => col in values)
      const row: Row = {}
      for (const col of given) row[col] = pgValue(values[col])
      const cols = given.join('\u0000')
      const list = t.upserts.get(cols)
      if (list === undefined) t.upserts.set(cols, [row]); else list.push(row)
    }
    const done = (p: Promise<unknown>): Promise<void> => p.then(() => {})
    for (const [entity, t] of tables) {
      const table = quote(tableName(entity))
      if (t.gone.length > 0) out.push(done(c.query(prepared(`DELETE FROM ${table} WHERE id = ANY($1::text[])`, [t.gone]))))
      for (const [cols, list] of t.upserts) {
        const given = cols.split('\u0000')
        const sets = given.filter(col => col !== 'id').map(col => `${quote(col)} = excluded.${quote(col)}`)
        out.push(done(c.query(prepared(`INSERT INTO ${table} (${given.map(quote).join(', ')}) SELECT ${given.map(quote).join(', ')} FROM json_populate_recordset(NULL::${table}, $1::json)
          ON CONFLICT (id) DO ${sets.length === 0 ? 'NOTHING' : `UPDATE SET ${sets.join(', ')}`}`, [JSON.stringify(list)]))))
      }
    }
    for (const r of alone) out.push(this.write(c, r.entity, r.id, r.values))
    for (const r of rows) if (r.partial === true && r.values !== null) out.push(this.update(c, r.entity, r.id, r.values))
    return out
  }

  /** Sets some columns of an existing row (nothing when there is none). */
  async update (c: PgClient, entity: string, id: string, values: Row): Promise<void> {
    const cols = Object.keys(values).filter(col => col !== 'id')
    if (cols.length === 0 || isPointer(this.catalog.entities.get(entity))) return
    const known = new Set(this.columns(entity))
    const unknown = cols.find(col => !known.has(col))
    if (unknown !== undefined) throw new Error(`${entity} has no column ${unknown}`)
    await c.query(`UPDATE ${quote(tableName(entity))} SET ${cols.map((col, i) => `${quote(col)} = $${i + 1}`).join(', ')} WHERE id = $${cols.length + 1}`, [...cols.map(col => pgValue(values[col])), id])
  }

  row (entity: string, id: string): Row | undefined {
    return this.sync.one<Row>(`SELECT * FROM ${quote(tableName(entity))} WHERE id = $1`, [id])
  }

  async all (entity: string): Promise<Row[]> {
    return (await this.pool.query<Row>(`SELECT * FROM ${quote(tableName(entity))}`)).rows
  }

  async page (entity: string, afterId: string | null, limit: number): Promise<Row[]> {
    const t = quote(tableName(entity))
    if (afterId === null) return (await this.pool.query<Row>(`SELECT * FROM ${t} ORDER BY id LIMIT $1`, [limit])).rows
    return (await this.pool.query<Row>(`SELECT * FROM ${t} WHERE id > $1 ORDER BY id LIMIT $2`, [afterId, limit])).rows
  }

  async rows (entity: string, scope: ReadScope, limit: number, offset: number, afterId: string | null = null): Promise<Row[]> {
    const t = quote(tableName(entity))
    const where: string[] = []
    const args: unknown[] = []
    if (!scope.all) {
      const ors: string[] = []
      const any = (col: string, values: Iterable<string>): void => {
        const list = [...values]
        if (list.length === 0) return
        args.push(list)
        ors.push(`${col} = ANY($${args.length}::text[])`)
      }
      any('owningbusinessunit', scope.businessUnits)
      any('ownerid', scope.owners)
      any('id', [...scope.records].map(r => r.slice(entity.length + 1)))
      if (ors.length === 0) return []
      where.push(`(${ors.join(' OR ')})`)
    }
    if (afterId !== null) { args.push(afterId); where.push(`id > $${args.length}`) }
    return (await this.pool.query<Row>(`SELECT * FROM ${t}${where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`} ORDER BY id LIMIT $${args.length + 1} OFFSET $${args.length + 2}`, [...args, limit, offset])).rows
  }
}
