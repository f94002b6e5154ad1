// The home screen (the offline profile's entities, with how many records the device holds of each) and an
// entity's record list: system and quick views, categorized search, a virtual list (only the rows in
// sight are in the page, so 10,000 records scroll like 10), badges on records with changes waiting or a conflict.

import { useEffect, useMemo, useState } from 'preact/hooks'
import type { EntityDef } from '../docs/catalog-types.ts'
import { dataVersion, href, inboxCount, signed, unsynced } from './state.ts'
import { recordTitle, show } from './words.ts'
import type { FieldsyncDevice } from '../client/device.ts'

export const entityDef = (device: FieldsyncDevice, entity: string): EntityDef | undefined =>
  device.lastMetadata?.entities.find(e => e.name === entity)

export const EntityList = () => {
  const device = signed.value!.device
  const [held, setHeld] = useState<Map<string, number>>(new Map())
  const v = dataVersion.value
  useEffect(() => {
    void device.store.records().then(names => {
      const m = new Map<string, number>()
      for (const n of names) { if (n.split('/').length === 2) { const e = n.split('/')[0]; m.set(e, (m.get(e) ?? 0) + 1) } }
      setHeld(m)
    })
  }, [v])
  const entities = device.lastMetadata?.entities ?? []
  return (
    <main>
      <nav class="quick" aria-label="Device">
        <a href={href.inbox}>Inbox{inboxCount.value > 0 ? ` (${inboxCount.value})` : ''}</a>
        <a href={href.status}>Device status{unsynced.value > 0 ? ` (${unsynced.value} waiting)` : ''}</a>
      </nav>
      <h1>Records</h1>
      {entities.length === 0 && <p class="note" role="status">Your offline profile keeps no records on this device. An administrator can give you one; the next sync brings its records.</p>}
      <ul class="entities">
        {entities.map(e => (
          <li key={e.name}><a href={href.list(e.name)}><span>{e.label}</span><span class="count" aria-label={`${held.get(e.name) ?? 0} on this device`}>{held.get(e.name) ?? 0}</span></a></li>
        ))}
      </ul>
    </main>
  )
}

interface Row { readonly record: string, readonly values: Readonly<Record<string, unknown>>, readonly matched?: string }

const ROW_HEIGHT = 56
const OVERSCAN = 6

/** Renders only the rows in sight (and a few around) inside a scroller of the full height. */
const VirtualList = ({ rows, render, label }: { rows: readonly Row[], render: (r: Row) => preact.JSX.Element, label: string }) => {
  const [top, setTop] = useState(0)
  const [height, setHeight] = useState(600)
  const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN)
  const last = Math.min(rows.length, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN)
  return (
    <div class="scroller" role="list" tabIndex={0} aria-label={label} aria-rowcount={rows.length} ref={el => { if (el !== null && el.clientHeight > 0 && el.clientHeight !== height) setHeight(el.clientHeight) }}
      onScroll={e => setTop(e.currentTarget.scrollTop)}>
      <div style={{ height: `${rows.length * ROW_HEIGHT}px`, position: 'relative' }}>
        {rows.slice(first, last).map((r, i) => (
          <div role="listitem" key={r.record} class="row" style={{ top: `${(first + i) * ROW_HEIGHT}px`, height: `${ROW_HEIGHT}px` }}>{render(r)}</div>
        ))}
      </div>
    </div>
  )
}

const ALL = ''
const SEARCH_LIMIT = 500

export const RecordList = ({ entity }: { entity: string }) => {
  const device = signed.value!.device
  const def = entityDef(device, entity)
  const views = useMemo(() => device.views(entity).filter(v => v.kind !== 'personal'), [entity])
  const [view, setView] = useState<string>(views.find(v => v.kind === 'system')?.name ?? ALL)
  const [query, setQuery] = useState('')
  const [rows, setRows] = useState<readonly Row[]>([])
  const [problem, setProblem] = useState<string | null>(null)
  /** the search the rows are for (the list says so, for whoever waits for a search's answer) */
  const [shownQuery, setShownQuery] = useState('')
  const [marks, setMarks] = useState<{ waiting: Set<string>, conflicts: Set<string> }>({ waiting: new Set(), conflicts: new Set() })
  const v = dataVersion.value

  useEffect(() => {
    let live = true
    const t = setTimeout(() => {
      const load = async (): Promise<readonly Row[]> => {
        if (query.trim() !== '') return (await device.search(entity, query.trim(), SEARCH_LIMIT)).map(h => ({ record: h.record, values: h.values, matched: h.field }))
        if (view === ALL) return device.list(entity)
        return (await device.view(entity, view, 1, 1_000_000)).rows.map(r => ({ record: String(r.record), values: r }))
      }
      load().then(r => { if (live) { setRows(r); setShownQuery(query); setProblem(null) } }, (e: Error) => { if (live) { setRows([]); setProblem(e.message) } })
    }, query === '' ? 0 : 150)
    return () => { live = false; clearTimeout(t) }
  }, [entity, view, query, v])

  useEffect(() => {
    void Promise.all([device.store.pending(), device.inbox()]).then(([p, inbox]) =>
      setMarks({ waiting: new Set(p.map(u => u.record)), conflicts: new Set(inbox.map(i => i.receipt.record)) }))
  }, [v])

  if (def === undefined) return <main><p role="alert">{entity} is not in your offline profile.</p></main>
  const attr = (name: string) => def.attributes.find(a => a.name === name)
  const columns = views.find(x => x.name === view)?.columns.filter(c => c !== def.primaryName).slice(0, 2) ?? []
  const second = columns.length > 0 ? columns : def.attributes.filter(a => a.type === 'text' && a.name !== def.primaryName).slice(0, 1).map(a => a.name)
  return (
    <main class="list">
      <div class="list-head">
        <h1>{def.label}</h1>
        {device.may(entity, 'create') && <a class="button" href={href.create(entity)}>New {def.label}</a>}
      </div>
      <div class="filters">
        <label>View
          <select value={view} onChange={e => setView(e.currentTarget.value)}>
            <option value={ALL}>All {def.label} records on this device</option>
            {views.map(x => <option key={x.name} value={x.name}>{x.name}{x.kind === 'quick' ? ' (quick view)' : ''}</option>)}
          </select>
        </label>
        <label>Search {def.label}
          <input type="search" value={query} placeholder="name, phone, e-mail…" onInput={e => setQuery(e.currentTarget.value)} />
        </label>
      </div>
      {problem !== null ? <p role="alert" class="error">{problem}</p> : <p class="total" role="status" data-query={shownQuery}>{rows.length} {rows.length === 1 ? 'record' : 'records'}{shownQuery !== '' && rows.length === SEARCH_LIMIT ? ' (the first matches: type more to narrow)' : ''}</p>}
      <VirtualList rows={rows} label={`${def.label} records`} render={r => (
        <a href={href.record(r.record)}>
          <strong>{recordTitle(def, r.values, r.record)}</strong>
          {marks.waiting.has(r.record) && <span class="badge waiting" title="Changes waiting to upload">waiting</span>}
          {marks.conflicts.has(r.record) && <span class="badge conflict" title="In the inbox">to look at</span>}
          <small>{r.matched !== undefined ? `${attr(r.matched)?.label ?? r.matched}: ${show(attr(r.matched), r.values[r.matched])}` : second.map(c => show(attr(c), r.values[c])).join(' · ')}</small>
        </a>
      )} />
    </main>
  )
}
