// `npm run lab` end to end, as a child process: tables on stdout, the seed and progress on stderr, and the
// output folder (tables, results, traces, SVG plots made without a browser, the JSON of each figure); a bad
// option stops it with a clear message and exit code 2.

import { describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ROOT } from '../helpers/process.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { parseOptions, UsageError } from '../../lab/options.ts'

const cleanups = useCleanups()
const run = promisify(execFile)
const lab = (args: string[]) => run(process.execPath, ['--expose-gc', '--import', 'tsx', 'lab/main.ts', ...args], { cwd: ROOT, timeout: 120_000 })

describe('npm run lab', () => {
  it('runs the chosen scenarios and strategies and writes tables, results, traces, plots and figure JSON', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fieldsync-lab-cli-'))
    cleanups.push(() => rmSync(out, { recursive: true, force: true }))
    const { stdout, stderr } = await lab(['--scenario', 'same-field-race,scaling', '--strategy', 'record-lww,fieldsync-later-edit-wins', '--devices', '2,3', '--seed', '7', '--out', out])
    expect(stderr).toMatch(/seed 7 \(replay with --seed 7\)/)
    expect(stderr).toMatch(/\[4\/6\] scaling \(2 devices/)
    expect(stdout).toMatch(/#### same-field-race \(seed 7, 2 devices, \d+ edits\)/)
    expect(stdout).toMatch(/\| fieldsync-later-edit-wins \| 0 \| \d+ \|/)
    expect(stdout).toMatch(/#### scaling: bytes sent per edit by device count/)
    expect(readdirSync(out).sort()).toEqual(['cost-vs-devices.json', 'cost-vs-devices.svg', 'lost-and-conflicts.json', 'lost-and-conflicts.svg', 'results.json', 'tables.md', 'traces'])
    expect(readdirSync(join(out, 'traces')).sort()).toEqual(['same-field-race.jsonl', 'scaling-2.jsonl', 'scaling-3.jsonl'])
    expect(readFileSync(join(out, 'tables.md'), 'utf8')).toBe(stdout.slice(0, stdout.lastIndexOf('\n')) + '\n')
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { seed: number, runs: { scenario: string, strategy: string, devices: number, metrics: { memoryBytes: unknown, edits: number } }[] }
    expect(results.seed).toBe(7)
    expect(results.runs.map(r => `${r.scenario} ${r.devices} ${r.strategy}`)).toEqual([
      'same-field-race 2 record-lww', 'same-field-race 2 fieldsync-later-edit-wins',
      'scaling 2 record-lww', 'scaling 2 fieldsync-later-edit-wins', 'scaling 3 record-lww', 'scaling 3 fieldsync-later-edit-wins'
    ])
    for (const r of results.runs) expect(typeof r.metrics.memoryBytes).toBe('number')
    for (const name of ['lost-and-conflicts', 'cost-vs-devices']) {
      const svg = readFileSync(join(out, `${name}.svg`), 'utf8')
      expect(svg.startsWith('<svg')).toBe(true)
      expect(svg).toContain('fieldsync-later-edit-wins')
      const spec = JSON.parse(readFileSync(join(out, `${name}.json`), 'utf8')) as { $schema: string, data: { values: unknown[] } }
      expect(spec.$schema).toMatch(/vega-lite/)
      expect(spec.data.values.length).toBeGreaterThan(0)
    }
    // The recorded trace replays to the same figures.
    const again = await lab(['--trace', join(out, 'traces', 'same-field-race.jsonl'), '--strategy', 'record-lww,fieldsync-later-edit-wins', '--out', join(out, 'replay')])
    const cells = (md: string): string[] => md.split('\n').filter(l => /^\| (record-lww|fieldsync-later-edit-wins) \|/.test(l)).map(l => l.split('|').slice(1, 8).join('|'))
    expect(cells(again.stdout)).toEqual(cells(stdout).slice(0, 2))
  })

  it('stops on a bad option with the reason, the usage and exit code 2', async () => {
    const e = await lab(['--trace', '/nonexistent/trace.jsonl']).then(() => null, (x: { code: number, stderr: string }) => x)
    expect(e?.code).toBe(2)
    expect(e?.stderr).toMatch(/lab: \/nonexistent\/trace.jsonl: cannot read it/)
    expect(e?.stderr).toMatch(/npm run lab -- \[options\]/)
  })
})

describe('the lab\'s options', () => {
  it('parses lists, the seed and the device counts', () => {
    const o = parseOptions(['--scenario', 'clock-skew,scaling', '--strategy', 'automerge', '--seed', '12', '--devices', '2,64', '--out', 'x'])
    expect(o.scenarios.map(s => s.name)).toEqual(['clock-skew', 'scaling'])
    expect(o.strategies.map(s => s.name)).toEqual(['automerge'])
    expect(o).toMatchObject({ seed: 12, devices: [2, 64], out: 'x', trace: undefined, help: false })
    expect(parseOptions([]).strategies).toHaveLength(7)
    expect(parseOptions([]).out).toBe('lab-out')
  })

  for (const [args, message] of [
    [['--strategy', 'nope'], /unknown strategy "nope"; one of: fieldsync-later-edit-wins/],
    [['--scenario', 'same-field-race,nope'], /unknown scenario "nope"; one of: field-sales-week/],
    [['--devices', '0'], /--devices: expected whole numbers from 1 to 256, got "0"/],
    [['--devices', '2,x'], /--devices: expected whole numbers from 1 to 256, got "x"/],
    [['--seed=1.5'], /--seed: expected a whole number, got "1.5"/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['--seed'], /--seed/]
  ] as const) {
    it(`refuses ${args.join(' ')}`, () => {
      expect(() => parseOptions(args)).toThrow(UsageError)
      expect(() => parseOptions(args)).toThrow(message)
    })
  }
})
