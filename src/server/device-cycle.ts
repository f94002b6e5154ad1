// A /device session's sync cycle: what changed since the device's cursor and what entered or left its
// scope, sent in paced slices, then its receipts and `done`. The session (device-session.ts) schedules it.

import type { DocName } from '../ids.ts'
import { fieldPermission, type ModelIndex } from '../authz/decide.ts'
import type { RecordOwnership } from '../docs/ownership.ts'
import type { Metadata } from '../metadata/metadata.ts'
import type { OfflineProfile } from '../profiles/profile.ts'
import { deviceMetadata, metadataDigest, profileOf } from './device-metadata.ts'
import { EVERY_DEVICE, type Receipt } from '../protocol/receipts.ts'
import { DeviceMessage, type DeviceFrame } from '../protocol/device-frames.ts'
import { SyncStep } from '../protocol/codes.ts'
import type { ReceiptStore } from './storage/receipt-port.ts'
import { pace, slicer } from './pacing.ts'
import { offlineScope, type ScopeRowIndex } from './scope-rows.ts'
import type { EditDeps } from './device-edits.ts'
import { readableReceipts } from './receipt-access.ts'

/** What a cycle needs of the server (a device session's deps have it). */
export interface CycleDeps extends Pick<EditDeps, 'catalog' | 'security' | 'feed' | 'holdings' | 'now'> {
  /** views and other offline metadata; a device gets those of its profile's entities */
  readonly metadata: Metadata
  /** stored receipts (a cycle resends what a cut socket may have lost; a new device is offered the open ones) */
  readonly receipts: ReceiptStore
  /** the projected rows offline scopes are computed from, indexed */
  readonly scopeRows: ScopeRowIndex
  /** the largest attachment the server takes (sent to devices so they refuse larger ones up front) */
  readonly maxAttachmentBytes: number
}

/** What a cycle reads and moves of its session (DeviceSession, where each is described). */
export interface CycleSession {
  readonly deps: CycleDeps
  readonly userId: string
  readonly deviceId: string | null
  readonly closed: boolean
  readonly generation: number
  readonly sweeping: number
  readonly revoked: Set<DocName>
  cursor: number
  metadataVersion: number
  metadataDigest: number
  sending: ReadonlySet<DocName>
  send (f: DeviceFrame): number
  sendBatched (f: DeviceFrame): number
  drained (): Promise<void> | undefined
  revokeUnreadable (ix: ModelIndex, names: Iterable<DocName>): void
  ownershipOf (name: DocName): RecordOwnership | undefined
}

/** The second half of a cycle: what it sends, and what it records once sent. */
interface Outgoing {
  readonly toSend: readonly DocName[]
  /** what the device held when the cycle began: of these only what changed after its cursor goes */
  readonly held: ReadonlySet<DocName>
  /** what the cycle evicted for leaving the scope */
  readonly removed: readonly DocName[]
  readonly upTo: number
  /** the session's generation the cycle was decided in */
  readonly generation: number
  readonly sentScope: boolean
  readonly request: number
  readonly receiptSeq: number | null
  /** the cycle's slice of the event loop, begun before the scope was decided (its time counts) */
  readonly slice: ReturnType<typeof slicer>
}

/** Records noted as perhaps held, or confirmed, in one write (a part of a cycle at a time). */
const NOTE_AT_ONCE = 250
/** Records whose states a cycle reads from the log at once. */
const READ_AHEAD = 64
/** The records being sent while no cycle is under way. */
export const NOTHING: ReadonlySet<DocName> = new Set()

/** What a full cycle's scope is computed from (the rows: deps.scopeRows, prepared for them). */
interface ScopeInputs {
  readonly profile: OfflineProfile | undefined
  /** the secured fields (`<entity>.<attribute>`) of the profile's entities the user may read */
  readonly fields: readonly string[]
}

/** The most receipts one cycle delivers (the rest follow in later cycles). */
const MAX_RECEIPTS_PER_CYCLE = 10_000

/** `receiptSeq`: the newest receipt the device says it stored (null: not asked; send none). */
export const cycle = async (s: CycleSession, full: boolean, request: number, receiptSeq: number | null): Promise<void> => {
  const { catalog, security, feed, holdings, now } = s.deps
  const device = s.deviceId!
  // The feed and the projection are read first. From the privileges read after them to the first
  // record sent nothing is awaited, so no revocation slips in between a decision and what it sends;
  // a record revoked during the reads stays revoked for this cycle.
  // Many cycles may be due at once (a morning's devices): each waits for its slice of the event loop.
  await pace()
  const revokedBefore = [...s.revoked]
  const upTo = await feed.head()
  // From cursor 0 every record counts as changed (the whole log would be read to say so).
  const changedSince = s.cursor === 0 ? null : await feed.changedSince(s.cursor, upTo)
  const changed = { has: (n: DocName): boolean => changedSince === null || changedSince.has(n) }
  let ix: ModelIndex
  let inputs: ScopeInputs | undefined
  const slice = slicer()
  do {
    ix = security.index
    inputs = full ? await scopeInputs(s, ix, upTo) : undefined
    // Cycles waiting for the same rows resume together: each computes its scope in a slice of its own.
    if (full) await slice.pace()
  } while (ix !== security.index) // privileges changed while reading: read what the new ones need
  // Privileges or the deployed metadata (rules, flows, views) changed since the device's copy: resend.
  const digest = metadataDigest(s.deps.metadata)
  if (full && (s.metadataVersion !== ix.version || s.metadataDigest !== digest)) {
    s.send({ type: DeviceMessage.metadata, json: deviceMetadata(catalog, security, s.userId, s.deps.metadata, s.deps.maxAttachmentBytes) })
    s.metadataVersion = ix.version
    s.metadataDigest = digest
  }
  // A full cycle compares the scope with everything the device holds; a live one looks only at what
  // changed (its cost is what changed, not what the device holds).
  const held = full || changedSince === null ? holdings.held(device) : new Set([...changedSince.keys()].filter(n => holdings.holds(device, n)))
  const maybe = full ? holdings.unconfirmed(device) : new Set<DocName>()
  let scope: Set<string>
  if (inputs !== undefined) {
    const { profile, fields } = inputs
    scope = profile === undefined ? new Set() : offlineScope(s.deps.scopeRows, catalog, profile, ix, s.userId, fields, new Date(now()))
  } else {
    scope = new Set([...held].filter(n => changed.has(n)))
  }
  const removed: DocName[] = []
  const sentScope = full && holdings.needsScope(device)
  if (full) {
    if (sentScope) s.send({ type: DeviceMessage.scope, json: JSON.stringify([...scope]) })
    for (const h of [...held, ...maybe]) if (!scope.has(h)) { removed.push(h); s.send({ type: DeviceMessage.evict, record: h, reason: 'out-of-scope' }) }
    holdings.unsure(device, removed)
  }
  // A full cycle decides the scope anew: what it finds readable may go out again.
  if (full) for (const n of revokedBefore) s.revoked.delete(n)
  const generation = s.generation
  const toSend = ([...scope].filter(n => !held.has(n as DocName) || changed.has(n as DocName)) as DocName[]).filter(n => !s.revoked.has(n))
  // From here a change of any of them is checked for read access as one of a held record is.
  s.sending = new Set(toSend)
  try {
    await sendCycle(s, { toSend, held, removed, upTo, generation, sentScope, request, receiptSeq, slice })
  } finally {
    s.sending = NOTHING
  }
}

/** The rest of a cycle: its records (each whole, or what changed after the cursor if held), receipts, `done`. */
const sendCycle = async (s: CycleSession, o: Outgoing): Promise<void> => {
  const { toSend, held, upTo, generation } = o
  const { security, holdings } = s.deps
  const device = s.deviceId!
  let bytes = 0
  let done = 0
  let noted = 0
  const { slice } = o
  let ahead = new Map<string, Uint8Array>()
  for (const [i, name] of toSend.entries()) {
    // Privileges changed meanwhile: stop; the full cycle queued after this one sends what is still readable.
    if (s.closed || s.generation !== generation) return
    // Should the socket drop mid-cycle, what was sent may be on the device: noted before it is sent,
    // a part of the cycle at a time.
    if (i >= noted) {
      noted = Math.min(toSend.length, i + NOTE_AT_ONCE)
      holdings.mayHold(device, toSend.slice(i, noted).filter(n => !held.has(n)))
    }
    if (s.revoked.has(name)) continue
    let payload = ahead.get(name)
    if (payload === undefined) {
      ahead = await readAhead(s, toSend.slice(i, i + READ_AHEAD), held, upTo)
      payload = ahead.get(name)!
    }
    // Checked again after reading: nothing is awaited from here to the send.
    if (s.closed || s.generation !== generation) return
    if (s.sweeping > 0) s.revokeUnreadable(security.index, [name])
    if (s.revoked.has(name)) continue
    bytes += s.sendBatched({ type: DeviceMessage.sync, record: name, step: SyncStep.update, payload })
    // A cycle goes out no faster than the device takes it (its send buffer is bounded).
    // Sockets drain in I/O callbacks, many at once: the cycle goes on in a paced slice, not there.
    const draining = s.drained()
    if (draining !== undefined) { await draining; await slice.pace() }
    done++
    if (done % 250 === 0) s.send({ type: DeviceMessage.progress, done, total: toSend.length, bytes })
    if (slice.due()) await slice.pace() // stay responsive to other sockets and cycles
  }
  if (s.closed) return
  s.send({ type: DeviceMessage.progress, done, total: toSend.length, bytes })
  // Receipts are durable: a cycle the device asked for delivers every one newer than it has stored
  // (a cut socket may have lost those pushed live; the device keeps each once).
  // The resend is complete up to the newest receipt committed now, so that is the device's new mark;
  // receipts pushed live do not move it (one from a replaced session may still be missing).
  let receiptMark = 0
  if (o.receiptSeq !== null) {
    const { receipts, mark } = await receiptsFor(s, o.receiptSeq)
    if (receipts.length > 0) s.send({ type: DeviceMessage.receipts, json: JSON.stringify(receipts) })
    receiptMark = mark
  }
  // What the device now holds is confirmed a part at a time (what was evicted meanwhile stays perhaps
  // held: the device dropped it, or never got it); then the cursor, with what left the scope.
  const added = toSend.filter(n => !held.has(n))
  for (let i = 0; i < added.length; i += NOTE_AT_ONCE) {
    if (i > 0) await slice.pace()
    if (s.closed || s.generation !== generation) return
    holdings.hold(device, added.slice(i, i + NOTE_AT_ONCE).filter(n => !s.revoked.has(n)))
  }
  holdings.finishCycle(device, [], o.removed, upTo, o.sentScope)
  s.cursor = upTo
  s.send({ type: DeviceMessage.done, cursor: upTo, request: o.request, receiptSeq: receiptMark })
}

/** The states a cycle sends next, read together: what the device holds since its cursor, the rest whole. */
const readAhead = async (s: CycleSession, names: readonly DocName[], held: ReadonlySet<string>, upTo: number): Promise<Map<string, Uint8Array>> => {
  const out = new Map<string, Uint8Array>()
  const wanted = names.filter(n => !s.revoked.has(n))
  for (const [cursor, docs] of [[s.cursor, wanted.filter(n => held.has(n))], [0, wanted.filter(n => !held.has(n))]] as const) {
    if (docs.length === 0) continue
    const states = await s.deps.feed.statesSince(docs, cursor, upTo)
    docs.forEach((d, k) => out.set(d, states[k]))
  }
  return out
}

/** What a full cycle computes the scope from under `ix`, its rows made current through `upTo`. */
const scopeInputs = async (s: CycleSession, ix: ModelIndex, upTo: number): Promise<ScopeInputs> => {
  const profile = profileOf(ix.model, s.userId)
  if (profile === undefined) return { profile, fields: [] }
  const fields = ix.model.securedFields.filter(f => {
    const [entity, attribute] = f.split('.')
    return entity in profile.entities && fieldPermission(ix, s.userId, entity, attribute).read
  })
  await s.deps.scopeRows.prepare(profile, fields, upTo)
  return { profile, fields }
}

/**
 * The receipts a cycle delivers after the device's mark `since`, and its new mark. The inbox is per
 * device: its own receipts (of changes it sent). A device new to the server is offered, once, its
 * user's open items (not dismissed on any device) instead of the whole history; should it not have
 * stored that offer (its mark stays below the offer's), the offer is made again.
 */
const receiptsFor = async (s: CycleSession, since: number): Promise<{ receipts: Receipt[], mark: number }> => {
  const { holdings, receipts } = s.deps
  const device = s.deviceId!
  const all = await receipts.receipts(s.userId, since, MAX_RECEIPTS_PER_CYCLE)
  const mark = all.length > 0 ? all[all.length - 1].seq ?? since : since
  const own = all.filter(r => r.device === device || r.device === EVERY_DEVICE)
  const offered = holdings.offerMark(device)
  if (offered !== null && since >= offered) return { receipts: readable(s, own), mark }
  const open = await receipts.openReceipts(s.userId, MAX_RECEIPTS_PER_CYCLE)
  const bySeq = new Map<number, Receipt>()
  for (const r of [...open, ...own]) bySeq.set(r.seq ?? 0, r)
  const offer = Math.max(mark, open.at(-1)?.seq ?? 0)
  holdings.setOfferMark(device, offer)
  return { receipts: readable(s, [...bySeq.values()].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0))), mark: offer }
}

/** Stored receipts as the user may see them now (receipt-access.ts). */
const readable = (s: CycleSession, receipts: readonly Receipt[]): Receipt[] => {
  return receipts.length === 0 ? [] : readableReceipts(receipts, s.userId, s.deps.security.index, n => s.ownershipOf(n))
}
