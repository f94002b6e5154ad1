// One device offline for three days: it keeps editing three shared records while the others, online,
// edit the same records; it reconnects at the end.

import { DAY, HOUR, MINUTE, TraceBuilder, devicesOf, int, pick, recordsOf, type Scenario } from './gen.ts'

export const longOffline: Scenario = {
  name: 'long-offline',
  summary: 'one device edits offline for 3 days while the others edit the same 3 records online',
  generate: (gen, seed, { devices = 4 }) => {
    const ds = devicesOf(Math.max(2, devices))
    const records = recordsOf(3)
    const b = new TraceBuilder('long-offline', seed, ds, records)
    const [away, ...others] = ds
    for (const d of others) b.online(0, d.id)
    for (let i = 0; i < 15; i++) b.edit(gen, HOUR + int(gen, 0, 3 * DAY - 2 * HOUR), away.id, pick(gen, records).id)
    for (let i = 0; i < 30; i++) b.edit(gen, HOUR + int(gen, 0, 3 * DAY - 2 * HOUR), pick(gen, others).id, pick(gen, records).id)
    b.online(3 * DAY + 10 * MINUTE, away.id)
    return b.build()
  }
}
