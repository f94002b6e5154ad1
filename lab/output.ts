// What the lab writes: Markdown tables, SVG plots (vega-lite compiled, rendered by vega in Node, no
// browser) and the JSON of every figure.

import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as vega from 'vega'
import { compile, type TopLevelSpec } from 'vega-lite'
import type { Metrics } from './metrics.ts'

export interface Row {
  readonly scenario: string
  readonly strategy: string
  readonly devices: number
  readonly seed: number
  readonly metrics: Metrics
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const kb = (n: number | null): string => n === null ? 'n/a' : fmt(n / 1024, 0)

const table = (head: readonly string[], rows: readonly (readonly string[])[]): string =>
  [`| ${head.join(' | ')} |`, `|${head.map((_, i) => i === 0 ? '---' : '---:').join('|')}|`, ...rows.map(r => `| ${r.join(' | ')} |`)].join('\n')

/** One table per scenario (every metric), then lost updates across scenarios, then cost against device count. */
export const markdown = (rows: readonly Row[], scalingName: string): string => {
  const out: string[] = []
  const single = rows.filter(r => r.scenario !== scalingName)
  const scenarios = [...new Set(single.map(r => r.scenario))]
  const strategies = [...new Set(rows.map(r => r.strategy))]
  for (const s of scenarios) {
    const these = single.filter(r => r.scenario === s)
    out.push(`#### ${s} (seed ${these[0].seed}, ${these[0].devices} devices, ${these[0].metrics.edits} edits)`, '')
    out.push(table(
      ['strategy', 'lost', 'conflict entries', 'refusals', 'older won', 'forbidden kept', 'converged', 'bytes/edit', 'stored bytes', 'CPU/edit p50 µs', 'p99 µs', 'memory KB'],
      these.map(({ strategy, metrics: m }) => [strategy, fmt(m.lost), fmt(m.conflicts), fmt(m.refusals), fmt(m.olderWins), fmt(m.forbiddenKept), m.converged ? 'yes' : '**no**',
        fmt(m.bytesPerEdit), fmt(m.storedBytes), fmt(m.cpuP50Micros), fmt(m.cpuP99Micros), kb(m.memoryBytes)])
    ), '')
  }
  if (scenarios.length > 1) {
    out.push('#### Lost updates / edits, every scenario', '')
    out.push(table(['strategy', ...scenarios], strategies.map(st => [st, ...scenarios.map(s => {
      const m = single.find(r => r.scenario === s && r.strategy === st)?.metrics
      return m === undefined ? '' : `${m.lost} / ${m.edits}`
    })])), '')
  }
  const scale = rows.filter(r => r.scenario === scalingName)
  const counts = [...new Set(scale.map(r => r.devices))].sort((a, b) => a - b)
  if (counts.length > 0) {
    const cell = (st: string, n: number, f: (m: Metrics) => string): string => { const m = scale.find(r => r.strategy === st && r.devices === n)?.metrics; return m === undefined ? '' : f(m) }
    out.push(`#### ${scalingName}: bytes sent per edit by device count (seed ${scale[0].seed})`, '')
    out.push(table(['strategy', ...counts.map(String)], strategies.map(st => [st, ...counts.map(n => cell(st, n, m => fmt(m.bytesPerEdit)))])), '')
    out.push(`#### ${scalingName}: CPU per edit p50 / p99 (µs) by device count`, '')
    out.push(table(['strategy', ...counts.map(String)], strategies.map(st => [st, ...counts.map(n => cell(st, n, m => `${fmt(m.cpuP50Micros)} / ${fmt(m.cpuP99Micros)}`))])), '')
    out.push(`#### ${scalingName}: lost updates and conflict entries by device count`, '')
    out.push(table(['strategy', ...counts.map(String)], strategies.map(st => [st, ...counts.map(n => cell(st, n, m => `${m.lost} / ${m.conflicts} of ${m.edits}`))])), '')
  }
  return out.join('\n')
}

/** The vega-lite specs of the plots, with their data inline (each is also written as JSON). */
export const figures = (rows: readonly Row[], scalingName: string): Record<string, TopLevelSpec> => {
  const specs: Record<string, TopLevelSpec> = {}
  const single = rows.filter(r => r.scenario !== scalingName)
  if (single.length > 0) {
    specs['lost-and-conflicts'] = {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: 'Lost updates and conflict entries per strategy',
      data: { values: single.flatMap(r => [
        { scenario: r.scenario, strategy: r.strategy, metric: 'lost updates', value: r.metrics.lost },
        { scenario: r.scenario, strategy: r.strategy, metric: 'conflict entries', value: r.metrics.conflicts }
      ]) },
      mark: 'bar',
      encoding: {
        facet: { field: 'scenario', type: 'nominal', columns: 4, sort: [...new Set(single.map(r => r.scenario))] },
        x: { field: 'strategy', type: 'nominal', axis: { labelAngle: -45, labelLimit: 300 }, sort: [...new Set(single.map(r => r.strategy))] },
        xOffset: { field: 'metric', type: 'nominal' },
        y: { field: 'value', type: 'quantitative', title: 'count' },
        color: { field: 'metric', type: 'nominal' }
      },
      resolve: { scale: { y: 'independent' } }
    }
  }
  const scale = rows.filter(r => r.scenario === scalingName)
  if (scale.length > 0) {
    const counts = [...new Set(scale.map(r => r.devices))].sort((a, b) => a - b)
    const strategies = [...new Set(scale.map(r => r.strategy))]
    const line = (field: string, title: string): { mark: { type: 'line', point: true }, encoding: Record<string, unknown> } => ({
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'devices', type: 'quantitative', scale: { type: 'log', base: 2 }, axis: { values: counts }, title: 'devices' },
        y: { field, type: 'quantitative', title },
        color: { field: 'strategy', type: 'nominal', sort: strategies, legend: { labelLimit: 300 } }
      }
    })
    specs['cost-vs-devices'] = {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: 'Cost against device count (scaling scenario)',
      data: { values: scale.map(r => ({ strategy: r.strategy, devices: r.devices, bytesPerEdit: r.metrics.bytesPerEdit, cpuP50: r.metrics.cpuP50Micros, cpuP99: r.metrics.cpuP99Micros, cpuPerEdit: r.metrics.cpuPerEditMicros })) },
      hconcat: [line('bytesPerEdit', 'bytes sent per edit'), line('cpuP50', 'CPU per edit, p50 (µs)'), line('cpuPerEdit', 'CPU of the run per edit (µs)')]
    } as TopLevelSpec
  }
  return specs
}

export const renderSvg = async (spec: TopLevelSpec): Promise<string> => {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}

/** Writes tables.md, results.json, and per figure <name>.svg and <name>.json; returns the files written. */
export const writeOutput = async (dir: string, rows: readonly Row[], scalingName: string, meta: Record<string, unknown>): Promise<string[]> => {
  mkdirSync(dir, { recursive: true })
  const written: string[] = []
  const put = (name: string, text: string): void => { const f = join(dir, name); writeFileSync(f, text); written.push(f) }
  put('tables.md', markdown(rows, scalingName) + '\n')
  put('results.json', JSON.stringify({ ...meta, runs: rows }, null, 2) + '\n')
  for (const [name, spec] of Object.entries(figures(rows, scalingName))) {
    put(`${name}.json`, JSON.stringify(spec, null, 2) + '\n')
    put(`${name}.svg`, await renderSvg(spec))
  }
  return written
}
