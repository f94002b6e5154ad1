// `npm run lab`: runs seeded scenarios (or a recorded trace) under the merge strategies, prints Markdown
// tables and writes plots and the JSON of every figure (README, "For researchers").

import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import * as prng from 'lib0/prng'
import { measure } from './metrics.ts'
import { writeOutput, markdown, type Row } from './output.ts'
import { runTrace } from './run.ts'
import { SCENARIOS } from './scenarios/index.ts'
import { DEVICE_COUNTS, scaling } from './scenarios/scaling.ts'
import { readTrace, writeTrace, TraceError, type Trace } from './trace.ts'
import { parseOptions, USAGE, UsageError } from './options.ts'

const main = async (): Promise<void> => {
  const options = parseOptions(process.argv.slice(2))
  if (options.help) { console.log(USAGE); return }
  const { seed, strategies, devices, out } = options
  const tracesDir = join(out, 'traces')
  mkdirSync(tracesDir, { recursive: true })

  // The traces to run: a recorded one, or each scenario's (scaling: one per device count).
  const traces: { scenario: string, devices: number, trace: Trace }[] = []
  if (options.trace !== undefined) {
    const trace = readTrace(options.trace)
    traces.push({ scenario: trace.header.scenario, devices: trace.header.devices.length, trace })
  } else {
    for (const s of options.scenarios) {
      const counts = s === scaling ? devices ?? [...DEVICE_COUNTS] : [devices?.[0]]
      for (const n of counts) {
        const trace = s.generate(prng.create(seed), seed, { devices: n })
        const label = s === scaling ? `${s.name}-${trace.header.devices.length}` : s.name
        writeTrace(join(tracesDir, `${label}.jsonl`), trace)
        traces.push({ scenario: s.name, devices: trace.header.devices.length, trace })
      }
    }
  }
  console.error(options.trace === undefined
    ? `lab: seed ${seed} (replay with --seed ${seed}); ${traces.length} trace(s) x ${strategies.length} strategies; traces in ${tracesDir}`
    : `lab: replaying ${options.trace} (generated with seed ${traces[0].trace.header.seed}) x ${strategies.length} strategies`)

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
  if (e instanceof UsageError || e instanceof TraceError) {
    console.error(`lab: ${e.message}\n\n${USAGE}`)
    process.exitCode = 2
    return
  }
  throw e
})
