// Integrates an update the check step has decoded already (src/server/update-check.ts), from its decoded
// structs, instead of decoding its bytes a second time in Y.applyUpdate: the same steps as Yjs's
// readUpdateV2 (integrateStructs, then readAndApplyDeleteSet), written with Yjs's exported API. Only for an
// update that passed the check: one section per client, no skipped clocks, every id it refers to known to
// the document or in the update. What Yjs would park as pending throws here instead (a check that let it
// through is a bug).

import * as Y from 'yjs'

type Struct = Y.Item | Y.GC | Y.Skip
type Decoded = ReturnType<typeof Y.decodeUpdate>

/** Whether `integrateDecoded` may take in an update into `doc` (Yjs holds nothing pending there). */
export const mayIntegrateDecoded = (doc: Y.Doc): boolean => doc.store.pendingStructs === null && doc.store.pendingDs === null

/**
 * Integrates `update`'s structs and deletions into the document of `tr` (inside that transaction, as
 * Y.applyUpdate would: the transaction becomes a remote one). The decoded structs become the document's
 * items: read them afterwards through the document (Y.getItem), as after Y.applyUpdate.
 */
export const integrateDecoded = (tr: Y.Transaction, update: Decoded): void => {
  tr.local = false
  integrateStructs(tr, update.structs)
  applyDeletes(tr, update.ds)
}

const unexpected = (what: string): Error => new Error(`integrateDecoded: ${what} (the check should have refused this update)`)

/** Yjs's integrateStructs for a checked update: the highest client first, a struct's dependencies in the update before it. */
const integrateStructs = (tr: Y.Transaction, structs: readonly Struct[]): void => {
  if (structs.length === 0) return
  const client = structs[0].id.client
  let one = true
  for (const s of structs) if (s.id.client !== client) { one = false; break }
  if (one) integrateOneClient(tr, structs)
  else integrateClients(tr, structs)
}

/** A root's item gets the root type itself, as Yjs's reader gives it (making the root if the document has none yet). */
const resolveRoot = (doc: Y.Doc, s: Struct): void => {
  if (!(s instanceof Y.Item)) return
  const parent: unknown = s.parent
  if (typeof parent === 'string') s.parent = doc.get(parent)
}

/**
 * The usual update: one writer's structs, in clock order. Yjs takes them in that order; a dependency
 * on another client it would look for in the update is one the document must have here, there being
 * no other client in the update. (No maps or lists made: this runs for every update.)
 */
const integrateOneClient = (tr: Y.Transaction, structs: readonly Struct[]): void => {
  const doc = tr.doc
  const store = doc.store
  for (const s of structs) resolveRoot(doc, s)
  let local = Y.getState(store, structs[0].id.client)
  for (const s of structs) {
    if (s instanceof Y.Skip) throw unexpected('a skip')
    const offset = local - s.id.clock
    if (offset < 0) throw unexpected(`clocks of client ${s.id.client} missing before ${s.id.clock}`)
    const missing = s.getMissing(tr, store)
    if (missing !== null) throw unexpected(`a dependency on client ${missing} the document lacks`)
    if (offset === 0 || offset < s.length) {
      s.integrate(tr, offset)
      local = s.id.clock + s.length
    }
  }
}

/** Several clients' structs: Yjs's order, with a stack for a struct that depends on another client's in the update. */
const integrateClients = (tr: Y.Transaction, structs: readonly Struct[]): void => {
  const doc = tr.doc
  const store = doc.store
  const byClient = new Map<number, { i: number, refs: Array<Y.Item | Y.GC> }>()
  for (const s of structs) {
    if (s instanceof Y.Skip) throw unexpected('a skip')
    resolveRoot(doc, s)
    let list = byClient.get(s.id.client)
    if (list === undefined) { list = { i: 0, refs: [] }; byClient.set(s.id.client, list) }
    list.refs.push(s)
  }
  const clients = [...byClient.keys()].sort((a, b) => a - b)
  const next = (): { i: number, refs: Array<Y.Item | Y.GC> } | null => {
    while (clients.length > 0) {
      const target = byClient.get(clients[clients.length - 1])!
      if (target.i < target.refs.length) return target
      clients.pop()
    }
    return null
  }
  const state = new Map<number, number>()
  const stack: Array<Y.Item | Y.GC> = []
  let current = next()
  let head = current === null ? undefined : current.refs[current.i++]
  while (head !== undefined) {
    const client = head.id.client
    let local = state.get(client)
    if (local === undefined) { local = Y.getState(store, client); state.set(client, local) }
    const offset = local - head.id.clock
    if (offset < 0) throw unexpected(`clocks of client ${client} missing before ${head.id.clock}`)
    const missing = head.getMissing(tr, store)
    if (missing !== null) {
      stack.push(head)
      const refs = byClient.get(missing)
      if (refs === undefined || refs.i === refs.refs.length) throw unexpected(`a dependency on client ${missing} the document lacks`)
      head = refs.refs[refs.i++]
      continue
    }
    if (offset === 0 || offset < head.length) {
      head.integrate(tr, offset)
      state.set(client, head.id.clock + head.length)
    }
    if (stack.length > 0) head = stack.pop()
    else if (current !== null && current.i < current.refs.length) head = current.refs[current.i++]
    else {
      current = next()
      head = current === null ? undefined : current.refs[current.i++]
    }
  }
}

/** Yjs's readAndApplyDeleteSet for a checked update (every range within what the document now has). */
const applyDeletes = (tr: Y.Transaction, ds: Decoded['ds']): void => {
  const store = tr.doc.store
  for (const [client, ranges] of ds.clients) {
    const state = Y.getState(store, client)
    for (const r of ranges) {
      // (An empty range deletes nothing; Yjs would keep it as a pending deletion.)
      if (r.len <= 0) continue
      const end = r.clock + r.len
      if (end > state) throw unexpected(`a deletion of clocks of client ${client} the document lacks`)
      const structs = store.clients.get(client)
      if (structs === undefined) continue
      let index = Y.findIndexSS(structs, r.clock)
      let s = structs[index]
      // (Split only a live item: one deleted already stays whole, as Yjs leaves it.)
      if (!s.deleted && s.id.clock < r.clock) {
        Y.getItemCleanStart(tr, Y.createID(client, r.clock))
        index++
      }
      while (index < structs.length) {
        s = structs[index++]
        if (s.id.clock >= end) break
        if (!s.deleted && s instanceof Y.Item) {
          if (end < s.id.clock + s.length) Y.getItemCleanEnd(tr, store, Y.createID(client, end - 1))
          s.delete(tr)
        }
      }
    }
  }
}
