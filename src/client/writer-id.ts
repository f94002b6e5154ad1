// The Yjs client id a device writes its record documents under: one per local store, writer slot and user,
// kept across sessions. A new id per session bound one more id in every record edited (the server keeps at
// most MAX_CLIENT_IDS_PER_RECORD per user and record, then closes the device with 4413 at every connect),
// and made an edit after a restart look like another writer's, concurrent with the same device's earlier one.
//
// When reusing an id is safe. Yjs writes a document's next item under its client id at the clock the
// document holds for that id, so a document may write under a kept id only if it holds EVERY item ever
// written under that id in that record (else two different items get one id: replicas diverge for good,
// and the server, which has the id's earlier item, takes the new one as sent again and drops it). It holds
// them while all of these stay true:
// 1. One writer per id. A slot's ids are used only by the session holding the slot's lock (Web Locks in a
//    browser; an OS file lock on Node, let go by the kernel when its holder dies); a session that finds every
//    slot held (a fifth tab) writes under a fresh id of its own and keeps none.
// 2. Nothing written under an id leaves the device before the local store committed it: pushes and commands
//    go after their store write commits, and the answer to the server's sync step 1 is read from the store
//    after the local writes queued before it (Replica.stateFor). So whatever the server or any replica has
//    of the id, the local store has too. A record's document is loaded from the store before it is edited.
// 3. The store keeps it. Evicting a record drops its items under our id, and the record may be edited
//    again before the server sends it back (an update or a command on a record no longer held writes at the
//    clocks of an empty document), or come back without items the server never integrated (refused whole,
//    or still on its way when the record went). So dropping a record that holds items of the current id
//    retires the id first: a fresh id is kept in its place, committed before the record is removed, and
//    every open document moves to it. A store whose commits may be lost (SQLite with synchronous=normal,
//    after a session that did not end cleanly) forgets the slot's ids when the slot is claimed; a store that
//    is destroyed (sign-out) takes its ids with it.
// 4. Per user: the server binds an id to the principal that first wrote with it, so each user of a store
//    has ids of their own (and before the first sync, with no user known, a session writes nothing).
// What is safe without more: a record received from the server (first download, or back after an
// eviction) holds what the server has, and a record not yet fully synced only lacks other clients' items,
// which do not move our clock. Should the rule be broken anyway, Yjs itself moves a document to a random
// id when a remote update brings items under its own id (the old behaviour, one more id bound).

import type { LocalStore } from './store.ts'

/** Writer slots per store: as many sessions (tabs, processes) at once keep their ids across restarts. */
export const WRITER_SLOTS = 4

/** The server writes under ids below 2^20 (src/server/room.ts, SERVER_CLIENT_RANGE); a device stays above. */
const DEVICE_CLIENT_MIN = 1 << 20

/** A random Yjs client id of the device range. */
export const freshClientId = (): number => DEVICE_CLIENT_MIN + Math.floor(Math.random() * (0x100000000 - DEVICE_CLIENT_MIN))

export class WriterIds {
  private readonly store: LocalStore
  /** the slot this session holds, or null (none free: ids are fresh and kept nowhere) */
  readonly slot: number | null
  /** the id of each user this session asked for (a promise, so concurrent asks get one id) */
  private readonly ids = new Map<string, Promise<number>>()

  private constructor (store: LocalStore, slot: number | null) {
    this.store = store
    this.slot = slot
  }

  static async claim (store: LocalStore): Promise<WriterIds> {
    return new WriterIds(store, await store.claimWriterSlot(WRITER_SLOTS))
  }

  /** The id this session writes under for `user` (null: not known yet; an id of this session alone). */
  idFor (user: string | null): Promise<number> {
    const key = user ?? ''
    let id = this.ids.get(key)
    if (id === undefined) {
      id = this.slot === null || user === null ? Promise.resolve(freshClientId()) : this.kept(this.slot, user)
      this.ids.set(key, id)
      id.catch(() => { if (this.ids.get(key) === id) this.ids.delete(key) })
    }
    return id
  }

  private async kept (slot: number, user: string): Promise<number> {
    const stored = await this.store.writerId(slot, user)
    if (stored !== undefined) return stored
    const id = freshClientId()
    await this.store.setWriterId(slot, user, id)
    return id
  }

  /** Replaces the id of `user` by a fresh one, kept (committed) when this resolves; the old one is never used again. */
  retire (user: string | null): Promise<number> {
    const key = user ?? ''
    const slot = this.slot
    // (after any write of the id being retired, so that it cannot land after the fresh one)
    const kept = (this.ids.get(key) ?? Promise.resolve(0)).catch(() => 0).then(async () => {
      const id = freshClientId()
      if (slot !== null && user !== null) await this.store.setWriterId(slot, user, id)
      return id
    })
    this.ids.set(key, kept)
    return kept
  }
}
