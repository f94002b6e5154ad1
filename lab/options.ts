// The lab's command line, parsed once with node:util parseArgs (README, "For researchers").

import { parseArgs } from 'node:util'
import type { Scenario } from './scenarios/gen.ts'
import { SCENARIOS } from './scenarios/index.ts'
import { DEVICE_COUNTS } from './scenarios/scaling.ts'
import { STRATEGIES } from './strategies/index.ts'
import type { Strategy } from './strategy.ts'

export const USAGE = `npm run lab -- [options]
  --scenario a,b      scenarios to run (default: all): ${SCENARIOS.map(s => s.name).join(', ')}
  --strategy a,b      strategies to run (default: all): ${STRATEGIES.map(s => s.name).join(', ')}
  --seed n            the generators' seed (default: random; printed)
  --devices n[,m]     device count for every scenario (default: each scenario's own); for scaling, the
                      counts to sweep (default: ${DEVICE_COUNTS.join(',')})
  --trace file        replay a recorded trace (JSON Lines, see README) instead of the generators
  --out dir           output folder (default: lab-out)`

export class UsageError extends Error {
  override readonly name = 'UsageError'
}

const listOf = <T extends { name: string }>(what: string, all: readonly T[], text: string | undefined): T[] => {
  if (text === undefined) return [...all]
  return text.split(',').map(n => {
    const found = all.find(x => x.name === n.trim())
    if (found === undefined) throw new UsageError(`unknown ${what} ${JSON.stringify(n)}; one of: ${all.map(x => x.name).join(', ')}`)
    return found
  })
}

const positiveInts = (text: string, what: string): number[] => text.split(',').map(x => {
  const n = Number(x)
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new UsageError(`${what}: expected whole numbers from 1 to 256, got ${JSON.stringify(x)}`)
  return n
})

export interface LabOptions {
  readonly help: boolean
  /** the generators' seed (drawn when not given) */
  readonly seed: number
  readonly scenarios: readonly Scenario[]
  readonly strategies: readonly Strategy[]
  /** --devices: the device count of every scenario (the first), or the counts scaling sweeps */
  readonly devices: readonly number[] | undefined
  readonly trace: string | undefined
  readonly out: string
}

/** Parses the arguments; throws UsageError (or parseArgs' TypeError) naming what is wrong. */
export const parseOptions = (args: readonly string[]): LabOptions => {
  let values
  try {
    values = parseArgs({
      args: [...args],
      options: {
        scenario: { type: 'string' }, strategy: { type: 'string' }, seed: { type: 'string' }, devices: { type: 'string' },
        trace: { type: 'string' }, out: { type: 'string', default: 'lab-out' }, help: { type: 'boolean', short: 'h' }
      },
      strict: true
    }).values
  } catch (e) {
    throw new UsageError((e as Error).message)
  }
  return {
    help: values.help === true,
    seed: values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : seedOf(values.seed),
    scenarios: listOf('scenario', SCENARIOS, values.scenario),
    strategies: listOf('strategy', STRATEGIES, values.strategy),
    devices: values.devices === undefined ? undefined : positiveInts(values.devices, '--devices'),
    trace: values.trace,
    out: values.out ?? 'lab-out'
  }
}

const seedOf = (text: string): number => {
  const n = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) throw new UsageError(`--seed: expected a whole number, got ${JSON.stringify(text)}`)
  return n
}
