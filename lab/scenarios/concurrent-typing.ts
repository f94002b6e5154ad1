// Concurrent typing in the same long text: devices insert (and now and then cut) tokens in one record's
// description, mostly online, with short offline bursts in which they keep typing.

import { MINUTE, TraceBuilder, chance, devicesOf, int, real, recordsOf, type Scenario } from './gen.ts'

export const concurrentTyping: Scenario = {
  name: 'concurrent-typing',
  summary: "devices type into one record's description, online with short offline bursts",
  generate: (gen, seed, { devices = 4 }) => {
    const ds = devicesOf(devices)
    const records = recordsOf(1)
    const b = new TraceBuilder('concurrent-typing', seed, ds, records)
    const record = records[0].id
    for (const d of ds) b.online(0, d.id)
    for (const d of ds) {
      let t = MINUTE
      let online = true
      for (let i = 0; i < 20; i++) {
        t += int(gen, 5, 90) * 1000
        if (chance(gen, 0.1)) { online ? b.offline(t, d.id) : b.online(t, d.id); online = !online; t += 1000 }
        if (chance(gen, 0.1)) b.cut(t, d.id, record, 'description', real(gen))
        else b.type(t, d.id, record, 'description', real(gen))
      }
    }
    return b.build()
  }
}
