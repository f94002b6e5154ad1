// A field-sales week: reps and their manager edit shared accounts for five working days; each device
// spends some days offline on site visits and syncs in the evening (or the next morning).

import { DAY, HOUR, MANAGER, MINUTE, TraceBuilder, chance, devicesOf, int, pick, recordsOf, type Scenario } from './gen.ts'

export const fieldSalesWeek: Scenario = {
  name: 'field-sales-week',
  summary: 'reps and a manager edit 6 shared accounts for 5 days; offline days synced in the evening',
  generate: (gen, seed, { devices = 4 }) => {
    const ds = devicesOf(devices)
    const records = recordsOf(6)
    const b = new TraceBuilder('field-sales-week', seed, ds, records)
    const manager = ds.find(d => d.user === MANAGER) ?? ds[ds.length - 1]
    for (let day = 0; day < 5; day++) {
      const start = day * DAY + 8 * HOUR
      for (const d of ds) {
        const offline = chance(gen, 0.4)
        // Each device works mostly on "its" two accounts, sometimes on any.
        const own = [records[ds.indexOf(d) % records.length].id, records[(ds.indexOf(d) + 1) % records.length].id]
        if (!offline) b.online(start + int(gen, 0, 30) * MINUTE, d.id)
        const edits = int(gen, 3, 8)
        for (let i = 0; i < edits; i++) {
          const record = chance(gen, 0.7) ? pick(gen, own) : pick(gen, records).id
          b.edit(gen, start + 30 * MINUTE + int(gen, 0, 8 * 60) * MINUTE, d.id, record)
        }
        // A day on site: synced in the evening, or (one time in three) only the next morning.
        if (offline) { if (!chance(gen, 1 / 3)) { b.online(start + 10 * HOUR, d.id); b.offline(start + 10 * HOUR + MINUTE, d.id) } } else b.offline(start + 9 * HOUR + int(gen, 0, 30) * MINUTE, d.id)
      }
      // Once in the week the manager removes an account that is done with.
      if (day === 3) b.remove(start + int(gen, 60, 8 * 60) * MINUTE, manager.id, pick(gen, records).id)
    }
    return b.build()
  }
}
