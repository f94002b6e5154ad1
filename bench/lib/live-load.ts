// The live load, the same for fieldsync devices and the Hocuspocus peer: writers edit their records at
// a total rate (open loop: edits are due whether or not earlier ones are done), round robin; after a
// warm-up the measured window runs, then a bounded drain waits for what is on its way.

import type { DeliveryTracker } from './delivery.ts'
import type { HostEvent, LiveResult } from './team-protocol.ts'

export interface Writer {
  /** the records this writer edits (no other writer edits them) */
  readonly records: readonly string[]
  /** who must receive its edits */
  readonly receivers: readonly string[]
  /** makes the edit with the marker `seq` */
  edit (record: string, seq: number): void
}

export interface LiveOptions { readonly rate: number, readonly seconds: number, readonly warmupSeconds: number, readonly drainSeconds: number }

export const runLive = async (writers: readonly Writer[], tracker: DeliveryTracker, o: LiveOptions, send: (e: HostEvent) => void): Promise<Omit<LiveResult, 'errors'>> => {
  const cursor = writers.map(() => 0)
  let issued = 0
  const editOne = (): void => {
    const w = issued % writers.length
    issued++
    const p = writers[w]
    if (p.records.length === 0) return
    const record = p.records[cursor[w]++ % p.records.length]
    p.edit(record, tracker.edit(record, p.receivers))
  }
  const run = (seconds: number): Promise<number> => new Promise(resolve => {
    const t0 = performance.now()
    const start = issued
    const timer = setInterval(() => {
      const elapsed = (performance.now() - t0) / 1000
      const due = Math.floor(Math.min(elapsed, seconds) * o.rate)
      while (issued - start < due) editOne()
      if (elapsed >= seconds) { clearInterval(timer); resolve(issued - start) }
    }, 5)
  })
  await run(o.warmupSeconds)
  tracker.reset()
  tracker.measuring = true
  if (tracker.stages !== null) tracker.stages.measuring = true
  send({ event: 'window', phase: 'start' })
  const t0 = performance.now()
  const made = await run(o.seconds)
  const issueSeconds = (performance.now() - t0) / 1000
  tracker.measuring = false
  if (tracker.stages !== null) tracker.stages.measuring = false
  send({ event: 'window', phase: 'end' })
  const drainStart = performance.now()
  while (tracker.missing > 0 && performance.now() - drainStart < o.drainSeconds * 1000) await new Promise(resolve => setTimeout(resolve, 20))
  return {
    writers: writers.length, edits: made, issueSeconds, complete: tracker.complete, missing: tracker.missing,
    allDoneSeconds: (performance.now() - t0) / 1000, latency: tracker.stats()
  }
}
