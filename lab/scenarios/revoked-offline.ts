// Privilege revoked while offline: a rep's device goes offline, her write privilege is taken away, she
// keeps editing (her device does not know yet), and reconnects; the others edit meanwhile.

import { HOUR, MINUTE, TraceBuilder, devicesOf, int, pick, recordsOf, type Scenario } from './gen.ts'

export const revokedOffline: Scenario = {
  name: 'revoked-offline',
  summary: "a rep's write privilege is revoked while her device is offline; she keeps editing, then syncs",
  generate: (gen, seed, { devices = 3 }) => {
    const ds = devicesOf(Math.max(3, devices), ['u-nina', 'u-alice', 'u-bob'])
    const records = recordsOf(3)
    const b = new TraceBuilder('revoked-offline', seed, ds, records)
    const [nina, ...others] = ds
    for (const d of ds) b.online(0, d.id)
    b.offline(HOUR, nina.id)
    // Edits on both sides of the revocation, all made offline: all reach the server after it.
    for (let i = 0; i < 12; i++) b.edit(gen, HOUR + int(gen, 1, 8 * 60) * MINUTE, nina.id, pick(gen, records).id)
    b.revoke(3 * HOUR, nina.user)
    for (let i = 0; i < 12; i++) b.edit(gen, HOUR + int(gen, 1, 8 * 60) * MINUTE, pick(gen, others).id, pick(gen, records).id)
    b.online(10 * HOUR, nina.id)
    return b.build()
  }
}
