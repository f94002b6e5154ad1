// Delete against edit: while everyone is offline, the manager deletes a record that reps are editing
// (before and after the delete); another record is only edited. Then all reconnect in a random order.

import { HOUR, MANAGER, MINUTE, TraceBuilder, devicesOf, int, pick, recordsOf, shuffle, FIELDS, type Scenario } from './gen.ts'

export const deleteVsEdit: Scenario = {
  name: 'delete-vs-edit',
  summary: 'the manager deletes a record offline while reps edit it offline; then all reconnect',
  generate: (gen, seed, { devices = 3 }) => {
    const ds = devicesOf(Math.max(2, devices), ['u-alice', 'u-nina', 'u-bob'])
    const records = recordsOf(8)
    const b = new TraceBuilder('delete-vs-edit', seed, ds, records)
    const manager = ds.find(d => d.user === MANAGER) ?? ds[ds.length - 1]
    for (let round = 0; round < 4; round++) {
      const t0 = round * 4 * HOUR
      const [doomed, kept] = [records[2 * round].id, records[2 * round + 1].id]
      b.remove(t0 + 30 * MINUTE, manager.id, doomed)
      for (const d of ds.filter(x => x !== manager)) {
        for (let i = 0; i < 3; i++) b.set(t0 + int(gen, 1, 60) * MINUTE, d.id, doomed, pick(gen, FIELDS))
        b.type(t0 + int(gen, 1, 60) * MINUTE, d.id, doomed, 'description', 1)
        b.set(t0 + int(gen, 1, 60) * MINUTE, d.id, kept, pick(gen, FIELDS))
      }
      let t = t0 + 2 * HOUR
      for (const d of shuffle(gen, ds)) { b.online(t, d.id); t += int(gen, 1, 10) * MINUTE }
      for (const d of ds) b.offline(t0 + 3 * HOUR, d.id)
    }
    return b.build()
  }
}
