// The relational projection in SQLite: one table per entity, written (write, update) by the record log
// inside the commit of the update, read through the projection port.

import type { Catalog, EntityDef } from '../../docs/catalog-types.ts'
import { activityEntities, isPointer } from '../../docs/activity-pointer.ts'
import { columnsOf, tableName, type Row } from '../../projection/rows.ts'
import type { ReadScope } from '../../authz/decide.ts'
import type { SqliteDb } from './sqlite-db.ts'
import type { Statement } from 'better-sqlite3'
import type { ProjectionReader } from './projection-port.ts'

const SQL_TYPE = { text: 'TEXT', integer: 'INTEGER', real: 'REAL' } as const
const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`

/** Whether `row` has exactly the columns `given` (and no other key). */
const hasExactly = (row: Row, given: readonly string[]): boolean => {
  let n = 0
  for (const k in row) if (Object.hasOwn(row, k)) n++
  if (n !== given.length) return false
  for (const c of given) if (!(c in row)) return false
  return true
}

export class SqliteProjection implements ProjectionReader {
  private readonly db: SqliteDb
  private readonly catalog: Catalog
  private readonly statements = new Map<string, { upsert: Statement, remove: Statement, get: Statement, columns: string[] }>()
  /** upserts and updates of a given column set, prepared once */
  private readonly partial = new Map<string, Statement>()

  constructor (db: SqliteDb, catalog: Catalog) {
    this.db = db
    this.catalog = catalog
    for (const e of catalog.entities.values()) {
      if (isPointer(e)) continue
      const cols = columnsOf(e)
      const t = quote(tableName(e.name))
      db.exec(`CREATE TABLE IF NOT EXISTS ${t} (${cols.map(c => `${quote(c.name)} ${SQL_TYPE[c.kind]}${c.name === 'id' ? ' PRIMARY KEY' : ''}`).join(', ')})`)
      // A catalog that gained attributes since the table was made gains columns.
      const have = new Set(db.prepare<[], { name: string }>(`PRAGMA table_info(${t})`).all().map(r => r.name))
      for (const c of cols) if (!have.has(c.name)) db.exec(`ALTER TABLE ${t} ADD COLUMN ${quote(c.name)} ${SQL_TYPE[c.kind]}`)
      db.exec(`CREATE INDEX IF NOT EXISTS ${quote(`${tableName(e.name)}_owner`)} ON ${t} (ownerid)`)
      db.exec(`CREATE INDEX IF NOT EXISTS ${quote(`${tableName(e.name)}_bu`)} ON ${t} (owningbusinessunit)`)
    }
    for (const p of [...catalog.entities.values()].filter(isPointer)) this.pointerView(p)
  }

  /**
   * The activity pointer is a view over the activity tables (its columns, plus `activitytypecode`), for
   * reports and integrations; it has no rows of its own (earlier versions made it an empty table).
   */
  private pointerView (pointer: EntityDef): void {
    const t = quote(tableName(pointer.name))
    const kind = this.db.prepare<[string], { type: string }>('SELECT type FROM sqlite_master WHERE name = ?').get(tableName(pointer.name))?.type
    if (kind === 'table') this.db.exec(`DROP TABLE ${t}`)
    this.db.exec(`DROP VIEW IF EXISTS ${t}`)
    const cols = columnsOf(pointer).map(c => c.name).filter(c => c !== 'activitytypecode')
    const parts = activityEntities(this.catalog.entities.values()).map(a => {
      const have = new Set(columnsOf(a).map(c => c.name))
      return `SELECT ${cols.map(c => have.has(c) ? quote(c) : `NULL AS ${quote(c)}`).join(', ')}, '${a.name}' AS activitytypecode FROM ${quote(tableName(a.name))}`
    })
    if (parts.length > 0) this.db.exec(`CREATE VIEW ${t} AS ${parts.join(' UNION ALL ')}`)
  }

  private statementsOf (entity: string): { upsert: Statement, remove: Statement, get: Statement, columns: string[] } {
    let s = this.statements.get(entity)
    if (s === undefined) {
      const e = this.catalog.entities.get(entity)
      if (e === undefined) throw new Error(`no entity ${entity}`)
      const t = quote(tableName(entity))
      const columns = columnsOf(e).map(c => c.name)
      s = {
        // An update in place, not INSERT OR REPLACE: a replace deletes the row and inserts it again under a
        // new rowid, rewriting every index's entry and more pages of the table, in every commit of a record.
        upsert: this.db.prepare(`INSERT INTO ${t} (${columns.map(quote).join(', ')}) VALUES (${columns.map(() => '?').join(', ')}) ON CONFLICT (id) DO UPDATE SET ${columns.filter(c => c !== 'id').map(c => `${quote(c)} = excluded.${quote(c)}`).join(', ')}`),
        remove: this.db.prepare(`DELETE FROM ${t} WHERE id = ?`),
        get: this.db.prepare(`SELECT * FROM ${t} WHERE id = ?`),
        columns
      }
      this.statements.set(entity, s)
    }
    return s
  }

  /**
   * Writes (or with null removes) a record's row; call inside the commit's transaction. Columns the row
   * leaves out keep their value (a secured field is written by its own document, `update`).
   */
  write (entity: string, id: string, row: Row | null): void {
    if (isPointer(this.catalog.entities.get(entity))) {
      // A refused create of a pointer record commits its (empty) row as none: nothing to write.
      if (row === null) return
      throw new Error(`${entity} has no records of its own (its create is refused)`)
    }
    const s = this.statementsOf(entity)
    if (row === null) { s.remove.run(id); return }
    // (A record's rows have the same columns commit after commit: the statement of the last column set is
    // checked against the row before its key is built and looked up, a string of every column's name.)
    const last = this.lastUpsert.get(entity)
    let given: readonly string[]
    let st: Statement
    if (last !== undefined && hasExactly(row, last.given)) ({ given, st } = last)
    else {
      given = s.columns.filter(c => c in row)
      if (given.length === s.columns.length) st = s.upsert
      else {
        const key = `${entity}\u0000upsert\u0000${given.join(',')}`
        let partial = this.partial.get(key)
        if (partial === undefined) {
          const t = quote(tableName(entity))
          partial = this.db.prepare(`INSERT INTO ${t} (${given.map(quote).join(', ')}) VALUES (${given.map(() => '?').join(', ')}) ON CONFLICT (id) DO UPDATE SET ${given.filter(c => c !== 'id').map(c => `${quote(c)} = excluded.${quote(c)}`).join(', ')}`)
          this.partial.set(key, partial)
        }
        st = partial
      }
      this.lastUpsert.set(entity, { given, st })
    }
    const values: unknown[] = new Array(given.length)
    for (let i = 0; i < given.length; i++) values[i] = row[given[i]] ?? null
    st.run(values)
  }

  /** per entity, the column set of the last row written and its statement */
  private readonly lastUpsert = new Map<string, { readonly given: readonly string[], readonly st: Statement }>()

  /** Sets some columns of an existing row (nothing when there is none). */
  update (entity: string, id: string, values: Row): void {
    const cols = Object.keys(values).filter(c => c !== 'id')
    if (cols.length === 0 || isPointer(this.catalog.entities.get(entity))) return
    const key = `${entity}\u0000update\u0000${cols.join(',')}`
    let st = this.partial.get(key)
    if (st === undefined) {
      this.statementsOf(entity) // the entity exists
      st = this.db.prepare(`UPDATE ${quote(tableName(entity))} SET ${cols.map(c => `${quote(c)} = ?`).join(', ')} WHERE id = ?`)
      this.partial.set(key, st)
    }
    st.run(...cols.map(c => values[c] ?? null), id)
  }

  row (entity: string, id: string): Row | undefined {
    if (isPointer(this.catalog.entities.get(entity))) return this.db.prepare(`SELECT * FROM ${quote(tableName(entity))} WHERE id = ?`).get(id) as Row | undefined
    return this.statementsOf(entity).get.get(id) as Row | undefined
  }

  all (entity: string): Row[] {
    return this.db.prepare(`SELECT * FROM ${quote(tableName(entity))}`).all() as Row[]
  }

  page (entity: string, afterId: string | null, limit: number): Row[] {
    const t = quote(tableName(entity))
    if (afterId === null) return this.db.prepare(`SELECT * FROM ${t} ORDER BY id LIMIT ?`).all(limit) as Row[]
    return this.db.prepare(`SELECT * FROM ${t} WHERE id > ? ORDER BY id LIMIT ?`).all(afterId, limit) as Row[]
  }

  /** A page of the rows within `scope`, ordered by id: those after `afterId` (null: from the first), less the first `offset`. */
  rows (entity: string, scope: ReadScope, limit: number, offset: number, afterId: string | null = null): Row[] {
    const t = quote(tableName(entity))
    const where: string[] = []
    const args: string[] = []
    if (!scope.all) {
      const ors: string[] = []
      const any = (col: string, values: Iterable<string>): void => {
        const list = [...values]
        if (list.length === 0) return
        ors.push(`${col} IN (${list.map(() => '?').join(', ')})`)
        args.push(...list)
      }
      any('owningbusinessunit', scope.businessUnits)
      any('ownerid', scope.owners)
      any('id', [...scope.records].map(r => r.slice(entity.length + 1)))
      if (ors.length === 0) return []
      where.push(`(${ors.join(' OR ')})`)
    }
    if (afterId !== null) { where.push('id > ?'); args.push(afterId) }
    return this.db.prepare(`SELECT * FROM ${t}${where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`} ORDER BY id LIMIT ? OFFSET ?`).all(...args, limit, offset) as Row[]
  }
}
