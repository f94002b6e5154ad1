// The lab's trace: what devices did, in order, independent of any merge strategy. Generators make one
// from a seed; a recorded trace is replayed from a JSON Lines file (one header line, then one step a line).

import * as v from 'valibot'
import { readFileSync, writeFileSync } from 'node:fs'

export const TRACE_FORMAT = 'fieldsync-lab-trace'
export const TRACE_VERSION = 1
/** A value fits every text field (fieldsync's account.telephone1 is the shortest the lab uses, 50). */
export const MAX_VALUE_LENGTH = 40

const Name = v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'a name of a-z, 0-9, _ and - (at most 64)'))
const Time = v.pipe(v.number(), v.integer(), v.minValue(0))
const Fraction = v.pipe(v.number(), v.minValue(0), v.maxValue(1))
/** A token typed into a text: unique in the trace, never containing another token's delimiters. */
const Token = v.pipe(v.string(), v.regex(/^\[[a-z0-9-]{1,40}\]$/, 'a token like [e12]'))

export const DeviceSchema = v.strictObject({
  id: Name,
  /** the user the device signs in as (fieldsync: a user of the demo organization) */
  user: v.string(),
  /** how far the device's clock is off (ms; positive: ahead) */
  skewMs: v.optional(v.pipe(v.number(), v.integer()), 0)
})

export const RecordSchema = v.strictObject({
  id: Name,
  /** the scalar fields' values when the record is created (before t = 0, known to every device) */
  fields: v.record(v.string(), v.string()),
  /** the texts' values at creation (memo fields merged by character where the strategy can) */
  texts: v.record(v.string(), v.string())
})

export const HeaderSchema = v.strictObject({
  format: v.literal(TRACE_FORMAT),
  version: v.literal(TRACE_VERSION),
  scenario: v.string(),
  seed: v.number(),
  /** the scalar fields and the text fields the steps may write */
  fields: v.array(v.string()),
  texts: v.array(v.string()),
  devices: v.pipe(v.array(DeviceSchema), v.minLength(1)),
  records: v.pipe(v.array(RecordSchema), v.minLength(1))
})

export const StepSchema = v.variant('op', [
  /** set a scalar field to a value (values are unique per record and field: they name the edit) */
  v.strictObject({ op: v.literal('set'), t: Time, device: Name, record: Name, field: v.string(), value: v.pipe(v.string(), v.maxLength(MAX_VALUE_LENGTH, `at most ${MAX_VALUE_LENGTH} characters`)) }),
  /** type `token` into a text, at the token boundary `at` of the way through the device's current text */
  v.strictObject({ op: v.literal('type'), t: Time, device: Name, record: Name, field: v.string(), at: Fraction, token: Token }),
  /** delete the token at `at` of the way through the device's current text (nothing if there is none) */
  v.strictObject({ op: v.literal('cut'), t: Time, device: Name, record: Name, field: v.string(), at: Fraction }),
  v.strictObject({ op: v.literal('delete'), t: Time, device: Name, record: Name }),
  /** the device connects: it exchanges what either side lacks, and then sends and receives at once */
  v.strictObject({ op: v.literal('online'), t: Time, device: Name }),
  v.strictObject({ op: v.literal('offline'), t: Time, device: Name }),
  /** the user loses write privilege on the records (the server's security model changes) */
  v.strictObject({ op: v.literal('revoke'), t: Time, user: v.string() })
])

export type TraceHeader = v.InferOutput<typeof HeaderSchema>
export type DeviceSpec = TraceHeader['devices'][number]
export type RecordSpec = TraceHeader['records'][number]
export type Step = v.InferOutput<typeof StepSchema>
export type EditStep = Extract<Step, { op: 'set' | 'type' | 'cut' | 'delete' }>

export interface Trace {
  readonly header: TraceHeader
  readonly steps: readonly Step[]
}

export class TraceError extends Error {
  override readonly name = 'TraceError'
}

export const isEdit = (s: Step): s is EditStep => s.op === 'set' || s.op === 'type' || s.op === 'cut' || s.op === 'delete'

const issues = (r: { issues?: readonly v.BaseIssue<unknown>[] }): string =>
  (r.issues ?? []).map(i => `${v.getDotPath(i) ?? '(top)'}: ${i.message}`).join('; ')

/** Checks what the schema cannot: names refer to the header, times do not run backwards, values and tokens are unique. */
export const checkTrace = (trace: Trace): void => {
  const { header, steps } = trace
  const devices = new Set(header.devices.map(d => d.id))
  const records = new Set(header.records.map(r => r.id))
  const users = new Set(header.devices.map(d => d.user))
  if (devices.size !== header.devices.length) throw new TraceError('device ids repeat')
  if (records.size !== header.records.length) throw new TraceError('record ids repeat')
  const values = new Set<string>()
  for (const r of header.records) for (const [f, val] of Object.entries(r.fields)) values.add(`${r.id}.${f}=${val}`)
  let t = 0
  steps.forEach((s, i) => {
    const where = `step ${i + 1}`
    if (s.t < t) throw new TraceError(`${where}: time runs backwards (${s.t} < ${t})`)
    t = s.t
    if (s.op === 'revoke') { if (!users.has(s.user)) throw new TraceError(`${where}: no device of user ${s.user}`); return }
    if (!devices.has(s.device)) throw new TraceError(`${where}: no device ${s.device}`)
    if (s.op === 'online' || s.op === 'offline') return
    if (!records.has(s.record)) throw new TraceError(`${where}: no record ${s.record}`)
    if (s.op === 'set') {
      if (!header.fields.includes(s.field)) throw new TraceError(`${where}: ${s.field} is not one of the trace's fields`)
      const key = `${s.record}.${s.field}=${s.value}`
      if (values.has(key)) throw new TraceError(`${where}: value ${JSON.stringify(s.value)} of ${s.record}.${s.field} is written twice (a value names its edit)`)
      values.add(key)
    }
    if ((s.op === 'type' || s.op === 'cut') && !header.texts.includes(s.field)) throw new TraceError(`${where}: ${s.field} is not one of the trace's texts`)
    if (s.op === 'type') {
      if (values.has(s.token)) throw new TraceError(`${where}: token ${s.token} is typed twice`)
      values.add(s.token)
    }
  })
}

/** Parses a trace file's text: a header line, then one step a line (blank lines are skipped). */
export const decodeTrace = (text: string): Trace => {
  const lines = text.split('\n').map((l, i) => ({ l: l.trim(), n: i + 1 })).filter(x => x.l !== '')
  if (lines.length === 0) throw new TraceError('empty trace')
  const json = (x: { l: string, n: number }): unknown => {
    try { return JSON.parse(x.l) } catch (e) { throw new TraceError(`line ${x.n}: not JSON (${(e as Error).message})`) }
  }
  const h = v.safeParse(HeaderSchema, json(lines[0]))
  if (!h.success) throw new TraceError(`line ${lines[0].n} (header): ${issues(h)}`)
  const steps = lines.slice(1).map(x => {
    const s = v.safeParse(StepSchema, json(x))
    if (!s.success) throw new TraceError(`line ${x.n}: ${issues(s)}`)
    return s.output
  })
  const trace = { header: h.output, steps }
  checkTrace(trace)
  return trace
}

export const encodeTrace = (trace: Trace): string =>
  [trace.header, ...trace.steps].map(x => JSON.stringify(x)).join('\n') + '\n'

export const readTrace = (file: string): Trace => {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw new TraceError(`${file}: cannot read it (${(e as Error).message})`)
  }
  try {
    return decodeTrace(text)
  } catch (e) {
    if (e instanceof TraceError) throw new TraceError(`${file}: ${e.message}`)
    throw e
  }
}

export const writeTrace = (file: string, trace: Trace): void => writeFileSync(file, encodeTrace(trace))
