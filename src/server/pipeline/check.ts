// Step 1 of the record pipeline: whether an update may be decided at all. It decodes, the record has
// what it depends on, its client ids are its sender's own and within quota, and it stays within the
// record layout. Pure: the document and the bindings are only read.

import type * as Y from 'yjs'
import type { EntityDef } from '../../docs/catalog-types.ts'
import { checkLayout, type LayoutOptions } from '../../docs/layout.ts'
import { checkUpdate, type DecodedUpdate } from '../update-check.ts'
import type { RecordQuotas } from '../quotas.ts'

export type Admission =
  | { readonly ok: true, readonly decoded: DecodedUpdate, readonly clients: readonly number[], readonly fresh: readonly number[] }
  | { readonly ok: false, readonly problem: 'malformed' | 'missing-dependencies' | 'stale-clocks', readonly message: string }
  /** a client id another principal first wrote with in this record */
  | { readonly ok: false, readonly problem: 'foreign-client', readonly client: number }
  /** more new client ids than the principal may introduce (`message` names the bound) */
  | { readonly ok: false, readonly problem: 'too-many-clients', readonly message: string }
  | { readonly ok: false, readonly problem: 'outside-layout', readonly path: string, readonly message: string, readonly decoded: DecodedUpdate }

export interface CheckContext {
  readonly principal: string
  /** Yjs client id -> the principal that first wrote with it */
  readonly bindings: ReadonlyMap<number, string>
  readonly quotas: Pick<RecordQuotas, 'exceeded'>
  readonly entity: EntityDef
  readonly layout: LayoutOptions
}

/** A Yjs client id among `clients` that another principal first wrote with, if any. */
export const foreignClient = (bindings: ReadonlyMap<number, string>, clients: readonly number[], principal: string): number | undefined =>
  clients.find(c => (bindings.get(c) ?? principal) !== principal)

export const check = (doc: Y.Doc, update: Uint8Array, ctx: CheckContext): Admission => {
  const c = checkUpdate(doc, update)
  if (!c.ok) return c
  const foreign = foreignClient(ctx.bindings, c.clients, ctx.principal)
  if (foreign !== undefined) return { ok: false, problem: 'foreign-client', client: foreign }
  const fresh = c.clients.filter(x => !ctx.bindings.has(x))
  const tooMany = ctx.quotas.exceeded(ctx.principal, { clientIds: fresh.length })
  if (tooMany !== null) return { ok: false, problem: 'too-many-clients', message: tooMany }
  const violation = checkLayout(doc, c.decoded, ctx.entity, ctx.layout)
  if (violation !== null) return { ok: false, problem: 'outside-layout', path: violation.path, message: violation.message, decoded: c.decoded }
  return { ok: true, decoded: c.decoded, clients: c.clients, fresh }
}
