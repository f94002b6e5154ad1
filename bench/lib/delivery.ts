// Delivery latency of live edits: each edit writes a marker `#<seq>#` into a field; a receiver that
// gets an update carrying marker M (of a record one writer edits, in order) has that edit and every
// earlier one of the record. Latency is from the edit (its call) to arrival at each other holder.

export interface LatencyStats { readonly count: number, readonly p50: number, readonly p99: number, readonly max: number }

/** The edit's field value. */
export const marker = (seq: number): string => `#${seq}#`

/** The largest marker in an update's bytes (strings are stored as UTF-8 in Yjs updates), or -1. */
export const largestMarker = (bytes: Uint8Array): number => {
  const s = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
  let max = -1
  for (const m of s.matchAll(/#(\d+)#/g)) max = Math.max(max, Number(m[1]))
  return max
}

export const latencyStats = (values: readonly number[]): LatencyStats => {
  const s = [...values].sort((a, b) => a - b)
  const at = (q: number): number => s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.floor(s.length * q))]
  return { count: s.length, p50: at(0.5), p99: at(0.99), max: s.at(-1) ?? 0 }
}

interface Edit { readonly seq: number, readonly at: number, readonly waiting: Set<string>, readonly counted: boolean }

export class DeliveryTracker {
  private readonly open = new Map<string, Edit[]>()
  private readonly latencies: number[] = []
  private nextSeq = 1
  /** edits made inside the measured window, and those of them every receiver got */
  sent = 0
  complete = 0
  /** edits count only while measuring (warm-up and drain do not) */
  measuring = false

  /** with LIVE_STAGES=1: where the time goes */
  readonly stages = process.env.LIVE_STAGES === '1' ? new StageTrace() : null

  /** A new edit of `record` now, to be delivered to `receivers`; returns its marker's seq. */
  edit (record: string, receivers: readonly string[], now = performance.now()): number {
    const seq = this.nextSeq++
    this.stages?.edited(seq, now)
    if (this.measuring) this.sent++
    if (receivers.length === 0) { if (this.measuring) this.complete++; return seq }
    const list = this.open.get(record) ?? []
    list.push({ seq, at: now, waiting: new Set(receivers), counted: this.measuring })
    this.open.set(record, list)
    return seq
  }

  /** `receiver` got an update of `record` whose largest marker is `upTo`. */
  arrived (receiver: string, record: string, upTo: number, now = performance.now()): void {
    if (upTo < 0) return
    const list = this.open.get(record)
    if (list === undefined) return
    for (const e of list) {
      if (e.seq > upTo) break
      if (!e.waiting.delete(receiver)) continue
      if (e.counted) this.latencies.push(now - e.at)
      if (e.counted) this.stages?.stored(receiver, e.seq, now)
      if (e.waiting.size === 0 && e.counted) this.complete++
    }
    while (list.length > 0 && list[0].waiting.size === 0) list.shift()
    if (list.length === 0) this.open.delete(record)
  }

  /** deliveries still missing */
  get missing (): number {
    let n = 0
    for (const list of this.open.values()) for (const e of list) n += e.waiting.size
    return n
  }

  stats (): LatencyStats { return latencyStats(this.latencies) }

  /** forgets every latency and count (a new measurement) */
  reset (): void {
    this.latencies.length = 0
    this.sent = 0
    this.complete = 0
  }
}

/** Every marker in a frame's bytes. */
const markersIn = (bytes: Uint8Array): number[] => {
  const s = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
  return [...s.matchAll(/#(\d+)#/g)].map(m => Number(m[1]))
}

/**
 * Where a live edit's time goes (LIVE_STAGES=1): from the edit to the writer's socket sending it, from
 * there to the receiver's socket getting it (the server, and both sockets), and from there to the
 * receiver's store taking it (the device SDK). Only edits whose own marker crossed both sockets count.
 */
export class StageTrace {
  private readonly editAt = new Map<number, number>()
  private readonly sentAt = new Map<number, number>()
  private readonly receivedAt = new Map<string, number>()
  private readonly samples: { writer: number[], server: number[], device: number[] } = { writer: [], server: [], device: [] }
  measuring = false

  edited (seq: number, now = performance.now()): void { if (this.measuring) this.editAt.set(seq, now) }
  sent (bytes: Uint8Array, now = performance.now()): void { for (const m of markersIn(bytes)) if (!this.sentAt.has(m)) this.sentAt.set(m, now) }
  received (receiver: string, bytes: Uint8Array, now = performance.now()): void {
    for (const m of markersIn(bytes)) { const k = `${receiver} ${m}`; if (!this.receivedAt.has(k)) this.receivedAt.set(k, now) }
  }

  /** `receiver`'s store took the edit `seq` now. */
  stored (receiver: string, seq: number, now = performance.now()): void {
    const edit = this.editAt.get(seq)
    const sent = this.sentAt.get(seq)
    const received = this.receivedAt.get(`${receiver} ${seq}`)
    if (edit === undefined || sent === undefined || received === undefined) return
    this.samples.writer.push(sent - edit)
    this.samples.server.push(received - sent)
    this.samples.device.push(now - received)
  }

  stats (): { writer: LatencyStats, server: LatencyStats, device: LatencyStats } {
    return { writer: latencyStats(this.samples.writer), server: latencyStats(this.samples.server), device: latencyStats(this.samples.device) }
  }
}
