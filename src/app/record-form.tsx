// A record's form from the form metadata: typed fields, business rules live (required, locked, errors,
// values set by rules), secured fields hidden or read-only, refusals in words; the flow bar, the entity's
// commands, delete; then the timeline and who else has the record open. And the form for a new record.

import { useEffect, useState } from 'preact/hooks'
import type * as Y from 'yjs'
import type { EntityDef } from '../docs/catalog-types.ts'
import type { FieldValue } from '../docs/values.ts'
import { readRecord } from '../docs/record.ts'
import { evaluateRules, type FormState } from '../metadata/business-rules.ts'
import type { StateCommand } from '../docs/commands.ts'
import { checkCommand, type DeviceMetadata } from '../client/offline-rules.ts'
import type { FieldsyncDevice } from '../client/device.ts'
import { dataVersion, go, href, signed } from './state.ts'
import { Field, MemoField } from './fields.tsx'
import { entityDef } from './lists.tsx'
import { recordTitle, refusalWords } from './words.ts'
import { Timeline } from './timeline.tsx'
import { Presence } from './presence.tsx'

type Values = Record<string, FieldValue | null>

const COMMAND_LABELS: Readonly<Record<StateCommand, string>> = {
  qualify: 'Qualify', disqualify: 'Disqualify', 'convert-to-case': 'Convert to case', 'mark-complete': 'Mark complete', 'convert-to-opportunity': 'Convert to opportunity'
}

/** Why the user may not do `command` on `entity` (in words), or null when they may. */
const refusedWhy = (meta: DeviceMetadata, entity: string, command: 'create' | 'update' | 'delete'): string | null => {
  try { checkCommand(meta, entity, command); return null } catch (e) { return refusalWords(e) }
}

const formFields = (device: FieldsyncDevice, def: EntityDef, creating: boolean): string[] => {
  const forms = device.forms(def.name)
  const form = (creating ? forms.find(f => f.kind === 'quick-create') : undefined) ?? forms.find(f => f.kind === 'main')
  return form?.fields.slice() ?? def.attributes.map(a => a.name)
}

/** The form's fields with what the rules and field security say of each. */
const FieldList = ({ device, def, fields, state, values, onChange, writable, creating, doc }: {
  device: FieldsyncDevice, def: EntityDef, fields: string[], state: FormState | null, values: Values, onChange: (f: string, v: FieldValue | null) => void, writable: boolean, creating: boolean, doc: Y.Doc | null
}) => {
  const meta = device.lastMetadata!
  return (
    <>
      {fields.map(name => {
        const attr = def.attributes.find(a => a.name === name)
        if (attr === undefined) return null
        const perm = meta.fieldPermissions[`${def.name}.${name}`]
        if (perm !== undefined && !perm.read) return null // a secured field the user may not read is not shown
        const securedReadOnly = perm !== undefined && !(creating ? perm.create : perm.update)
        const locked = state?.locked.has(name) === true
        if (attr.type === 'memo' && doc !== null && perm === undefined) {
          return <MemoField key={name} doc={doc} def={def} attr={attr} readOnly={!writable} userId={meta.userId} />
        }
        const error = state?.errors.find(e => e.field === name)?.message ?? null
        const value = name in values ? values[name] : state?.values[name]
        return (
          <Field key={name} attr={attr} value={value} device={device} required={state?.required.has(name) === true} error={error}
            set={state?.set.has(name) === true && !(name in values)} readOnly={!writable || securedReadOnly || locked}
            lockedWhy={securedReadOnly ? 'Secured field: you may read it but not change it.' : locked ? 'Locked by a business rule.' : null}
            onChange={v => onChange(name, v)} />
        )
      })}
    </>
  )
}

const FlowBar = ({ device, record, writable }: { device: FieldsyncDevice, record: string, writable: boolean }) => {
  const [stage, setStage] = useState<Awaited<ReturnType<FieldsyncDevice['stage']>>>(null)
  const [problem, setProblem] = useState<string | null>(null)
  const v = dataVersion.value
  useEffect(() => { void device.stage(record).then(setStage) }, [record, v])
  if (stage === null) return null
  const move = (f: () => Promise<void>): void => {
    f().then(() => { setProblem(null); void device.stage(record).then(setStage) }, e => setProblem(refusalWords(e)))
  }
  return (
    <nav class="flow" aria-label={`Process: ${stage.flow.name}`}>
      <ol>
        {stage.flow.stages.map((s, i) => (
          <li key={s.name}><button type="button" aria-label={`Stage ${s.name}${i === stage.index ? ' (current)' : ': make it the active stage'}`} aria-current={i === stage.index ? 'step' : undefined} disabled={!writable} onClick={() => move(() => device.setActiveStage(record, s.name))}>{s.name}</button></li>
        ))}
      </ol>
      <div class="flow-moves">
        <button type="button" disabled={!writable || stage.index === 0} onClick={() => move(() => device.previousStage(record))}>Previous stage</button>
        <button type="button" disabled={!writable || stage.index + 1 >= stage.flow.stages.length} onClick={() => move(() => device.nextStage(record))}>Next stage</button>
      </div>
      {problem !== null && <p role="alert" class="error">{problem}</p>}
    </nav>
  )
}

/** A link to a record, named by its title (read from the device). */
const RecordLink = ({ device, record }: { device: FieldsyncDevice, record: string }) => {
  const [title, setTitle] = useState(record)
  const def = entityDef(device, record.split('/')[0])
  useEffect(() => { void device.open(record).then(d => { const s = readRecord(d); if (def !== undefined) setTitle(recordTitle(def, { ...s.fields, ...s.texts }, record)) }) }, [record])
  return <a href={href.record(record)}>{def?.label ?? record.split('/')[0]}: {title}</a>
}

const Commands = ({ device, def, record, active }: { device: FieldsyncDevice, def: EntityDef, record: string, active: boolean }) => {
  const [made, setMade] = useState<string[] | null>(null)
  const [problem, setProblem] = useState<string | null>(null)
  const [confirmDelete, setConfirmDelete] = useState(false)
  const commands = (Object.keys(COMMAND_LABELS) as StateCommand[]).filter(c => def.commands.includes(c))
  const run = (c: StateCommand): void => {
    device.runCommand(c, record).then(r => { setMade(r); setProblem(null); dataVersion.value++ }, e => setProblem(refusalWords(e)))
  }
  return (
    <section class="commands" aria-label="Actions">
      {commands.map(c => <button key={c} type="button" disabled={!active} onClick={() => run(c)}>{COMMAND_LABELS[c]}</button>)}
      {def.commands.includes('refresh') && <button type="button" onClick={() => { device.refresh(record).then(() => { dataVersion.value++ }, (e: Error) => setProblem(e.message)) }}>Refresh</button>}
      {device.may(def.name, 'delete') && (confirmDelete
        ? <><button type="button" class="danger" onClick={() => { device.remove(record).then(() => go(href.list(def.name)), e => setProblem(refusalWords(e))) }}>Yes, delete</button><button type="button" onClick={() => setConfirmDelete(false)}>Keep it</button></>
        : <button type="button" class="danger" onClick={() => setConfirmDelete(true)}>Delete</button>)}
      {made !== null && (
        <div role="status" class="made">Done{made.length > 0 ? '; created:' : '.'}
          <ul>{made.map(r => <li key={r}><RecordLink device={device} record={r} /></li>)}</ul>
        </div>
      )}
      {problem !== null && <p role="alert" class="error">{problem}</p>}
    </section>
  )
}

export const RecordScreen = ({ record }: { record: string }) => {
  const { device, session } = signed.value!
  const entity = record.split('/')[0]
  const def = entityDef(device, entity)
  const meta = device.lastMetadata!
  const [doc, setDoc] = useState<Y.Doc | null>(null)
  const [state, setState] = useState<FormState | null>(null)
  const [pending, setPending] = useState<Values>({})
  const [message, setMessage] = useState<{ kind: 'ok' | 'error', text: string } | null>(null)
  const [tick, setTick] = useState(0)
  const v = dataVersion.value
  useEffect(() => {
    let d: Y.Doc | null = null
    const bump = (): void => setTick(t => t + 1)
    void device.open(record).then(x => { d = x; setDoc(x); x.on('update', bump) })
    return () => { d?.off('update', bump) }
  }, [record])
  useEffect(() => {
    if (doc === null) return
    device.formState(record, pending).then(setState, (e: Error) => setMessage({ kind: 'error', text: e.message }))
  }, [doc, pending, tick, v])
  if (def === undefined) return <main><p role="alert">{entity} is not in your offline profile.</p></main>
  if (doc === null || state === null) return <main>{message?.kind === 'error' ? <p role="alert" class="error">{message.text}</p> : <p>Opening…</p>}</main>
  const s = readRecord(doc)
  if (s.meta.entity === undefined) return <main><p role="alert">This record is not on this device.</p></main>
  if (s.meta.deletedon !== undefined) return <main><p role="alert">This record was deleted.</p><a href={href.list(entity)}>Back to {def.label}</a></main>
  const whyNot = refusedWhy(meta, entity, 'update')
  const active = s.meta.statecode === undefined || s.meta.statecode === 0
  const save = (): void => {
    device.update(record, pending).then(() => { setPending({}); setMessage({ kind: 'ok', text: 'Saved on this device.' }); dataVersion.value++ }, e => setMessage({ kind: 'error', text: refusalWords(e) }))
  }
  const title = recordTitle(def, { ...s.fields, ...s.texts }, record)
  return (
    <main class="record">
      <h1>{title} <small>{def.label}{active ? '' : s.meta.statecode === 1 ? ' · closed' : ' · inactive'}</small></h1>
      <Presence record={record} session={session} />
      {whyNot !== null && <p class="refused" role="note">You cannot change this record: {whyNot}</p>}
      <FlowBar device={device} record={record} writable={whyNot === null && active} />
      <form onSubmit={e => { e.preventDefault(); save() }} aria-label={`${def.label} form`}>
        <FieldList device={device} def={def} fields={formFields(device, def, false)} state={state} values={pending} doc={doc} creating={false} writable={whyNot === null && active}
          onChange={(f, val) => { setPending(p => ({ ...p, [f]: val })); setMessage(null) }} />
        {whyNot === null && <div class="actions">
          <button type="submit" disabled={Object.keys(pending).length === 0}>Save</button>
          <button type="button" disabled={Object.keys(pending).length === 0} onClick={() => { setPending({}); setMessage(null) }}>Undo changes</button>
        </div>}
        {message !== null && <p role={message.kind === 'error' ? 'alert' : 'status'} class={message.kind}>{message.text}</p>}
      </form>
      <Commands device={device} def={def} record={record} active={active} />
      <Timeline device={device} record={record} />
    </main>
  )
}

export const NewRecordScreen = ({ entity }: { entity: string }) => {
  const { device } = signed.value!
  const def = entityDef(device, entity)
  const [values, setValues] = useState<Values>({})
  const [state, setState] = useState<FormState | null>(null)
  const [problem, setProblem] = useState<string | null>(null)
  useEffect(() => {
    // The rules of a new record: what it would be with these values (defaults filled).
    setState(evaluateRules(device.lastMetadata?.businessRules ?? [], entity, values))
  }, [values])
  if (def === undefined) return <main><p role="alert">{entity} is not in your offline profile.</p></main>
  const whyNot = refusedWhy(device.lastMetadata!, entity, 'create')
  const typedValues = Object.fromEntries(Object.entries(values).filter(([, x]) => x !== null)) as Record<string, FieldValue>
  return (
    <main class="record">
      <h1>New {def.label}</h1>
      {whyNot !== null && <p class="refused" role="note">You cannot create this record: {whyNot}</p>}
      <form aria-label={`New ${def.label} form`} onSubmit={e => {
        e.preventDefault()
        device.create(entity, typedValues).then(r => { dataVersion.value++; go(href.record(r)) }, err => setProblem(refusalWords(err)))
      }}>
        <FieldList device={device} def={def} fields={formFields(device, def, true)} state={state} values={values} doc={null} creating writable={whyNot === null}
          onChange={(f, val) => setValues(p => ({ ...p, [f]: val }))} />
        <div class="actions"><button type="submit" disabled={whyNot !== null}>Create</button></div>
        {problem !== null && <p role="alert" class="error">{problem}</p>}
      </form>
    </main>
  )
}
