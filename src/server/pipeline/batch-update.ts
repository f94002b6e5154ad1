// One update for everything a batch's transactions did to a record's document, encoded from the document
// itself as Yjs encodes one transaction's update: the structs each client added since its state before the
// batch, and the union of the transactions' deletions. It equals merging the batch's kept updates
// (Y.mergeUpdates) and costs what the batch added, where merging decodes and re-encodes every update.

import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'

type DeleteSet = Y.Transaction['deleteSet']

/** Watches `doc`'s transactions from now on; `finish` gives their update (null: none changed anything). */
export class BatchUpdate {
  /** per client that wrote, its state before its first change in the batch */
  private readonly starts = new Map<number, number>()
  private readonly deletions: DeleteSet[] = []
  private readonly onTransaction = (tr: Y.Transaction): void => {
    for (const [client, after] of tr.afterState) {
      if (this.starts.has(client)) continue
      const before = tr.beforeState.get(client) ?? 0
      if (after !== before) this.starts.set(client, before)
    }
    if (tr.deleteSet.clients.size > 0) this.deletions.push(tr.deleteSet)
  }

  constructor (readonly doc: Y.Doc) {
    doc.on('afterTransaction', this.onTransaction)
  }

  /** Stops watching (the batch's update is not wanted). */
  stop (): void {
    this.doc.off('afterTransaction', this.onTransaction)
  }

  /** Stops watching and gives the update of every transaction since this was made (V1 encoding). (In one
   * call: the structs are read from the document, so a transaction after stopping would add its own.) */
  finish (): Uint8Array | null {
    this.stop()
    if (this.starts.size === 0 && this.deletions.length === 0) return null
    const encoder = new Y.UpdateEncoderV1()
    const rest = encoder.restEncoder
    // (Clients and delete-set clients in descending order, as Yjs writes them.)
    const clients = [...this.starts.keys()].sort((a, b) => b - a)
    encoding.writeVarUint(rest, clients.length)
    for (const client of clients) {
      const structs = this.doc.store.clients.get(client)!
      const clock = this.starts.get(client)!
      const first = Y.findIndexSS(structs, clock)
      encoding.writeVarUint(rest, structs.length - first)
      encoder.writeClient(client)
      encoding.writeVarUint(rest, clock)
      // (The first struct may have been merged with one from before the batch: written from `clock` on.)
      structs[first].write(encoder, clock - structs[first].id.clock)
      for (let i = first + 1; i < structs.length; i++) structs[i].write(encoder, 0)
    }
    const ds = this.deletions.length === 1 ? this.deletions[0] : Y.mergeDeleteSets(this.deletions)
    encoding.writeVarUint(rest, ds.clients.size)
    for (const [client, items] of [...ds.clients].sort((a, b) => b[0] - a[0])) {
      encoder.resetDsCurVal()
      encoding.writeVarUint(rest, client)
      encoding.writeVarUint(rest, items.length)
      for (const item of items) { encoder.writeDsClock(item.clock); encoder.writeDsLen(item.len) }
    }
    return encoder.toUint8Array()
  }
}
