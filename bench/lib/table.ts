// Printing benchmark figures as aligned columns.

export const fmt = {
  s: (seconds: number): string => `${seconds.toFixed(2)} s`,
  ms: (ms: number): string => `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`,
  int: (n: number): string => Math.round(n).toLocaleString('en-US'),
  pct: (share: number): string => `${(share * 100).toFixed(0)}%`,
  mib: (mib: number): string => `${mib.toFixed(0)} MiB`
}

export const printTable = (head: readonly string[], rows: readonly (readonly string[])[]): void => {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string => cells.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join('  ')
  console.log(line(head))
  for (const r of rows) console.log(line(r))
}
