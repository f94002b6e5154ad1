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

/** What catching up reaches inside a room. */
export interface PeerRoom {
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

/** Runs one batch of the pipeline holding the record's write lock, the copy caught up first. */
export const lockedProcess = async (locks: RecordLocks, room: PeerRoom, process: () => Promise<void>): Promise<void> => {
  const name = room.record()
  const caught = await locks.lock(name, room.lastSeq())
  try {
    room.refreshSecurity(caught.securityVersion)
    takeCatchUp(room, caught)
    if (caught.usage !== undefined) room.usage(caught.usage)
    await process()
  } finally {
    await locks.release(name)
  }
}

/**
 * An update another instance committed and published (`prevSeq`: the record's position before it). Applied
 * now when it follows what the copy holds and the pipeline is idle; otherwise (a message lost, or one that
 * arrived while a batch runs) the pipeline catches up from storage. What a message carries is what the
 * instance that committed it published; anything missed comes from storage.
 */
export const applyPublished = (room: PeerRoom, prevSeq: number, seq: number, updates: readonly Uint8Array[], bindings: readonly ClientBinding[] = []): void => {
  if (seq <= room.lastSeq()) return // held already
  if (prevSeq === room.lastSeq() && !room.busy()) {
    // The client ids it bound come with it: a copy holding its updates knows who wrote them (a catch-up
    // from storage reads them there).
    for (const b of bindings) room.bind(b.client, b.principal)
    takeIn(room, updates.map(data => ({ seq, data })))
    return
  }
  room.catchUpLater()
}
