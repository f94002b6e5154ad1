// Scaling: N devices (2 to 64) edit four shared records for a working day, half of them online all day,
// the others offline syncing at noon and in the evening. The lab runs it for each device count.

import { HOUR, MINUTE, TraceBuilder, devicesOf, int, pick, recordsOf, type Scenario } from './gen.ts'

/** The device counts the cost plot sweeps. */
export const DEVICE_COUNTS = [2, 4, 8, 16, 32, 64] as const

export const scaling: Scenario = {
  name: 'scaling',
  summary: 'N devices edit 4 shared records for a day, half online, half syncing twice (N swept 2..64)',
  generate: (gen, seed, { devices = 8 }) => {
    const ds = devicesOf(devices)
    const records = recordsOf(4)
    const b = new TraceBuilder(`scaling`, seed, ds, records)
    ds.forEach((d, i) => {
      const online = i % 2 === 0
      if (online) b.online(8 * HOUR, d.id)
      for (let k = 0; k < 8; k++) b.edit(gen, 8 * HOUR + int(gen, 1, 8 * 60) * MINUTE, d.id, pick(gen, records).id)
      if (!online) {
        b.online(12 * HOUR + i * 1000, d.id); b.offline(12 * HOUR + i * 1000 + 500, d.id)
        b.online(17 * HOUR + i * 1000, d.id); b.offline(17 * HOUR + i * 1000 + 500, d.id)
      }
    })
    return b.build()
  }
}
