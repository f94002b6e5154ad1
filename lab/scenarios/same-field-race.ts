// Same-field races: every device, offline, writes the same field of one record within a minute; then
// they reconnect in a random order. Repeated in rounds.

import { MINUTE, TraceBuilder, devicesOf, int, pick, recordsOf, shuffle, FIELDS, type Scenario } from './gen.ts'

export const sameFieldRace: Scenario = {
  name: 'same-field-race',
  summary: 'each round every device writes the same field offline within a minute, then all reconnect',
  generate: (gen, seed, { devices = 4 }) => {
    const ds = devicesOf(devices)
    const records = recordsOf(1)
    const b = new TraceBuilder('same-field-race', seed, ds, records)
    for (let round = 0; round < 8; round++) {
      const t0 = round * 30 * MINUTE
      const field = pick(gen, FIELDS)
      for (const d of ds) b.set(t0 + int(gen, 0, 60_000), d.id, records[0].id, field)
      let t = t0 + 2 * MINUTE
      for (const d of shuffle(gen, ds)) { b.online(t, d.id); t += int(gen, 1, 60) * 1000 }
      for (const d of ds) b.offline(t0 + 20 * MINUTE, d.id)
    }
    return b.build()
  }
}
