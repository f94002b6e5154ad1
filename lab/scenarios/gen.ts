// What every scenario generator shares: a seeded generator, the lab's users and fields, and a builder
// that turns timed device actions into a checked trace.

import * as prng from 'lib0/prng'
import { checkTrace, TRACE_FORMAT, TRACE_VERSION, type DeviceSpec, type RecordSpec, type Step, type Trace } from '../trace.ts'

export type Gen = prng.PRNG
export const pick = <T>(gen: Gen, list: readonly T[]): T => list[prng.uint32(gen, 0, list.length - 1)]
export const int = (gen: Gen, min: number, max: number): number => prng.uint32(gen, min, max)
export const chance = (gen: Gen, p: number): boolean => prng.real53(gen) < p
export const real = (gen: Gen): number => prng.real53(gen)
export const shuffle = <T>(gen: Gen, list: readonly T[]): T[] => {
  const a = [...list]
  for (let i = a.length - 1; i > 0; i--) { const j = int(gen, 0, i); [a[i], a[j]] = [a[j], a[i]] }
  return a
}

/** Users of the demo organization who may write the lab's records (the North reps and their manager). */
export const REPS = ['u-alice', 'u-nina'] as const
export const MANAGER = 'u-bob'
export const FIELDS = ['telephone1', 'address1_city', 'websiteurl', 'address1_line1'] as const
export const TEXTS = ['description'] as const

export const MINUTE = 60_000
export const HOUR = 60 * MINUTE
export const DAY = 24 * HOUR

/** Options every generator takes (a generator may ignore one that makes no sense for it). */
export interface ScenarioOptions {
  /** how many devices (the generator's own default when undefined) */
  readonly devices?: number
}

export interface Scenario {
  /** unique, kebab-case: what --scenario names */
  readonly name: string
  readonly summary: string
  generate (gen: Gen, seed: number, options: ScenarioOptions): Trace
}

/** `n` devices over the given users in turn: `alice-1`, `nina-2`, … */
export const devicesOf = (n: number, users: readonly string[] = [...REPS, MANAGER], skews: Readonly<Record<number, number>> = {}): DeviceSpec[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${users[i % users.length].slice(2)}-${i + 1}`, user: users[i % users.length], skewMs: skews[i] ?? 0 }))

export const recordsOf = (n: number): RecordSpec[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `acc-${i + 1}`,
    fields: Object.fromEntries(FIELDS.map(f => [f, `${f}-${i + 1}-initial`])),
    texts: Object.fromEntries(TEXTS.map(f => [f, '']))
  }))

/** Collects timed steps (in any order) and sorts them into a trace; numbers values and tokens uniquely. */
export class TraceBuilder {
  private readonly timed: { t: number, n: number, step: Step }[] = []
  private count = 0
  constructor (readonly scenario: string, readonly seed: number, readonly devices: readonly DeviceSpec[], readonly records: readonly RecordSpec[]) {}

  private add (step: Step): this { this.timed.push({ t: step.t, n: this.count++, step }); return this }

  set (t: number, device: string, record: string, field: string): this {
    return this.add({ op: 'set', t, device, record, field, value: `${device}:${this.count}` })
  }

  type (t: number, device: string, record: string, field: string, at: number): this {
    return this.add({ op: 'type', t, device, record, field, at, token: `[e${this.count}]` })
  }

  cut (t: number, device: string, record: string, field: string, at: number): this { return this.add({ op: 'cut', t, device, record, field, at }) }
  remove (t: number, device: string, record: string): this { return this.add({ op: 'delete', t, device, record }) }
  online (t: number, device: string): this { return this.add({ op: 'online', t, device }) }
  offline (t: number, device: string): this { return this.add({ op: 'offline', t, device }) }
  revoke (t: number, user: string): this { return this.add({ op: 'revoke', t, user }) }

  /** A random edit of a record: mostly a field, sometimes typing, rarely cutting a token. */
  edit (gen: Gen, t: number, device: string, record: string): this {
    const r = real(gen)
    if (r < 0.7) return this.set(t, device, record, pick(gen, FIELDS))
    if (r < 0.93) return this.type(t, device, record, pick(gen, TEXTS), real(gen))
    return this.cut(t, device, record, pick(gen, TEXTS), real(gen))
  }

  build (): Trace {
    const steps = [...this.timed].sort((a, b) => a.t - b.t || a.n - b.n).map(x => x.step)
    const trace: Trace = {
      header: { format: TRACE_FORMAT, version: TRACE_VERSION, scenario: this.scenario, seed: this.seed, fields: [...FIELDS], texts: [...TEXTS], devices: [...this.devices], records: [...this.records] },
      steps
    }
    checkTrace(trace)
    return trace
  }
}
