// The lab's trace files: every generator's trace survives encode -> decode unchanged and is the same for
// the same seed; a bad file is refused with the line and the reason.

import { describe, expect, it } from 'vitest'
import * as prng from 'lib0/prng'
import { SCENARIOS } from '../../lab/scenarios/index.ts'
import { decodeTrace, encodeTrace, TraceError } from '../../lab/trace.ts'
import { testSeed, withSeed } from '../helpers/seed.ts'

describe('trace files', () => {
  it('every generator: seeded, deterministic, and round-trips through the file format', async () => {
    const seed = testSeed()
    for (const s of SCENARIOS) {
      await withSeed(async (gen, sd) => {
        const trace = s.generate(gen, sd, {})
        expect(trace.header.scenario).toBe(s.name)
        expect(trace.steps.length, s.name).toBeGreaterThan(0)
        expect(decodeTrace(encodeTrace(trace)), s.name).toEqual(trace)
        expect(s.generate(prng.create(sd), sd, {}), s.name).toEqual(trace)
        const other = s.generate(prng.create(sd + 1), sd + 1, {})
        expect(other.steps, s.name).not.toEqual(trace.steps)
      }, seed)
    }
  })

  it('--devices sets the device count of a generator', () => {
    const s = SCENARIOS.find(x => x.name === 'scaling')!
    for (const n of [2, 64]) expect(s.generate(prng.create(1), 1, { devices: n }).header.devices).toHaveLength(n)
  })

  const good = encodeTrace(SCENARIOS[1].generate(prng.create(5), 5, {})).split('\n')
  const refused: [string, string[], RegExp][] = [
    ['an empty file', [''], /empty trace/],
    ['a line that is not JSON', [good[0], '{"op":'], /line 2: not JSON/],
    ['an unknown op', [good[0], '{"op":"merge","t":1}'], /line 2: op/],
    ['an unknown device', [good[0], '{"op":"online","t":1,"device":"nobody"}'], /step 1: no device nobody/],
    ['time running backwards', [good[0], good[1], JSON.stringify({ ...JSON.parse(good[1]), op: 'online', t: 0, value: undefined, record: undefined, field: undefined })], /time runs backwards|step 2/],
    ['a value written twice', [good[0], good[1], good[1]], /written twice/],
    ['a wrong format name', [good[0].replace('fieldsync-lab-trace', 'other'), good[1]], /header/]
  ]
  for (const [what, lines, message] of refused) {
    it(`refuses ${what} with a clear error`, () => {
      expect(() => decodeTrace(lines.join('\n'))).toThrow(TraceError)
      expect(() => decodeTrace(lines.join('\n'))).toThrow(message)
    })
  }
})
