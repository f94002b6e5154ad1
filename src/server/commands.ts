// Runs a command that touches several records (lead qualify creating account, contact and opportunity,
// …) as a whole: every record's pipeline is brought to the command's part and held there, caught up with
// what every instance committed (under the records' locks, taken together), the parts are tried together
// on copies, then every part is integrated (accepted) or integrated and reverted
// (rejected, with a receipt per part saying why). All parts are appended in the same turn, so the
// SQLite adapter commits them in one transaction, and PostgreSQL in the one that took their locks.

import type { Catalog } from '../docs/catalog-types.ts'
import type { DocName } from '../ids.ts'
import { parseDocName } from '../ids.ts'
import { STATE_AFTER, isStateCommand, type LeadQualification } from '../docs/commands.ts'
import { decideCommand, type CommandVerdict, type TrialPart } from '../projection/decide-command.ts'
import { Reason } from '../protocol/receipts.ts'
import { emptyState } from '../docs/record.ts'
import type { PartDecision, RoomMember } from './room.ts'
import type { Rooms } from './rooms.ts'

export interface CommandPart { readonly record: DocName, readonly update: Uint8Array, readonly member: RoomMember }

export interface CommandRequest {
  readonly command: string
  readonly target: DocName
  readonly parts: readonly CommandPart[]
  /** decided before the parts were tried (a part's record the user may not open): reject with this */
  readonly refused?: Extract<CommandVerdict, { accepted: false }>
}

/** accepted / rejected: every part was integrated (rejected: and reverted); aborted: nothing was. */
export type CommandOutcome = { readonly kind: 'accepted' } | { readonly kind: 'rejected', readonly verdict: CommandVerdict } | { readonly kind: 'aborted', readonly why: string }

interface Deferred<T> { promise: Promise<T>, resolve: (v: T) => void, reject: (e: Error) => void }
/** A deferred whose rejection is not reported as unhandled before anyone awaits it (a part's room may fail
 * at any step; the runner looks at each step's promises in turn). */
const handled = <T>(d: Deferred<T>): Deferred<T> => { d.promise.catch(() => {}); return d }
const deferred = <T>(): Deferred<T> => {
  let resolve!: (v: T) => void
  let reject!: (e: Error) => void
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

export class CommandRunner {
  private readonly rooms: Rooms
  private readonly catalog: Catalog
  private readonly qualification: LeadQualification
  /** Commands run one at a time: two commands holding each other's records would wait forever. */
  private chain: Promise<unknown> = Promise.resolve()

  constructor (rooms: Rooms, catalog: Catalog, qualification: LeadQualification) {
    this.rooms = rooms
    this.catalog = catalog
    this.qualification = qualification
  }

  run (req: CommandRequest): Promise<CommandOutcome> {
    const p = this.chain.then(() => this.execute(req))
    this.chain = p.catch(() => {})
    return p
  }

  private async execute (req: CommandRequest): Promise<CommandOutcome> {
    const rooms = req.parts.map(p => this.rooms.get(p.record))
    /** each record's pipeline reached its part */
    const arrived = req.parts.map(() => handled(deferred<void>()))
    /** every part arrived: the pipelines go on together (and take their locks in one turn) */
    const go = deferred<void>()
    /** each record's copy is caught up, its pipeline waiting for the decision */
    const ready = req.parts.map(() => handled(deferred<void>()))
    const decisions = req.parts.map(() => deferred<PartDecision>())
    // Each part is a submission of its record's pipeline; each settles once its record committed it
    // (or, not decided, dropped).
    const parts = req.parts.map((p, i) => rooms[i].submit(p.member, {
      kind: 'command-part',
      update: p.update,
      gate: {
        arrive: () => { arrived[i].resolve(); return go.promise },
        decide: () => { ready[i].resolve(); return decisions[i].promise },
        fail: e => { arrived[i].reject(e); ready[i].reject(e) }
      }
    }))
    const abort = async (e: Error): Promise<CommandOutcome> => {
      for (const d of decisions) d.resolve({ kind: 'abort' })
      go.resolve()
      await Promise.all(parts)
      await Promise.allSettled(rooms.map(r => r.settled()))
      return { kind: 'aborted', why: e.message }
    }
    try {
      await Promise.all(arrived.map(a => a.promise))
      go.resolve()
      await Promise.all(ready.map(r => r.promise))
    } catch (e) {
      return abort(e as Error)
    }
    // Every pipeline now waits at its part, its copy caught up: nothing changes the records until the
    // decisions are out. (They hold their records' locks meanwhile: a decision that throws aborts them all.)
    let outcome: ReturnType<CommandRunner['decide']>
    try {
      outcome = this.decide(req, rooms.map((r, i) => ({ room: r, part: req.parts[i] })))
    } catch (e) {
      console.error(`command ${req.command} of ${req.target} could not be decided: ${(e as Error).stack ?? (e as Error).message}`)
      return abort(e as Error)
    }
    decisions.forEach((d, i) => d.resolve(outcome.decisions[i]))
    await Promise.all(parts)
    await Promise.all(rooms.map(r => r.settled()))
    return outcome.result
  }

  private decide (req: CommandRequest, parts: { room: ReturnType<Rooms['get']>, part: CommandPart }[]): { decisions: PartDecision[], result: CommandOutcome } {
    const targetEntity = this.catalog.entities.get(parseDocName(req.target)?.entity ?? '')
    // Not a state command: decideCommand refuses it; the grant then matches no statecode.
    const statecode = isStateCommand(req.command) ? STATE_AFTER[req.command] : -1
    // A lookup may point at a part's record before it exists (the command creates it), at no other.
    const grant = { target: req.target, statecode, records: req.parts.map(p => p.record) }
    const trials: TrialPart[] = []
    for (const { room, part } of parts) {
      const t = room.trial(part.member, part.update, grant)
      // A part whose dependencies the server lacks cannot be decided now: nothing is integrated and
      // the device sends the command again at its next sync.
      if (!t.ok && t.missing) return { decisions: parts.map(() => ({ kind: 'abort' })), result: { kind: 'aborted', why: `${part.record}: ${t.message}` } }
      trials.push(t.ok
        ? { record: part.record, entity: room.entity.name, before: t.before, after: t.after, changes: t.changes, denied: t.denied }
        : { record: part.record, entity: room.entity.name, before: emptyState(), after: emptyState(), changes: [], denied: { reason: t.reason, message: t.message } })
    }
    const verdict = req.refused ?? decideCommand(req.command, targetEntity?.commands ?? [], req.target, trials, this.qualification)
    if (verdict.accepted) return { decisions: parts.map(() => ({ kind: 'accept', command: grant })), result: { kind: 'accepted' } }
    const decisions = parts.map(({ part }): PartDecision => part.record === verdict.record
      ? { kind: 'reject', command: req.command, reason: verdict.reason, message: `${req.command} of ${req.target} rejected: ${verdict.message}` }
      : { kind: 'reject', command: req.command, reason: Reason.commandRejected, message: `${req.command} of ${req.target} rejected as a whole: ${verdict.record}: ${verdict.reason}: ${verdict.message}` })
    return { decisions, result: { kind: 'rejected', verdict } }
  }
}
