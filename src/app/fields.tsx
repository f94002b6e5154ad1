// One typed input per attribute type (text, memo, whole, decimal, money, boolean, date, datetime, option
// set, lookup to offline entities' records), each labelled, with required marks and rule errors; and the
// memo field bound to the record's Y.Text, so two people typing see each other's characters live.

import { useEffect, useRef, useState } from 'preact/hooks'
import type * as Y from 'yjs'
import type { AttributeDef, EntityDef } from '../docs/catalog-types.ts'
import type { FieldValue } from '../docs/values.ts'
import { editText, memoText } from '../docs/record.ts'
import type { FieldsyncDevice } from '../client/device.ts'
import { dataVersion } from './state.ts'

export interface FieldProps {
  readonly attr: AttributeDef
  readonly value: unknown
  readonly readOnly: boolean
  readonly required: boolean
  readonly error: string | null
  readonly onChange: (v: FieldValue | null) => void
  readonly device: FieldsyncDevice
}

const idOf = (name: string): string => `field-${name}`

/** The typed value of what the input holds ('' is no value). */
const typed = (attr: AttributeDef, raw: string): FieldValue | null => {
  if (raw.trim() === '') return null
  switch (attr.type) {
    case 'whole': case 'optionset': return Number.isNaN(parseInt(raw, 10)) ? raw : parseInt(raw, 10)
    case 'decimal': case 'money': return Number.isNaN(Number(raw)) ? raw : Number(raw)
    case 'datetime': return Number.isNaN(Date.parse(raw)) ? raw : new Date(raw).toISOString()
    default: return raw
  }
}

const localDateTime = (iso: unknown): string => {
  if (typeof iso !== 'string' || Number.isNaN(Date.parse(iso))) return ''
  const d = new Date(iso)
  const p = (n: number): string => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`
}

/** A lookup offers the records of its offline target entities only. */
const LookupInput = ({ attr, value, readOnly, required, onChange, device }: FieldProps) => {
  const [options, setOptions] = useState<{ record: string, name: string }[]>([])
  const v = dataVersion.value
  useEffect(() => {
    const meta = device.lastMetadata
    const targets = (attr.targets ?? []).filter(t => meta?.entities.some(e => e.name === t))
    void Promise.all(targets.map(async t => {
      const def = meta!.entities.find(e => e.name === t)!
      return (await device.list(t)).slice(0, 1000).map(r => ({ record: r.record, name: `${String(r.values[def.primaryName] ?? r.record)} (${def.label})` }))
    })).then(lists => setOptions(lists.flat().sort((a, b) => a.name.localeCompare(b.name))))
  }, [attr.name, v])
  const current = typeof value === 'string' ? value : ''
  return (
    <select id={idOf(attr.name)} disabled={readOnly} required={required} value={current} onChange={e => onChange(typed(attr, e.currentTarget.value))}>
      <option value="">—</option>
      {current !== '' && !options.some(o => o.record === current) && <option value={current}>{current} (not on this device)</option>}
      {options.map(o => <option key={o.record} value={o.record}>{o.name}</option>)}
    </select>
  )
}

const Input = (p: FieldProps) => {
  const { attr, value, readOnly, required, onChange } = p
  const common = { id: idOf(attr.name), name: attr.name, disabled: readOnly, required, 'aria-invalid': p.error !== null, 'aria-describedby': p.error !== null ? `${idOf(attr.name)}-error` : undefined }
  const str = value === null || value === undefined ? '' : String(value)
  switch (attr.type) {
    case 'boolean':
      return <input type="checkbox" {...common} checked={value === true} onChange={e => onChange(e.currentTarget.checked)} />
    case 'optionset':
      return (
        <select {...common} value={str} onChange={e => onChange(typed(attr, e.currentTarget.value))}>
          <option value="">—</option>
          {(attr.options ?? []).map(o => <option key={o.value} value={String(o.value)}>{o.label}</option>)}
        </select>
      )
    case 'lookup': return <LookupInput {...p} />
    case 'whole': case 'decimal': case 'money':
      return <input type="number" inputMode="decimal" step={attr.type === 'whole' ? 1 : 'any'} min={attr.min} max={attr.max} {...common} value={str} onChange={e => onChange(typed(attr, e.currentTarget.value))} />
    case 'date':
      return <input type="date" {...common} value={str} onChange={e => onChange(typed(attr, e.currentTarget.value))} />
    case 'datetime':
      return <input type="datetime-local" {...common} value={localDateTime(value)} onChange={e => onChange(typed(attr, e.currentTarget.value))} />
    case 'memo':
      return <textarea {...common} rows={4} value={str} onInput={e => onChange(typed(attr, e.currentTarget.value))} />
    default:
      return <input type={attr.name.startsWith('emailaddress') ? 'email' : attr.name.includes('phone') ? 'tel' : 'text'} maxLength={attr.maxLength ?? 200} {...common} value={str} onInput={e => onChange(typed(attr, e.currentTarget.value))} />
  }
}

export const Field = (p: FieldProps & { readonly set: boolean, readonly lockedWhy: string | null }) => (
  <div class={`field${p.error !== null ? ' invalid' : ''}`}>
    <label for={idOf(p.attr.name)}>{p.attr.label}{p.required && <span class="req" aria-label="required"> *</span>}{p.set && <small> (set by a rule)</small>}</label>
    <Input {...p} />
    {p.lockedWhy !== null && <small class="why">{p.lockedWhy}</small>}
    {p.error !== null && <small class="error" id={`${idOf(p.attr.name)}-error`} role="alert">{p.error}</small>}
  </div>
)

/** The smallest splice turning `a` into `b`: common prefix and suffix kept. */
const splice = (a: string, b: string): { index: number, remove: number, insert: string } => {
  let start = 0
  while (start < a.length && start < b.length && a[start] === b[start]) start++
  let end = 0
  while (end < a.length - start && end < b.length - start && a[a.length - 1 - end] === b[b.length - 1 - end]) end++
  return { index: start, remove: a.length - start - end, insert: b.slice(start, b.length - end) }
}

/** A memo field edited in place: every keystroke is a splice of the record's Y.Text (kept and sent like
 * any edit); others' splices arrive into the same text and move the caret with them. */
export const MemoField = ({ doc, def, attr, readOnly, userId }: { doc: Y.Doc, def: EntityDef, attr: AttributeDef, readOnly: boolean, userId: string }) => {
  const text = memoText(doc, attr.name)
  const ref = useRef<HTMLTextAreaElement>(null)
  const [value, setValue] = useState(text.toString())
  const [problem, setProblem] = useState<string | null>(null)
  useEffect(() => {
    const observer = (e: Y.YTextEvent): void => {
      if (e.transaction.local) { setValue(text.toString()); return }
      const el = ref.current
      let [s, t] = el === null ? [0, 0] : [el.selectionStart, el.selectionEnd]
      let pos = 0
      for (const d of e.delta) {
        if (d.retain !== undefined) pos += d.retain
        else if (typeof d.insert === 'string') { const n = d.insert.length; if (pos <= s) s += n; if (pos <= t) t += n; pos += n }
        else if (d.delete !== undefined) { const n = d.delete; if (pos < s) s -= Math.min(n, s - pos); if (pos < t) t -= Math.min(n, t - pos) }
      }
      const now = text.toString()
      setValue(now)
      if (el !== null) { el.value = now; if (document.activeElement === el) el.setSelectionRange(s, t) }
    }
    text.observe(observer)
    return () => text.unobserve(observer)
  }, [doc, attr.name])
  const id = idOf(attr.name)
  return (
    <div class="field memo">
      <label for={id}>{attr.label} <small>(saved as you type)</small></label>
      <textarea id={id} ref={ref} rows={5} disabled={readOnly} value={value} onInput={e => {
        const next = e.currentTarget.value
        const { index, remove, insert } = splice(text.toString(), next)
        try {
          editText(doc, def, attr.name, index, remove, insert, { by: userId, at: new Date().toISOString() })
          setProblem(null)
        } catch (err) {
          setProblem((err as Error).message)
          e.currentTarget.value = text.toString()
        }
      }} />
      {problem !== null && <small class="error" role="alert">{problem}</small>}
    </div>
  )
}
