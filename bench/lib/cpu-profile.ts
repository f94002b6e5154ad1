// Summarizes a V8 .cpuprofile: where a server spent its time, by self time and by inclusive time
// (a function counted once per sample in which it is on the stack).

import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  children?: number[]
}
interface CpuProfile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

export interface ProfileSummary {
  totalMs: number
  self: { name: string, ms: number }[]
  inclusive: { name: string, ms: number }[]
  /** inclusive ms of every function (label -> ms) */
  all: Map<string, number>
}

const shortUrl = (url: string): string => {
  const m = /node_modules\/(.+)$/.exec(url) ?? /\/(src\/.+)$/.exec(url) ?? /\/(bench\/.+)$/.exec(url)
  return m !== null ? m[1] : url.replace(/^node:/, '')
}

const label = (n: ProfileNode): string => {
  const f = n.callFrame
  if (f.url === '') return f.functionName === '' ? '(anonymous)' : f.functionName
  return `${f.functionName === '' ? '(anonymous)' : f.functionName} ${shortUrl(f.url)}:${f.lineNumber + 1}`
}

export const summarizeProfile = (file: string, top = 20): ProfileSummary => {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(p.nodes.map(n => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  const stackOf = new Map<number, Set<string>>()
  const stack = (id: number): Set<string> => {
    let s = stackOf.get(id)
    if (s !== undefined) return s
    s = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) s.add(label(byId.get(at)!))
    stackOf.set(id, s)
    return s
  }
  let total = 0
  p.samples.forEach((id, i) => {
    const us = p.timeDeltas[i + 1] ?? 0 // a sample's time is the delta to the next one
    const name = label(byId.get(id)!)
    if (name === '(idle)' || name === '(program)') return
    total += us
    self.set(name, (self.get(name) ?? 0) + us)
    for (const f of stack(id)) inclusive.set(f, (inclusive.get(f) ?? 0) + us)
  })
  const topOf = (m: Map<string, number>): { name: string, ms: number }[] =>
    [...m].filter(([name]) => name !== '(root)').sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({ name, ms: us / 1000 }))
  return { totalMs: total / 1000, self: topOf(self), inclusive: topOf(inclusive), all: new Map([...inclusive].map(([k, us]) => [k, us / 1000])) }
}
