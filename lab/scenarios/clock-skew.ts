// Clock skew: one device's clock runs an hour ahead, another's ten minutes behind, a third is right.
// In each round all three, offline, write the same field within ten minutes, then reconnect.

import { MINUTE, HOUR, TraceBuilder, devicesOf, int, pick, recordsOf, shuffle, FIELDS, type Scenario } from './gen.ts'

export const clockSkew: Scenario = {
  name: 'clock-skew',
  summary: 'one clock an hour ahead, one 10 min behind; same-field writes within 10 min, offline',
  generate: (gen, seed, { devices = 3 }) => {
    const ds = devicesOf(Math.max(3, devices), undefined, { 0: HOUR, 1: -10 * MINUTE })
    const records = recordsOf(2)
    const b = new TraceBuilder('clock-skew', seed, ds, records)
    for (let round = 0; round < 8; round++) {
      const t0 = round * 2 * HOUR
      const record = pick(gen, records).id
      const field = pick(gen, FIELDS)
      for (const d of ds) b.set(t0 + int(gen, 0, 10) * MINUTE + int(gen, 0, 59_000), d.id, record, field)
      let t = t0 + 15 * MINUTE
      for (const d of shuffle(gen, ds)) { b.online(t, d.id); t += int(gen, 1, 5) * MINUTE }
      for (const d of ds) b.offline(t0 + HOUR, d.id)
    }
    return b.build()
  }
}
