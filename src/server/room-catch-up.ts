// A room's copy of its record kept equal to what every server instance committed (README, "More than one
// instance"). Each batch is decided holding the record's write lock, after taking in what others committed
// since this copy's position (lockedProcess); an update another instance published is applied at once only
// when it is the next one this copy expects, otherwise the copy catches up from storage in its pipeline.
// With one process on the store (SQLite) none of this runs.

import * as Y from 'yjs'
import type { DocName } from '../ids.ts'
import type { RecordOwnership } from '../docs/ownership.ts'
import type { CatchUp, ClientBinding, PrincipalUsage, RecordLocks } from './storage/port.ts'
import type { CommittedEvent } from './room-events.ts'
import type { RoomMember } from './room-member.ts'

/** An update another instance published that this copy could not take in yet (keyed by `prevSeq`), with
 * the client ids its commit bound. */
interface Kept { readonly seq: number, readonly updates: readonly Uint8Array[], readonly bindings: readonly ClientBinding[] }

/** How many published updates a copy keeps while its pipeline runs; past it, it catches up from storage. */
const MAX_HELD = 256

/** What catching up keeps per room. */
export interface PeerState {
  /** the log position through which this copy's client-id bindings were read from storage (a published
   * update brings the ids its commit bound, but nothing published is what a decision relies on: the lock
   * reads them from storage when the copy took in any since) */
  bindingsSeq: number
  /** whether a batch is being decided (from its lock to its end): the document must not change */
  deciding: boolean
  /** published updates that arrived while a batch was decided, or ahead of the copy */
  readonly held: Map<number, Kept>
  /** whether the copy must catch up from storage after the batch (a message that could not be kept) */
  behind: boolean
}

export const newPeerState = (lastSeq: number): PeerState => ({ bindingsSeq: lastSeq, deciding: false, held: new Map(), behind: false })

/** What catching up reaches inside a room. */
export interface PeerRoom {
  readonly state: PeerState
  readonly record: () => DocName
  readonly doc: () => Y.Doc
  /** the log position this copy holds everything through */
  readonly lastSeq: () => number
  /** took in log entries through `seq` (`entries` of them) */
  readonly took: (seq: number, entries: number) => void
  /** a client id another instance bound (kept unless known) */
  readonly bind: (client: number, principal: string) => void
  /** what each principal has the record keep, as read under the lock */
  readonly usage: (usage: readonly PrincipalUsage[]) => void
  readonly members: () => ReadonlySet<RoomMember>
  readonly ownership: () => RecordOwnership | undefined
  /** closes the members who may no longer read the record */
  readonly revokeUnreadable: () => void
  readonly committed: (e: CommittedEvent) => void
  /** brings the security model up to the newest saved version (`saved`: that version, read in the
   * record's transaction, when known) */
  readonly refreshSecurity: (saved?: number) => void
  /** whether the pipeline is processing or has work queued */
  readonly busy: () => boolean
  /** queues a catch-up through the pipeline (it takes the lock, so it reads everything committed) */
  readonly catchUpLater: () => void
}

const PEER = { source: 'peer-instance' } as const

/** Applies others' updates to the copy and passes them on to its members (they are committed already). */
const takeIn = (room: PeerRoom, updates: readonly { seq: number, data: Uint8Array }[]): void => {
  const fresh = updates.filter(u => u.seq > room.lastSeq())
  if (fresh.length === 0) return
  const before = room.ownership()
  const doc = room.doc()
  doc.transact(() => { for (const u of fresh) Y.applyUpdate(doc, u.data) }, PEER)
  const prevSeq = room.lastSeq()
  const seq = fresh[fresh.length - 1].seq
  room.took(seq, new Set(fresh.map(u => u.seq)).size)
  const after = room.ownership()
  const ownerChanged = after?.ownerid !== before?.ownerid || after?.owningbusinessunit !== before?.owningbusinessunit
  if (ownerChanged) room.revokeUnreadable()
  const data = fresh.map(u => u.data)
  for (const m of room.members()) for (const u of data) m.update(u, 'published')
  room.committed({ record: room.record(), updates: data, ownerChanged, seq, prevSeq, remote: true })
}

const takeCatchUp = (room: PeerRoom, c: CatchUp): void => {
  for (const b of c.bindings) room.bind(b.client, b.principal)
  takeIn(room, c.updates)
}

/**
 * Runs one batch of the pipeline holding the record's write lock, the copy caught up first. `failed` hears
 * of a failure before the lock is released: releasing waits for the lock's whole group to end, and another
 * record of the group may wait on this one (a command's parts).
 */
export const lockedProcess = async (locks: RecordLocks, room: PeerRoom, process: () => Promise<void>, failed?: (e: Error) => void): Promise<void> => {
  const name = room.record()
  const { state } = room
  const caught = await locks.lock(name, room.lastSeq(), state.bindingsSeq)
  state.deciding = true
  try {
    room.refreshSecurity(caught.securityVersion)
    takeCatchUp(room, caught)
    // the bindings were read with what was committed since they last were, if anything was
    state.bindingsSeq = room.lastSeq()
    if (caught.usage !== undefined) room.usage(caught.usage)
    await process()
    // (its own commit's bindings are the copy's own)
    state.bindingsSeq = room.lastSeq()
  } catch (e) {
    failed?.(e as Error)
    throw e
  } finally {
    try {
      await locks.release(name)
    } finally {
      state.deciding = false
    }
  }
}

/** After a batch: takes in the published updates kept meanwhile that follow the copy; if any are left
 * that do not (one between was lost, or arrived before it), the copy catches up from storage. */
export const afterBatch = (room: PeerRoom): void => {
  const { state } = room
  takeHeld(room)
  if (state.behind || state.held.size > 0) {
    state.behind = false
    state.held.clear()
    room.catchUpLater()
  }
}

/** Takes in a published update with the client ids its commit bound: a copy holding its updates knows who
 * wrote them between batches too (presence checks its members' client ids against the bindings). */
const takeWithBindings = (room: PeerRoom, p: Kept): void => {
  for (const b of p.bindings) room.bind(b.client, b.principal)
  takeIn(room, p.updates.map(data => ({ seq: p.seq, data })))
}

/** Takes in the kept published updates that follow the copy, in order; drops those it holds already. */
const takeHeld = (room: PeerRoom): void => {
  const { held } = room.state
  for (let next = held.get(room.lastSeq()); next !== undefined; next = held.get(room.lastSeq())) {
    held.delete(room.lastSeq())
    takeWithBindings(room, next)
  }
  for (const [prev, p] of held) if (p.seq <= room.lastSeq()) held.delete(prev)
}

/**
 * An update another instance committed and published (`prevSeq`: the record's position before it). Applied
 * now when it follows what the copy holds and no batch is being decided (one waiting for its lock may: its
 * catch-up then skips what the copy holds); kept while a batch is decided, and applied after it if it then
 * follows. Otherwise (a message lost, or ahead of one still on its way) the copy catches up from storage in
 * its pipeline. The client ids its commit bound come with it; a decision still reads bindings from storage.
 */
export const applyPublished = (room: PeerRoom, prevSeq: number, seq: number, updates: readonly Uint8Array[], bindings: readonly ClientBinding[] = []): void => {
  if (seq <= room.lastSeq()) return // held already
  const { state } = room
  if (updates.length > 0 && prevSeq === room.lastSeq() && !state.deciding) {
    takeWithBindings(room, { seq, updates, bindings })
    takeHeld(room)
    return
  }
  if (updates.length > 0 && state.held.size < MAX_HELD) state.held.set(prevSeq, { seq, updates, bindings })
  else state.behind = true
  // A pipeline that runs looks at what is kept after its batch; an idle one catches up now.
  if (!room.busy()) afterBatch(room)
}
