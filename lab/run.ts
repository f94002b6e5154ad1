// Runs one trace under one strategy: replays the steps in order on the strategy's replicas, keeps what
// each edit's author knew when making it (for "overwritten knowingly"), and ends with every device
// online so the replicas can converge. What it returns is what metrics.ts measures.

import { isEdit, type EditStep, type Trace } from './trace.ts'
import type { Report, Snapshot, Strategy } from './strategy.ts'

/** The server's clock at trace time 0 (a fixed Monday, so that a trace replays with the same times). */
export const TRACE_EPOCH = Date.UTC(2026, 10, 23, 0, 0, 0)

/** One edit the trace asked for, as it went. */
export interface EditFact {
  /** the step's index in the trace */
  readonly id: number
  readonly step: EditStep
  readonly user: string
  /** false: the device could not make it (the record was deleted on its replica): not an edit */
  readonly made: boolean
  /** for `cut`: the token it removed (null: none) */
  readonly cutToken: string | null
  /** ids of earlier edits this one replaced with its author's knowledge (same field; a delete: the record's; a cut: its token's) */
  readonly overwrites: readonly number[]
  /** reached the server after its user lost write privilege */
  forbidden: boolean
  /** CPU (µs) of the edit's own step plus its share of the sync that carried it to the server */
  cpuMicros: number
}

export interface RunResult {
  readonly edits: readonly EditFact[]
  readonly final: Snapshot
  readonly replicas: Readonly<Record<string, Snapshot>>
  readonly reports: readonly Report[]
  readonly bytes: number
  readonly stored: number
  /** CPU (µs) of the whole run, syncs included */
  readonly cpuMicros: number
  /** JS heap plus external memory held at the end, over what was held before the run (bytes); null without --expose-gc */
  readonly memory: number | null
}

const cpuNow = (): number => { const c = process.cpuUsage(); return c.user + c.system }
const gc = (): boolean => { const g = (globalThis as { gc?: () => void }).gc; if (g === undefined) return false; g(); return true }
const heldMemory = (): number => { const m = process.memoryUsage(); return m.heapUsed + m.external }

export const runTrace = async (trace: Trace, strategy: Strategy): Promise<RunResult> => {
  const { header, steps } = trace
  let now = TRACE_EPOCH
  const hasGc = gc()
  const memBefore = heldMemory()
  const cpuStart = cpuNow()
  const run = await strategy.start({ devices: header.devices, records: header.records, fields: header.fields, texts: header.texts, serverNow: () => now })
  try {
    const userOf = new Map(header.devices.map(d => [d.id, d.user]))
    const known = new Map<string, Set<number>>([...header.devices.map(d => [d.id, new Set<number>()] as const), ['server', new Set<number>()]])
    const online = new Set<string>()
    const revoked = new Set<string>()
    const edits: EditFact[] = []
    const byId = new Map<number, EditFact>()
    const tokenEdit = new Map<string, number>()
    /** the server learns a device's edits; returns the edit ids it had not known */
    const upload = (device: string): number[] => {
      const server = known.get('server')!
      const fresh = [...known.get(device)!].filter(e => !server.has(e))
      for (const e of fresh) {
        server.add(e)
        const fact = byId.get(e)!
        if (revoked.has(fact.user)) fact.forbidden = true
      }
      return fresh
    }
    const spread = (): void => {
      const server = known.get('server')!
      for (const d of online) for (const e of server) known.get(d)!.add(e)
    }
    /** whether `step`, made with knowledge of `e`, replaces it: a set of the same field, or a delete of the record */
    const targets = (e: EditFact, step: EditStep): boolean =>
      e.made && e.step.record === step.record && (step.op === 'delete' || (step.op === 'set' && e.step.op === 'set' && e.step.field === step.field))

    for (const [id, step] of steps.entries()) {
      now = TRACE_EPOCH + step.t
      if (isEdit(step)) {
        const mine = known.get(step.device)!
        const c0 = cpuNow()
        let made: boolean
        let cutToken: string | null = null
        switch (step.op) {
          case 'set': made = await run.set(step.device, step.record, step.field, step.value); break
          case 'type': made = await run.type(step.device, step.record, step.field, step.at, step.token); break
          case 'cut': cutToken = await run.cut(step.device, step.record, step.field, step.at); made = cutToken !== null; break
          case 'delete': made = await run.remove(step.device, step.record); break
        }
        const cpu = cpuNow() - c0
        const overwrites = !made
          ? []
          : step.op === 'cut'
            ? [tokenEdit.get(cutToken!)].filter((x): x is number => x !== undefined && mine.has(x))
            : edits.filter(e => mine.has(e.id) && targets(e, step)).map(e => e.id)
        const fact: EditFact = { id, step, user: userOf.get(step.device)!, made, cutToken, overwrites, forbidden: false, cpuMicros: cpu }
        edits.push(fact)
        byId.set(id, fact)
        if (step.op === 'type' && made) tokenEdit.set(step.token, id)
        if (made) {
          mine.add(id)
          if (online.has(step.device)) { upload(step.device); spread() }
        }
      } else if (step.op === 'online') {
        await connect(step.device)
      } else if (step.op === 'offline') {
        online.delete(step.device)
        await run.disconnect(step.device)
      } else {
        revoked.add(step.user)
        await run.revoke(step.user)
      }
    }

    async function connect (device: string): Promise<void> {
      if (online.has(device)) return
      online.add(device)
      const c0 = cpuNow()
      await run.connect(device)
      const cpu = cpuNow() - c0
      const carried = upload(device)
      for (const e of carried) byId.get(e)!.cpuMicros += cpu / carried.length
      for (const e of known.get('server')!) known.get(device)!.add(e)
      spread()
    }
    // The end: every device online, so every edit has reached the server and every replica what it holds.
    for (const d of header.devices) await connect(d.id)
    const final = run.snapshot('server')
    const replicas = Object.fromEntries(header.devices.map(d => [d.id, run.snapshot(d.id)]))
    const reports = run.reports()
    const bytes = run.traffic()
    const stored = await run.stored()
    const cpuMicros = cpuNow() - cpuStart
    const memory = hasGc && gc() ? heldMemory() - memBefore : null
    return { edits, final, replicas, reports, bytes, stored, cpuMicros, memory }
  } finally {
    await run.close()
  }
}
