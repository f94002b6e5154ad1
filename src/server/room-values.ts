// What a record's document holds as values other parts of the server read: the business rules' input
// (another document's rules read it: a record's secured fields, or the rest of the record), the projected
// row, and which of the entity's attributes are secured now (kept in their own documents).

import type * as Y from 'yjs'
import { attributeOf } from '../docs/catalog-types.ts'
import { attributeValues, readRecord } from '../docs/record.ts'
import { parseDocName, parseFieldDocName, type DocName } from '../ids.ts'
import { ruleFields, ruleInput, rulesOf } from '../metadata/business-rules.ts'
import { rowOf, sqlValue } from '../projection/rows.ts'
import type { CommitEffects } from './storage/port.ts'
import type { RoomContext } from './room-types.ts'

/** A row has no notes: none are read for it. */
const NO_NOTES: ReadonlySet<string> = new Set()

export class RecordValues {
  private securedCache: { version: number, set: ReadonlySet<string>, ruled: boolean } | undefined
  /** the last values() and the document read, until a transaction of that document ends (watch) */
  private valuesOf: { readonly doc: Y.Doc, readonly values: Readonly<Record<string, unknown>> } | undefined

  constructor (private readonly name: DocName, private readonly ctx: RoomContext) {}

  /** Forgets what was read from `doc` whenever one of its transactions ends. Returns `doc`. */
  watch (doc: Y.Doc): Y.Doc {
    doc.on('afterTransaction', () => { this.valuesOf = undefined })
    return doc
  }

  /** The entity's attributes that are secured now (kept in their own documents, not in this one). */
  secured (): ReadonlySet<string> {
    const version = this.ctx.security.index.version
    if (this.securedCache?.version !== version) {
      const e = this.ctx.entity.name
      const set = new Set(this.ctx.security.model.securedFields.filter(f => f.startsWith(`${e}.`)).map(f => f.slice(e.length + 1)))
      const read = ruleFields(this.ctx.rules ?? [], e)
      // (A stage's required secured field counts too: its gate reads the value where it is kept.)
      const required = new Set((this.ctx.flows ?? []).filter(f => f.entity === e).flatMap(f => f.stages.flatMap(st => st.required)))
      this.securedCache = { version, set, ruled: [...set].some(f => read.has(f) || required.has(f)) }
    }
    return this.securedCache.set
  }

  /**
   * The record's values kept in other documents, when the entity's business rules read them: a record's
   * secured fields, or (for a secured field's document) the rest of the record.
   */
  elsewhere (): (() => Readonly<Record<string, unknown>>) | undefined {
    const { field, rules, entity, elsewhere } = this.ctx
    if (elsewhere === undefined) return undefined
    // (A field's save is a save of the record: every rule of the entity applies, named field or not.)
    if (field !== undefined) return rulesOf(rules ?? [], entity.name).length > 0 ? elsewhere : undefined
    this.secured()
    return this.securedCache?.ruled === true ? elsewhere : undefined
  }

  /** What business rules read in `doc` (a record's values, or a secured field's). */
  values (doc: Y.Doc): Readonly<Record<string, unknown>> {
    // (Every save of an account reads its secured field's document: read again only once that document
    // has had a transaction since.)
    if (this.valuesOf?.doc === doc) return this.valuesOf.values
    const state = readRecord(doc, this.ctx.entity, NO_NOTES)
    const values = this.ctx.field !== undefined ? attributeValues(state) : ruleInput(state)
    this.valuesOf = { doc, values }
    return values
  }

  /** The projected row `doc` writes: a record's own columns, or a secured field's one column. */
  row (doc: Y.Doc): NonNullable<CommitEffects['row']> {
    const { entity, field } = this.ctx
    const state = readRecord(doc, entity, NO_NOTES)
    if (field === undefined) return { entity: entity.name, id: parseDocName(this.name)!.id, values: rowOf(entity, state, this.secured()) }
    const f = parseFieldDocName(this.name)!
    const memo = attributeOf(entity, field)?.type === 'memo'
    return { entity: entity.name, id: f.id, values: { [field]: sqlValue(memo ? state.texts[field] : state.fields[field]) }, partial: true }
  }
}
