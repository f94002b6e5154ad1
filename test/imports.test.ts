// The import graph of src/: no cycles between files, none between folders, and the device SDK
// (src/client) never imports the server (src/server) — it speaks the wire formats of src/protocol.

import { describe, expect, it } from 'vitest'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'

const SRC = 'src'

const sources = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap(e =>
  e.isDirectory() ? sources(join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [join(dir, e.name)] : [])

/** Relative imports and re-exports of a file (type-only ones too: a cycle of types still knots two modules). */
const importsOf = (file: string): string[] => {
  const text = readFileSync(file, 'utf8')
  const out: string[] = []
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
    out.push(normalize(join(dirname(file), m[1] ?? m[2])))
  }
  return out
}

const graph = new Map(sources(SRC).map(f => [f, importsOf(f)]))
const folderOf = (file: string): string => relative(SRC, dirname(file)).split('/')[0] || '.'

/** Every cycle found by a depth-first walk, as the list of nodes around it. */
const cycles = (edges: ReadonlyMap<string, readonly string[]>): string[][] => {
  const found: string[][] = []
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const walk = (n: string): void => {
    state.set(n, 'open')
    stack.push(n)
    for (const m of edges.get(n) ?? []) {
      if (!edges.has(m)) continue
      if (state.get(m) === 'open') found.push([...stack.slice(stack.indexOf(m)), m])
      else if (state.get(m) === undefined) walk(m)
    }
    stack.pop()
    state.set(n, 'done')
  }
  for (const n of edges.keys()) if (state.get(n) === undefined) walk(n)
  return found
}

describe('the import graph of src/', () => {
  it('resolves every relative import to a file', () => {
    const missing = [...graph].flatMap(([f, deps]) => deps.filter(d => !graph.has(d)).map(d => `${f} -> ${d}`))
    expect(missing).toEqual([])
  })

  it('has no cycle between files', () => {
    expect(cycles(graph).map(c => c.join(' -> '))).toEqual([])
  })

  it('has no cycle between folders', () => {
    const folders = new Map<string, string[]>()
    for (const [f, deps] of graph) {
      const from = folderOf(f)
      const list = folders.get(from) ?? []
      for (const d of deps) if (folderOf(d) !== from && !list.includes(folderOf(d))) list.push(folderOf(d))
      folders.set(from, list)
    }
    expect(cycles(folders).map(c => c.join(' -> '))).toEqual([])
  })

  it('keeps the device SDK, the wire formats and the app off the server', () => {
    const bad = [...graph].flatMap(([f, deps]) => ['client', 'protocol', 'app'].includes(folderOf(f)) ? deps.filter(d => folderOf(d) === 'server').map(d => `${f} -> ${d}`) : [])
    expect(bad).toEqual([])
  })

  it('finds a cycle and a client -> server import when there is one (the check itself)', () => {
    expect(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]]))).toEqual([['a', 'b', 'c', 'a']])
    expect(folderOf(join(SRC, 'client', 'x.ts'))).toBe('client')
  })
})
