// `npm run lab`: runs seeded scenarios (or a recorded trace) under the merge strategies, prints Markdown
// tables and writes plots and the JSON of every figure (README, "For researchers").

import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import * as prng from 'lib0/prng'
import { measure } from './metrics.ts'
import { writeOutput, markdown, type Row } from './output.ts'
import { runTrace } from './run.ts'
import { SCENARIOS } from './scenarios/index.ts'
import { DEVICE_COUNTS, scaling } from './scenarios/scaling.ts'
import { STRATEGIES } from './strategies/index.ts'
import { readTrace, writeTrace, TraceError, type Trace } from './trace.ts'

const USAGE = `npm run lab -- [options]
  --scenario a,b      scenarios to run (default: all): ${SCENARIOS.map(s => s.name).join(', ')}
  --strategy a,b      strategies to run (default: all): ${STRATEGIES.map(s => s.name).join(', ')}
  --seed n            the generators' seed (default: random; printed)
  --devices n[,m]     device count for every scenario (default: each scenario's own); for scaling, the
                      counts to sweep (default: ${DEVICE_COUNTS.join(',')})
  --trace file        replay a recorded trace (JSON Lines, see README) instead of the generators
  --out dir           output folder (default: lab-out)`

class UsageError extends Error {}

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

const main = async (): Promise<void> => {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string' }, strategy: { type: 'string' }, seed: { type: 'string' }, devices: { type: 'string' },
      trace: { type: 'string' }, out: { type: 'string', default: 'lab-out' }, help: { type: 'boolean', short: 'h' }
    },
    strict: true
  })
  if (values.help === true) { console.log(USAGE); return }
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : positiveInts(values.seed, '--seed')[0]
  const strategies = listOf('strategy', STRATEGIES, values.strategy)
  const devices = values.devices === undefined ? undefined : positiveInts(values.devices, '--devices')
  const out = values.out
  const tracesDir = join(out, 'traces')
  mkdirSync(tracesDir, { recursive: true })

  // The traces to run: a recorded one, or each scenario's (scaling: one per device count).
  const traces: { scenario: string, devices: number, trace: Trace }[] = []
  if (values.trace !== undefined) {
    const trace = readTrace(values.trace)
    traces.push({ scenario: trace.header.scenario, devices: trace.header.devices.length, trace })
  } else {
    for (const s of listOf('scenario', SCENARIOS, values.scenario)) {
      const counts = s === scaling ? devices ?? [...DEVICE_COUNTS] : [devices?.[0]]
      for (const n of counts) {
        const trace = s.generate(prng.create(seed), seed, { devices: n })
        const label = s === scaling ? `${s.name}-${trace.header.devices.length}` : s.name
        writeTrace(join(tracesDir, `${label}.jsonl`), trace)
        traces.push({ scenario: s.name, devices: trace.header.devices.length, trace })
      }
    }
  }
  console.error(values.trace === undefined
    ? `lab: seed ${seed} (replay with --seed ${seed}); ${traces.length} trace(s) x ${strategies.length} strategies; traces in ${tracesDir}`
    : `lab: replaying ${values.trace} (generated with seed ${traces[0].trace.header.seed}) x ${strategies.length} strategies`)

  // One small discarded run per strategy first: module loading, WebAssembly and the JIT's warm-up would
  // otherwise land on the first measured run.
  const warm = SCENARIOS[1].generate(prng.create(seed), seed, { devices: 2 })
  for (const st of strategies) await runTrace({ header: warm.header, steps: warm.steps.slice(0, 20) }, st)

  const rows: Row[] = []
  const total = traces.length * strategies.length
  const started = Date.now()
  const tty = process.stderr.isTTY
  for (const t of traces) {
    for (const st of strategies) {
      const line = `[${String(rows.length + 1).padStart(String(total).length)}/${total}] ${t.scenario} (${t.devices} devices, ${t.trace.steps.length} steps) x ${st.name}  ${((Date.now() - started) / 1000).toFixed(0)} s`
      if (tty) process.stderr.write(`\r\x1b[K${line}`); else console.error(line)
      rows.push({ scenario: t.scenario, strategy: st.name, devices: t.devices, seed: t.trace.header.seed, metrics: measure(await runTrace(t.trace, st)) })
    }
  }
  if (tty) process.stderr.write('\n')
  console.log(markdown(rows, scaling.name))
  const files = await writeOutput(out, rows, scaling.name, {
    seed, strategies: strategies.map(s => ({ name: s.name, summary: s.summary })), node: process.version, gcExposed: typeof (globalThis as { gc?: unknown }).gc === 'function'
  })
  console.error(`lab: done in ${((Date.now() - started) / 1000).toFixed(0)} s; wrote ${files.join(', ')}`)
}

main().catch((e: unknown) => {
  if (e instanceof UsageError || e instanceof TraceError || (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) {
    console.error(`lab: ${e.message}\n\n${USAGE}`)
    process.exitCode = 2
    return
  }
  throw e
})
