// A seeded adversarial fuzz of the record pipeline through a real server: random demo users, read-only
// ones included, send legitimate edits mixed with forbidden and crafted updates (Y types as values, stale
// bases, low / server / other users' client ids, list items in maps, embeds and formats in memo texts,
// foreign roots, unknown keys, huge strings, secured fields, forged notes, deletes of others' items),
// over raw /sync sockets and real y-websocket clients (some of them offline for a while), and writes of the
// secured account.revenue through its own document (/sync/account/<id>/revenue). After every step: no room
// failed, every legitimate edit is committed, the state equals the allowed projection of a simple model,
// nothing outside the layout is kept, a refused update within the layout changes nothing visible and keeps
// no refused value in any stored or broadcast byte (only placeholders, within the user's refused-bytes quota),
// one outside the layout or under a foreign client id leaves no trace at all, every client converges, the
// projected row equals the record (its secured column the field's document), and the record's size stays bounded.
// FUZZ_STEPS=<n> sets the length (default 300, about 10 s here); SEED=<n> replays the choices (the server's own
// client ids and socket timing vary, so not always the same interleaving); updates from a stale copy under a
// client id the record holds at higher clocks are sent too (their structs collide with the record's:
// colliding-clocks.test.ts); FUZZ_STRICT=1 requires a receipt for every
// refused update of a y-websocket client (otherwise waited for 3 s and warned about).

import { describe, expect, it } from 'vitest'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import type { WebsocketProvider } from 'y-websocket'
import type { AttributeDef, EntityDef } from '../../src/docs/catalog-types.ts'
import { addNote, clearField, deleteRecord, editNote, editText, MEMO_PREFIX, NOTE_KEYS, readRecord, setField, type RecordState } from '../../src/docs/record.ts'
import { META_KEYS } from '../../src/docs/system-fields.ts'
import type { FieldValue } from '../../src/docs/values.ts'
import { rowOf } from '../../src/projection/rows.ts'
import { fieldPermission, mayAccess } from '../../src/authz/decide.ts'
import { CloseCode, SyncStep } from '../../src/protocol/codes.ts'
import { encodeSyncUpdate } from '../../src/protocol/sync-messages.ts'
import { SERVER_CLIENT_RANGE, SERVER_PRINCIPAL } from '../../src/server/room.ts'
import { DEFAULT_LIMITS } from '../../src/server/quotas.ts'
import { fieldDocName, type DocName } from '../../src/ids.ts'
import type { TestServer } from '../helpers/server.ts'
import { until } from '../helpers/server.ts'
import { useCleanups } from '../helpers/cleanups.ts'
import { chance, int, pick, withSeed, word, type Gen } from '../helpers/seed.ts'
import { applyReceived, copyOf, edit, exactly, open, ownedBy, raw, startServer, type Raw } from './support.ts'

const cleanups = useCleanups()
const STEPS = Number(process.env.FUZZ_STEPS ?? 300)
const LOGINS = ['avery', 'alice', 'nina', 'carol', 'bob', 'dan', 'erin'] as const
type Login = typeof LOGINS[number]
const userOf = (login: string): string => `u-${login}`

/** Privileges of the demo users on the fuzzed records, as the README describes them (checked against the model at the start). */
const EXPECTED_ACCESS: Record<string, { read: Login[], write: Login[], appendTo: Login[] }> = {
  'account/u-alice': { read: ['avery', 'alice', 'nina', 'bob', 'dan', 'erin'], write: ['avery', 'alice', 'bob'], appendTo: ['avery', 'alice', 'bob', 'dan'] },
  'account/u-carol': { read: ['avery', 'carol', 'bob', 'dan', 'erin'], write: ['avery', 'carol', 'bob'], appendTo: ['avery', 'carol', 'bob', 'dan'] },
  'contact/u-nina': { read: ['avery', 'alice', 'nina', 'bob', 'dan', 'erin'], write: ['avery', 'nina', 'bob'], appendTo: ['avery', 'nina', 'bob', 'dan'] }
}

/** Fields decided by a strategy other than the default later-edit-wins. */
const STRATEGIES = { 'account.name': 'yjs', 'account.telephone1': 'server-wins', 'contact.fullname': 'device-wins', 'contact.emailaddress1': 'yjs' }

interface Client { login: Login, doc: Y.Doc, p: WebsocketProvider, offline: boolean }
const STRICT = process.env.FUZZ_STRICT === '1'
/** The server's default MAX_REFUSED_BYTES_PER_RECORD (the fuzz runs with it). */
const REFUSED_BYTES_LIMIT = DEFAULT_LIMITS.refusedBytesPerRecord
const holdsMore = (doc: Y.Doc, server: Y.Doc): boolean => [...Y.decodeStateVector(Y.encodeStateVector(doc))].some(([c, clock]) => clock > Y.getState(server.store, c))

interface Rec {
  name: DocName
  entity: EntityDef
  readers: Login[]
  writers: Set<Login>
  appenders: Set<Login>
  watcher: { doc: Y.Doc, p: WebsocketProvider }
  /** a raw socket of avery's that keeps every byte the server broadcasts for the record */
  spy: Raw
  /** the document of the record's secured revenue (accounts) */
  revenue?: DocName
  clients: Client[]
  /** older states of the record, for edits made on a stale copy */
  snapshots: Uint8Array[]
  serverClient: number
  /** steps whose update was integrated (their history may stay in the document) */
  integrated: number
}

/** What the model expects of a step. */
type Expect =
  /** allowed as a whole: the record equals the state before plus the update */
  | { kind: 'exact' }
  /** nothing visible changes (every change refused and compensated); with `noTrace` (outside the layout, a
   * foreign client id, past a quota) nothing at all: no row, binding or byte */
  | { kind: 'refused', noTrace?: boolean }
  /** partly allowed, or not predictable exactly (a stale base): every value is the one before, the merged one or
   * the sender's; `landed` fields must hold their new value, `kept` paths their old one */
  | { kind: 'loose', landed?: Record<string, FieldValue>, kept?: string[], mayClear?: string[] }

interface Plan {
  what: string
  make: (d: Y.Doc) => void
  expect: Expect
  mixed?: boolean
  values?: Record<string, FieldValue>
  /** content outside the layout: refused without a trace */
  outside?: boolean
  /** refused values of a partly refused update (strings no stored or broadcast byte may hold) */
  secrets?: string[]
  /** refused with no receipt (it changes nothing a user sees: stamps alone) */
  silent?: boolean
}

/** A record state as path -> value (`meta.k`, `fields.k`, `texts.k`, `notes.<id>`). */
const flat = (s: RecordState): Map<string, unknown> => {
  const m = new Map<string, unknown>()
  for (const [k, v] of Object.entries(s.meta)) m.set(`meta.${k}`, v)
  for (const [k, v] of Object.entries(s.fields)) m.set(`fields.${k}`, v)
  for (const [k, v] of Object.entries(s.texts)) m.set(`texts.${k}`, v)
  for (const [k, v] of Object.entries(s.notes)) m.set(`notes.${k}`, v)
  return m
}

/** Where two exact contents differ (for messages). */
const changedPaths = (a: unknown, b: unknown, path = ''): string[] => {
  if (isDeepStrictEqual(a, b)) return []
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return [`${path}: ${JSON.stringify(a)?.slice(0, 120)} -> ${JSON.stringify(b)?.slice(0, 120)}`]
  const keys = new Set([...Object.keys(a), ...Object.keys(b)])
  return [...keys].flatMap(k => changedPaths((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`))
}

/** The state of the record document `base` with `update` integrated, authorization aside. */
const merged = (base: Y.Doc, update: Uint8Array, entity: EntityDef): RecordState => {
  const d = new Y.Doc()
  Y.applyUpdate(d, Y.encodeStateAsUpdate(base))
  Y.applyUpdate(d, update)
  const s = readRecord(d, entity)
  d.destroy()
  return s
}

/** The size of a fresh document holding just `s`. */
const freshSize = (s: RecordState): number => {
  const d = new Y.Doc()
  d.transact(() => {
    for (const [k, v] of Object.entries(s.meta)) d.getMap('meta').set(k, v as FieldValue)
    for (const [k, v] of Object.entries(s.fields)) d.getMap('fields').set(k, v)
    for (const [k, v] of Object.entries(s.texts)) d.getText(MEMO_PREFIX + k).insert(0, v)
    for (const [id, n] of Object.entries(s.notes)) {
      const m = new Y.Map<string>()
      d.getMap('notes').set(id, m)
      for (const [k, v] of Object.entries(n)) m.set(k, v)
    }
  })
  const size = Y.encodeStateAsUpdate(d).length
  d.destroy()
  return size
}

/** Content outside the record layout in a document's exact content, or null. */
const outsideLayout = (content: Record<string, unknown>, entity: EntityDef): string | null => {
  const memos = new Set(entity.attributes.filter(a => a.type === 'memo').map(a => MEMO_PREFIX + a.name))
  const scalars = new Set(entity.attributes.filter(a => a.type !== 'memo').map(a => a.name))
  const isScalar = (v: unknown): boolean => typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))
  for (const [root, c] of Object.entries(content) as [string, { map?: Record<string, unknown>, list?: unknown }][]) {
    if (memos.has(root)) {
      if (c.map !== undefined || typeof c.list !== 'string') return `${root} holds more than plain text: ${JSON.stringify(c).slice(0, 200)}`
      continue
    }
    if (root === 'clocks') {
      if (c.list !== undefined) return 'list items in clocks'
      for (const [k, v] of Object.entries(c.map ?? {})) if (!scalars.has(k) || typeof v !== 'string') return `clocks.${k} = ${JSON.stringify(v)}`
      continue
    }
    if (root !== 'meta' && root !== 'fields' && root !== 'notes') return `foreign root ${root}`
    if (c.list !== undefined) return `list items in ${root}`
    for (const [k, v] of Object.entries(c.map ?? {})) {
      if (root === 'meta' && (!(META_KEYS as readonly string[]).includes(k) || !isScalar(v))) return `meta.${k} = ${JSON.stringify(v)}`
      if (root === 'fields' && (!scalars.has(k) || !isScalar(v))) return `fields.${k} = ${JSON.stringify(v)}`
      if (root === 'notes') {
        const note = v as { map?: Record<string, unknown>, list?: unknown }
        if (typeof v !== 'object' || v === null || note.list !== undefined) return `notes.${k} is not a note map`
        for (const [nk, nv] of Object.entries(note.map ?? {})) {
          if (!(NOTE_KEYS as readonly string[]).includes(nk) || typeof nv !== 'string') return `notes.${k}.${nk} = ${JSON.stringify(nv)}`
        }
      }
    }
  }
  return null
}

/** A value that fits `a` (never tripping the demo's business rules). */
const goodValue = (gen: Gen, a: AttributeDef): FieldValue => {
  switch (a.type) {
    case 'text': {
      if (a.name === 'websiteurl') return `https://${word(gen, 1, 8).replace(/\W/g, 'x')}.example`
      const chars = [...word(gen, 1, 24)]
      while (chars.join('').length > (a.maxLength ?? 200)) chars.pop()
      return chars.length > 0 ? chars.join('') : 'x'
    }
    case 'whole': return int(gen, Math.max(a.min ?? 0, 0), Math.min(a.max ?? 1000, 1000))
    case 'decimal': case 'money': return int(gen, 0, 900_000) / 100
    case 'boolean': return chance(gen, 0.5)
    case 'date': return `2026-0${int(gen, 1, 9)}-1${int(gen, 0, 9)}`
    case 'datetime': return `2026-0${int(gen, 1, 9)}-1${int(gen, 0, 9)}T10:00:00Z`
    case 'optionset': return pick(gen, a.options ?? []).value
    default: throw new Error(`no value for ${a.type}`)
  }
}

/** A value that does not fit `a` (but is a scalar, so only the decision refuses it). */
const badValue = (gen: Gen, a: AttributeDef): FieldValue => {
  switch (a.type) {
    case 'text': return 'y'.repeat((a.maxLength ?? 200) + int(gen, 1, 50))
    case 'whole': return chance(gen, 0.5) ? 1.5 : (a.max ?? 0) + 1
    case 'optionset': return 999
    case 'boolean': return 'yes'
    case 'date': return '2026-02-30'
    default: return 'not a number'
  }
}

describe('adversarial fuzz of the record pipeline', () => {
  it('keeps every room alive, commits every legitimate edit and nothing else, within the layout and a size bound', async () => {
    await withSeed(async gen => {
      // Every conflict strategy decides some field (README, "Conflicts"), so crafted stamps meet each of them.
      const dir = mkdtempSync(join(tmpdir(), 'fieldsync-fuzz-'))
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
      writeFileSync(join(dir, 'metadata.json'), JSON.stringify({ ...JSON.parse(readFileSync('config/metadata.json', 'utf8')) as object, conflicts: { attributes: STRATEGIES } }))
      const s = await startServer(cleanups, { REFUSED_UPDATES_BURST: '100000', REFUSED_UPDATES_PER_SECOND: '100000', MAX_RECEIPTS_PER_RECORD: '100000', METADATA: join(dir, 'metadata.json') })
      const recs = await setUp(s)
      const sockets = new Map<string, { r: Raw, login: Login }>()
      const socket = async (rec: Rec, login: Login): Promise<Raw> => {
        const key = `${login}|${rec.name}`
        let got = sockets.get(key)
        if (got === undefined) { got = { r: await raw(cleanups, s, rec.name, login), login }; sockets.set(key, got) }
        return got.r
      }
      // Note times: increasing, within the server's bounds (30 days back, 5 minutes ahead).
      let clock = Date.now() - 10 * 60_000
      const at = (): string => new Date(clock += 7).toISOString()
      const log: string[] = []
      for (let step = 0; step < STEPS; step++) {
        const rec = pick(gen, recs)
        const room = s.server.rooms.get(rec.name)
        await room.settled()
        if (chance(gen, 0.15)) rec.snapshots.push(Y.encodeStateAsUpdate(room.doc))
        const ctx: StepContext = { s, rec, gen, at, step }
        let what = ''
        try {
          const online = rec.clients.filter(c => !c.offline)
          const back = rec.clients.find(c => c.offline && chance(gen, 0.3))
          if (rec.revenue !== undefined && chance(gen, 0.06)) {
            const login = pick(gen, rec.readers)
            what = `${login} writes revenue through its own document`
            log.push(`${step} ${rec.name}: ${what}`)
            await revenueStep(ctx, login)
          } else if (back !== undefined) {
            what = `${back.login} comes back online`
            log.push(`${step} ${rec.name}: ${what}`)
            await reconnect(ctx, back)
          } else if (online.length > 0 && chance(gen, 0.25)) {
            const c = pick(gen, online)
            if (chance(gen, 0.15)) {
              what = `${c.login} goes offline and edits`
              log.push(`${step} ${rec.name}: ${what}`)
              await goOffline(ctx, c)
            } else {
              const plan = providerPlan(ctx, c.login)
              what = `${c.login} (y-websocket): ${plan.what}`
              log.push(`${step} ${rec.name}: ${what}`)
              await providerStep(ctx, c, plan)
            }
          } else {
            const login = pick(gen, rec.readers)
            const r = await socket(rec, login)
            const plan = rawPlan(ctx, login)
            what = `${login}: ${plan.what}`
            if (await rawStep(ctx, r, login, plan, w => { what += w; log.push(`${step} ${rec.name}: ${what}`) }) === 'closed') sockets.delete(`${login}|${rec.name}`)
          }
          await checkAll(ctx, recs)
        } catch (e) {
          const err = e as Error
          err.message = `step ${step} (${rec.name}, ${what}): ${err.message}\nlast steps:\n${log.slice(-8).join('\n')}`
          throw err
        }
      }
    })
  }, 120_000)
})

interface StepContext { s: TestServer, rec: Rec, gen: Gen, at: () => string, step: number }

const setUp = async (s: TestServer): Promise<Rec[]> => {
  const recs: Rec[] = []
  for (const [key, access] of Object.entries(EXPECTED_ACCESS)) {
    const [entityName, owner] = key.split('/')
    const name = ownedBy(s, entityName, owner)
    const room = s.server.rooms.get(name)
    await room.ready
    const o = room.ownership()!
    // The model's table must be what the security model says (a drift in either would make the fuzz unsound).
    for (const login of LOGINS) {
      for (const p of ['read', 'write', 'appendTo'] as const) {
        expect(mayAccess(s.security.index, userOf(login), p, entityName, o).allowed, `${login} ${p} ${key}`).toBe(access[p].includes(login))
      }
    }
    const watcher = await open(cleanups, s, name, 'avery')
    const clients: Client[] = []
    for (const login of [owner.slice(2) as Login, 'bob', 'erin'] as const) {
      const { doc, p } = await open(cleanups, s, name, login)
      clients.push({ login, doc, p, offline: false })
    }
    const spy = await raw(cleanups, s, name, 'avery', '')
    const revenue = entityName === 'account' ? fieldDocName(name, 'revenue') : undefined
    if (revenue !== undefined) await s.server.rooms.get(revenue).ready
    recs.push({
      name, entity: room.entity, readers: access.read, writers: new Set(access.write), appenders: new Set(access.appendTo),
      watcher, spy, revenue, clients, snapshots: [], serverClient: room.doc.clientID, integrated: 0
    })
  }
  for (const login of LOGINS) {
    const p = fieldPermission(s.security.index, userOf(login), 'account', 'revenue')
    expect(p.update, `${login} updates revenue`).toBe(mayRevenue(login))
    expect(p.read, `${login} reads revenue`).toBe(mayRevenue(login))
  }
  return recs
}

const scalarAttrs = (e: EntityDef): AttributeDef[] => e.attributes.filter(a => a.type !== 'memo' && a.type !== 'lookup')
const memoAttr = (e: EntityDef): string => e.attributes.find(a => a.type === 'memo')!.name
const mayRevenue = (login: Login): boolean => login === 'avery' || login === 'bob'

/** 1-3 fields `login` may set, with values that fit. */
const goodFields = (ctx: StepContext, login: Login): Record<string, FieldValue> => {
  const out: Record<string, FieldValue> = {}
  // (Never the secured revenue: it is not part of the record's document, whoever writes it there.)
  const attrs = scalarAttrs(ctx.rec.entity).filter(a => a.name !== 'revenue')
  for (let i = int(ctx.gen, 1, 3); i > 0; i--) {
    const a = pick(ctx.gen, attrs)
    out[a.name] = goodValue(ctx.gen, a)
  }
  return out
}

const setAll = (d: Y.Doc, ctx: StepContext, values: Record<string, FieldValue>, by: string): void => {
  d.transact(() => { for (const [k, v] of Object.entries(values)) setField(d, ctx.rec.entity, k, v, { by, at: ctx.at() }) })
}

/** One random update for a raw socket: legitimate, forbidden, crafted or mixed. */
const rawPlan = (ctx: StepContext, login: Login): Plan => {
  const { gen, rec } = ctx
  const e = rec.entity
  const user = userOf(login)
  const writer = rec.writers.has(login)
  const appender = rec.appenders.has(login)
  const state = readRecord(ctx.s.server.rooms.get(rec.name).doc, e)
  const memo = memoAttr(e)
  const notes = Object.entries(state.notes)
  const own = notes.filter(([, n]) => n.createdby === user)
  const others = notes.filter(([, n]) => n.createdby !== user)
  const attrs = scalarAttrs(e)
  const noteId = `n${ctx.step}x${int(gen, 0, 999)}`
  const kinds: (() => Plan)[] = [
    () => {
      const values = goodFields(ctx, login)
      return { what: `sets ${Object.keys(values).join(', ')}`, make: d => setAll(d, ctx, values, user), expect: writer ? { kind: 'exact' } : { kind: 'refused' } }
    },
    () => {
      const present = Object.keys(state.fields).filter(k => k !== 'revenue' || mayRevenue(login))
      if (present.length === 0) return kinds[0]()
      const k = pick(gen, present)
      return { what: `clears ${k}`, make: d => clearField(d, e, k, { by: user, at: ctx.at() }), expect: writer ? { kind: 'exact' } : { kind: 'refused' } }
    },
    () => {
      const len = (state.texts[memo] ?? '').length
      const index = int(gen, 0, len)
      const del = int(gen, 0, Math.min(len - index, 5))
      const insert = word(gen, 1, 10)
      return { what: `edits ${memo} at ${index} (-${del} +${insert.length})`, make: d => editText(d, e, memo, index, del, insert, { by: user, at: ctx.at() }), expect: writer ? { kind: 'exact' } : { kind: 'refused' } }
    },
    () => ({ what: 'adds a note', make: d => addNote(d, e, noteId, { subject: word(gen, 1, 10), text: word(gen, 0, 30) }, { by: user, at: ctx.at() }), expect: appender ? { kind: 'exact' } : { kind: 'refused' } }),
    () => {
      if (own.length === 0) return kinds[3]()
      const [id] = pick(gen, own)
      return chance(gen, 0.5)
        ? { what: `edits own note ${id}`, make: d => editNote(d, e, id, { text: word(gen, 1, 20) }, { by: user, at: ctx.at() }), expect: { kind: 'exact' } }
        : { what: `removes own note ${id}`, make: d => d.transact(() => { d.getMap('notes').delete(id) }), expect: { kind: 'exact' } }
    },
    () => {
      if (others.length === 0) return kinds[3]()
      const [id] = pick(gen, others)
      const expect: Expect = login === 'avery' ? { kind: 'exact' } : !writer ? { kind: 'refused' } : { kind: 'loose' }
      return chance(gen, 0.5)
        ? { what: `edits another user's note ${id}`, make: d => editNote(d, e, id, { subject: word(gen, 1, 8) }, { by: user, at: ctx.at() }), expect }
        : { what: `removes another user's note ${id}`, make: d => d.getMap('notes').delete(id), expect }
    },
    // Forbidden for everyone.
    () => {
      const k = pick(gen, ['createdby', 'createdon', 'statecode', 'entity', 'id', 'owningbusinessunit', 'ownerid'])
      const v: FieldValue = k === 'statecode' ? 1 : k === 'ownerid' ? pick(gen, ['systemuser/u-carol/x', 'systemuser/nobody', ' systemuser/u-erin', 'team/']) : k === 'createdon' ? '2020-01-01T00:00:00Z' : 'u-erin'
      return { what: `sets meta.${k}`, make: d => d.transact(() => { d.getMap('meta').set(k, v); d.getMap('meta').set('modifiedby', user) }), expect: { kind: 'refused' } }
    },
    () => {
      const a = pick(gen, attrs.filter(x => x.name !== 'revenue'))
      return { what: `sets ${a.name} to a value that does not fit`, make: d => d.getMap('fields').set(a.name, badValue(gen, a)), expect: { kind: 'refused' } }
    },
    () => {
      const a = pick(gen, attrs.filter(x => x.type === 'text'))
      const n = int(gen, 100_000, 300_000)
      return { what: `sets ${a.name} to a ${n}-character string`, make: d => d.getMap('fields').set(a.name, 'h'.repeat(n)), expect: { kind: 'refused' } }
    },
    () => ({ what: 'inserts 100,001+ characters into the memo', make: d => d.getText(MEMO_PREFIX + memo).insert(0, 'm'.repeat(100_001 + int(gen, 0, 1000))), expect: { kind: 'refused' } }),
    () => {
      const forge = pick(gen, ['another author', 'backdated', 'future'])
      const by = forge === 'another author' ? pick(gen, ['u-alice', 'u-avery', 'u-nina'].filter(u => u !== user)) : user
      const when = forge === 'backdated' ? new Date(Date.now() - 60 * 86_400_000).toISOString() : forge === 'future' ? new Date(Date.now() + 3_600_000).toISOString() : ctx.at()
      return { what: `adds a note by ${forge}`, make: d => addNote(d, e, noteId, { subject: 'forged', text: 'x' }, { by, at: when }), expect: { kind: 'refused' } }
    },
    () => {
      if (notes.length === 0) return kinds[10]()
      const [id] = pick(gen, notes)
      return pick(gen, [
        { what: `rewrites createdby of note ${id}`, make: (d: Y.Doc) => d.transact(() => { editNote(d, e, id, { subject: 'mine now' }, { by: user, at: ctx.at() }); (d.getMap('notes').get(id) as Y.Map<string>).set('createdby', 'u-erin') }), expect: { kind: 'refused' } as Expect },
        { what: `edits note ${id} without a stamp`, make: (d: Y.Doc) => (d.getMap('notes').get(id) as Y.Map<string>).set('text', `unstamped ${ctx.step}`), expect: { kind: 'refused' } as Expect }
      ])
    },
    // (Writers may delete: the fuzz keeps its records alive.)
    () => writer ? kinds[0]() : { what: 'deletes the record', make: d => deleteRecord(d, e, { by: user, at: ctx.at() }), expect: { kind: 'refused' } },
    // A secured field in the record's document: dropped (field-secured) whoever writes it, Finance included.
    () => {
      if (e.name !== 'account') return kinds[7]()
      return { what: 'sets the secured revenue in the record', make: d => setField(d, e, 'revenue', int(gen, 1, 9_000_000), { by: user, at: ctx.at() }), expect: { kind: 'refused' } }
    },
    // Outside the layout: refused whole whoever sends it, even with an allowed change riding along.
    () => {
      const attack = pick(gen, LAYOUT_ATTACKS)
      const ride = chance(gen, 0.5) && writer
      const values = goodFields(ctx, login)
      return {
        what: `${attack.what}${ride ? ` (with ${Object.keys(values).join(', ')})` : ''}`,
        // (The riding change comes first and sets fields only, so that the attack is not overwritten by it.)
        make: d => d.transact(() => { if (ride && !attack.what.startsWith('a list item')) for (const [k, v] of Object.entries(values)) d.getMap('fields').set(k, v); attack.make(d, e, memo, notes.map(([id]) => id), gen) }),
        expect: { kind: 'refused', noTrace: true },
        outside: true
      }
    },
    // Mixed: an allowed change with a refused one.
    () => {
      if (!writer) return kinds[0]()
      const values = goodFields(ctx, login)
      const other = pick(gen, attrs.filter(a => !(a.name in values) && a.name !== 'revenue'))
      const refused = pick(gen, [
        ...(e.name === 'account' ? [{ what: 'the secured revenue', path: 'fields.revenue', make: (d: Y.Doc) => d.getMap('fields').set('revenue', int(gen, 1, 9_000_000)) }] : []),
        { what: `a bad ${other.name}`, path: `fields.${other.name}`, make: (d: Y.Doc) => d.getMap('fields').set(other.name, badValue(gen, other)) },
        ...(other.type === 'text' ? [{ what: `a huge ${other.name}`, path: `fields.${other.name}`, secret: `huge${ctx.step}:hhhh`, make: (d: Y.Doc) => d.getMap('fields').set(other.name, `huge${ctx.step}:${'h'.repeat(int(gen, 100_000, 300_000))}`) }] : []),
        { what: 'a forged modifiedby', path: 'meta.modifiedby', make: (d: Y.Doc) => d.getMap('meta').set('modifiedby', 'u-erin') },
        { what: 'meta.createdby', path: 'meta.createdby', make: (d: Y.Doc) => d.getMap('meta').set('createdby', 'u-erin') }
      ])
      return {
        what: `sets ${Object.keys(values).join(', ')} with ${refused.what}`,
        make: d => d.transact(() => { setAll(d, ctx, values, user); refused.make(d) }),
        expect: { kind: 'loose', landed: values, kept: [refused.path] },
        mixed: true,
        secrets: 'secret' in refused && refused.secret !== undefined ? [refused.secret] : undefined
      }
    }
  ]
  kinds.push(
    // Crafted stamps (README, "Conflicts"): with a write, alone, or deleted. A writer's value may lose to the
    // record's (a stamp that did not see it); a non-writer changes nothing, stamps included.
    () => {
      const a = pick(gen, attrs.filter(x => x.name !== 'revenue'))
      let value = goodValue(gen, a)
      for (let i = 0; i < 5 && value === state.fields[a.name]; i++) value = goodValue(gen, a)
      const stamp = pick(gen, STAMP_ATTACKS)
      // (The value it holds already changes nothing: no receipt then.)
      return { what: `sets ${a.name} with ${stamp.what}`, make: d => d.transact(() => { d.getMap('fields').set(a.name, value); d.getMap('clocks').set(a.name, stamp.make(d, a.name, gen)) }), expect: writer ? { kind: 'loose' } : { kind: 'refused' }, silent: value === state.fields[a.name] }
    },
    () => {
      const a = pick(gen, attrs)
      const stamp = pick(gen, STAMP_ATTACKS)
      // (A stamp of the writer's own with no write is a clear: README, "Conflicts".)
      // (Nothing to show for it: a user who may not write is not told, as for any update that changes nothing.)
      return { what: `stamps ${a.name} alone with ${stamp.what}`, make: d => d.getMap('clocks').set(a.name, stamp.make(d, a.name, gen)), expect: writer ? { kind: 'loose', mayClear: [`fields.${a.name}`] } : { kind: 'refused' }, silent: true }
    },
    () => {
      const stamped = Object.keys(ctx.s.server.rooms.get(rec.name).doc.getMap('clocks').toJSON())
      if (stamped.length === 0) return kinds[0]()
      const k = pick(gen, stamped)
      return { what: `deletes the stamp of ${k}`, make: d => d.getMap('clocks').delete(k), expect: writer ? { kind: 'loose' } : { kind: 'refused' }, silent: true }
    },
    () => {
      const seen = pick(gen, ['not json', '{}', '[1,2]', JSON.stringify({ [pick(gen, attrs).name]: `${Date.now()}:0:1` }), '{'.repeat(5000), JSON.stringify({ x: 'y'.repeat(20_000) })])
      return writer
        ? { what: 'sets meta.deletedseen', make: d => d.getMap('meta').set('deletedseen', seen), expect: { kind: 'refused' } }
        : { what: 'deletes the record with a forged deletedseen', make: d => d.transact(() => { deleteRecord(d, e, { by: user, at: ctx.at() }); d.getMap('meta').set('deletedseen', seen) }), expect: { kind: 'refused' } }
    }
  )
  // Legitimate edits often, each attack now and then.
  return kinds[pick(gen, [0, 0, 0, 1, 2, 2, 3, 3, 4, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 14, 14, 15, 15, 15, 16, 16, 17, 18, 19])]()
}

const LAYOUT_ATTACKS: { what: string, make: (d: Y.Doc, e: EntityDef, memo: string, notes: string[], gen: Gen) => void }[] = [
  { what: 'a Y.Map as a field value', make: (d, e, _m, _n, gen) => d.getMap('fields').set(pick(gen, scalarAttrs(e)).name, new Y.Map() as never) },
  { what: 'a Y.Array as a field value', make: (d, e, _m, _n, gen) => d.getMap('fields').set(pick(gen, scalarAttrs(e)).name, Y.Array.from([1, 2]) as never) },
  { what: 'a Y.Text as a field value', make: (d, e, _m, _n, gen) => d.getMap('fields').set(pick(gen, scalarAttrs(e)).name, new Y.Text('t') as never) },
  { what: 'a Y.Map in meta', make: d => d.getMap('meta').set('modifiedon', new Y.Map() as never) },
  { what: 'a Y.Text as a note', make: d => d.getMap('notes').set('n-text', new Y.Text('x') as never) },
  { what: 'a nested map in a note', make: (d, _e, _m, notes, gen) => {
    const id = notes.length > 0 && chance(gen, 0.5) ? pick(gen, notes) : null
    const note = id !== null ? d.getMap('notes').get(id) as Y.Map<unknown> : d.getMap('notes').set('n-nested', new Y.Map())
    note.set('text', new Y.Map())
  } },
  { what: 'an object as a field value', make: d => d.getMap('fields').set('name', { evil: true } as never) },
  { what: 'a list item in fields', make: d => d.getArray('fields').insert(0, ['loose']) },
  { what: 'a list item in meta', make: d => d.getArray('meta').insert(0, [1]) },
  { what: 'a list item in notes', make: d => d.getArray('notes').insert(0, ['note?']) },
  { what: 'an embed in the memo', make: (d, _e, memo) => d.getText(MEMO_PREFIX + memo).insertEmbed(0, { image: 'x' }) },
  { what: 'a formatted insert in the memo', make: (d, _e, memo) => d.getText(MEMO_PREFIX + memo).insert(0, 'bold', { bold: true }) },
  { what: 'formatting of the memo', make: (d, _e, memo) => { const t = d.getText(MEMO_PREFIX + memo); if (t.length === 0) t.insert(0, 'abc'); t.format(0, 1, { italic: true }) } },
  { what: 'a foreign root map', make: d => d.getMap('evil').set('x', 1) },
  { what: 'a foreign root text', make: d => d.getText('memo:nosuchmemo').insert(0, 'hi') },
  { what: 'a foreign root array', make: d => d.getArray('list').insert(0, ['x'.repeat(1000)]) },
  { what: 'an unknown field key', make: d => d.getMap('fields').set('nosuchfield', 1) },
  { what: 'an unknown meta key', make: d => d.getMap('meta').set('sneaky', 'x') },
  { what: 'an unknown note key', make: (d, _e, _m, notes, gen) => {
    const id = notes.length > 0 ? pick(gen, notes) : null
    const note = id !== null ? d.getMap('notes').get(id) as Y.Map<unknown> : d.getMap('notes').set('n-key', new Y.Map())
    note.set('script', 'x')
  } },
  { what: 'many unknown field keys', make: d => { for (let i = 0; i < 500; i++) d.getMap('fields').set(`junk${i}`, 'x'.repeat(50)) } }
]

/** Stamps an attacker writes into `clocks` (the writer's own id is the document's client id). */
const STAMP_ATTACKS: { what: string, make: (d: Y.Doc, field: string, gen: Gen) => string }[] = [
  { what: 'a well-formed stamp of its own', make: d => `${Date.now()}:0:${d.clientID}` },
  { what: 'an old stamp that saw nothing', make: d => `${Date.now() - 86_400_000}:0:${d.clientID}` },
  { what: 'a stamp from the far future', make: d => `999999999999999:65535:${d.clientID}` },
  { what: 'a stamp claiming the record\'s current one as seen', make: (d, f) => `${Date.now()}:0:${d.clientID} ${String(d.getMap('clocks').get(f) ?? '1:0:1').split(' ')[0]}` },
  { what: 'a stamp claiming a later one as seen', make: d => `${Date.now() - 1000}:0:${d.clientID} 999999999999999:0:1` },
  { what: 'another writer\'s stamp', make: (d, f, gen) => String(d.getMap('clocks').get(f) ?? `${Date.now()}:0:1`).split(' ')[0].replace(/:\d+$/, `:${int(gen, 1, 0xffffffff)}`) },
  { what: 'a stamp that does not parse', make: (_d, _f, gen) => pick(gen, ['', '1:2', 'a:b:c', '1:2:3 4', '1:99999:3', '-1:0:1', '1:0:99999999999']) },
  { what: 'a huge stamp', make: (_d, _f, gen) => 's'.repeat(int(gen, 100, 20_000)) }
]
/** Which client id a raw update is written under: the attacker's vocabulary of ids. */
const chooseClient = async (ctx: StepContext, login: Login): Promise<{ client: number, how: string }> => {
  const { gen, s, rec } = ctx
  const room = s.server.rooms.get(rec.name)
  const bindings = (await s.storage.load(rec.name)).bindings
  const user = userOf(login)
  const foreign = bindings.filter(b => b.principal !== user)
  // (Not the ids of this user's y-websocket clients: another writer under its id makes Yjs give it a new one, and
  // y-websocket's presence then breaks on destroy.)
  const own = bindings.filter(b => b.principal === user && !rec.clients.some(c => c.doc.clientID === b.client))
  const inDoc = [...room.doc.store.clients.keys()].filter(c => !bindings.some(b => b.client === c) && c !== room.doc.clientID)
  const r = int(gen, 0, 99)
  if (r < 10) return { client: room.doc.clientID, how: 'the server\'s client id' }
  if (r < 20 && foreign.length > 0) { const b = pick(gen, foreign); return { client: b.client, how: `${b.principal}'s client id ${b.client}` } }
  if (r < 30) {
    let c: number
    do c = int(gen, 1, r < 25 ? 1000 : SERVER_CLIENT_RANGE - 1)
    while (bindings.some(b => b.client === c) || c === room.doc.clientID || Y.getState(room.doc.store, c) > 0)
    return { client: c, how: `low client id ${c}` }
  }
  if (r < 36 && own.length > 0) { const b = pick(gen, own); return { client: b.client, how: `own client id ${b.client}` } }
  if (r < 40 && inDoc.length > 0) { const c = pick(gen, inDoc); return { client: c, how: `unbound client id ${c} already in the record` } }
  return { client: int(gen, SERVER_CLIENT_RANGE * 2, 0xfffffff0), how: 'a fresh client id' }
}

/** Sends a raw update, waits until the server answered the sender (a sync reply queued behind it), checks the step. */
const rawStep = async (ctx: StepContext, r: Raw, login: Login, plan: Plan, note: (more: string) => void, mayBeStale = true): Promise<'open' | 'closed'> => {
  const { s, rec, gen } = ctx
  const room = s.server.rooms.get(rec.name)
  const stale = mayBeStale && rec.snapshots.length > 0 && chance(gen, 0.2)
  const { client, how } = await chooseClient(ctx, login)
  let mine: Y.Doc
  if (stale) {
    mine = new Y.Doc()
    Y.applyUpdate(mine, pick(gen, rec.snapshots))
    mine.clientID = client
  } else {
    mine = copyOf(s, rec.name, client)
  }
  note(` on ${stale ? 'a stale' : 'the current'} copy under ${how}`)
  let update: Uint8Array
  try {
    update = edit(mine, plan.make)
  } catch (e) {
    // The plan was made for the current state (a note or text range the stale copy lacks): edit the current one.
    if (!stale) throw e
    mine.destroy()
    return rawStep(ctx, r, login, plan, () => {}, false)
  }
  const structClients = [...new Set(Y.decodeUpdate(update).structs.map(x => x.id.client))]
  const bindings = new Map((await s.storage.load(rec.name)).bindings.map(b => [b.client, b.principal]))
  bindings.set(room.doc.clientID, SERVER_PRINCIPAL)
  const foreign = structClients.some(c => (bindings.get(c) ?? userOf(login)) !== userOf(login))
  let expect_: Expect = foreign ? { kind: 'refused', noTrace: true } : plan.expect
  // Content outside the layout in a note a stale copy still has and the record removed since is no content
  // (it lands deleted, collected at once): the update is then within the layout and decided as any other,
  // a riding allowed change landing (SEED=23, 32).
  if (stale && !foreign && plan.outside === true) expect_ = { kind: 'loose' }
  // A stale base: concurrent with what happened since, so only the loose model holds for what may land.
  if (stale && expect_.kind !== 'refused') expect_ = { kind: 'loose', kept: expect_.kind === 'loose' ? expect_.kept : undefined, mayClear: expect_.kind === 'loose' ? expect_.mayClear : undefined }
  // A client id the record already holds, from a stale copy: the copy's clocks collide with the record's, Yjs skips
  // the structs it holds already and only the rest (a delete set, say) takes effect: decided as what it is.
  const collides = stale && structClients.some(c => Y.getState(room.doc.store, c) > 0)
  // Such updates once put content outside the layout (colliding-clocks.test.ts: the layout check now judges
  // where Yjs puts the rest, a range across the record's clock is refused, and structs the record holds
  // already are never taken for the update's own: SEED=11, step 258, once left fields.fullname undefined).
  if (collides && !foreign) expect_ = { kind: 'loose', mayClear: plan.expect.kind === 'loose' ? plan.expect.mayClear : undefined }
  const pre = await snapshot(ctx)
  // (An allowed update that changes nothing but its stamps, a value set to what it was, is a touch: exact too.)
  const expected = merged(pre.doc, update, rec.entity)
  const by: By = { login, clients: structClients, secrets: expect_.kind === 'refused' ? stringsOf(update) : collides ? [] : plan.secrets }
  const receiptsBefore = r.receipts().length
  const from = r.messages.length
  r.update(update)
  r.ws.send(encodeSyncUpdate(SyncStep.step1, Y.encodeStateVector(mine)))
  const replied = (): boolean => r.messages.slice(from).some(m => m[0] === 0 && m[1] === SyncStep.step2)
  await until(() => replied() || r.ws.readyState >= 2, 'the sender\'s sync reply')
  if (!replied()) {
    const closed = await r.closed
    // Colliding ids can make an update inconsistent with the record (a parent that is no type there): malformed.
    // Past the user's refused-bytes quota an update with a refused part is dropped whole and the socket closes.
    const overQuota = closed.code === CloseCode.quotaExceeded && expect_.kind !== 'exact'
    if (!(collides && closed.code === CloseCode.malformed) && !overQuota) throw new Error(`the server closed ${login}'s socket: ${JSON.stringify(closed)}`)
    await room.settled()
    if (overQuota) {
      const usage = (await s.storage.load(rec.name)).usage.find(u => u.principal === userOf(login))
      expect((usage?.refusedBytes ?? 0) + 4096, `${login} closed for a quota it is far from: ${closed.reason}`).toBeGreaterThan(REFUSED_BYTES_LIMIT)
    }
    await checkStep(ctx, pre, { kind: 'refused', noTrace: true }, expected, () => pre.state, by)
    pre.doc.destroy()
    mine.destroy()
    return 'closed'
  }
  await room.settled()
  await checkStep(ctx, pre, expect_, expected, () => readRecord(mine, rec.entity), by)
  if (expect_.kind === 'refused' && !stale && plan.silent !== true) expect(r.receipts().length, 'a receipt for a refused update').toBeGreaterThan(receiptsBefore)
  // The sender converges with what it was sent (receipts, a revert, the echo of a compensation, the reply).
  if (!foreign && !collides) {
    applyReceived(mine, r.messages.slice(from))
    const missing = [...(mine.store.pendingStructs?.missing ?? [])]
    if (missing.length > 0) {
      const bindings = (await s.storage.load(rec.name)).bindings
      throw new Error(`the sender cannot integrate what it was sent: missing ${JSON.stringify(missing)}; the record has ${JSON.stringify(missing.map(([c]) => [c, Y.getState(room.doc.store, c), bindings.find(b => b.client === c)?.principal]))}; server id ${room.doc.clientID}`)
    }
    expect(exactly(mine), 'the sender converged').toEqual(exactly(room.doc))
  }
  pre.doc.destroy()
  mine.destroy()
  return 'open'
}

/** The string contents an update carries (field values, note texts, memo inserts, stamps). */
const stringsOf = (update: Uint8Array): string[] => Y.decodeUpdate(update).structs.flatMap(x => {
  if (!(x instanceof Y.Item)) return []
  if (x.content instanceof Y.ContentString) return [x.content.str]
  if (x.content instanceof Y.ContentAny) return x.content.getContent().filter((v): v is string => typeof v === 'string')
  return []
})

/** Who sent a step's update: the user, the Yjs client ids it wrote under, values that must not be kept. */
interface By { login: Login, clients: readonly number[], secrets?: readonly string[] }

interface Pre {
  doc: Y.Doc
  state: RecordState
  exact: Record<string, unknown>
  size: number
  rows: number
  /** the last stored row's seq */
  seq: number
  bound: Set<number>
  /** refused bytes counted per principal */
  usage: Map<string, number>
  /** how many messages the spy socket had */
  spied: number
}

const usageOf = (stored: { usage: readonly { principal: string, refusedBytes: number }[] }): Map<string, number> => new Map(stored.usage.map(u => [u.principal, u.refusedBytes]))
const lastSeq = (stored: { updates: readonly { seq: number }[] }): number => stored.updates.reduce((m, u) => Math.max(m, u.seq), 0)

const snapshot = async (ctx: StepContext): Promise<Pre> => {
  const room = ctx.s.server.rooms.get(ctx.rec.name)
  await room.settled()
  await spyBarrier(ctx.rec, room.doc)
  const doc = new Y.Doc()
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(room.doc))
  const stored = await ctx.s.storage.load(ctx.rec.name)
  return {
    doc, state: readRecord(room.doc, ctx.rec.entity), exact: exactly(room.doc), size: Y.encodeStateAsUpdate(room.doc).length,
    rows: stored.updates.length, seq: lastSeq(stored), bound: new Set(stored.bindings.map(b => b.client)), usage: usageOf(stored), spied: ctx.rec.spy.messages.length
  }
}

/** Everything the server broadcast for the record before now has reached the spy socket (a sync reply queued behind it). */
const spyBarrier = async (rec: Rec, doc: Y.Doc): Promise<void> => {
  const from = rec.spy.messages.length
  rec.spy.ws.send(encodeSyncUpdate(SyncStep.step1, Y.encodeStateVector(doc)))
  await until(() => rec.spy.messages.slice(from).some(m => m[0] === 0 && m[1] === SyncStep.step2), `${rec.name}: the spy's reply`)
}

/** The model: what the record must be after a step, given what it was, the merged state and the sender's own. */
const checkStep = async (ctx: StepContext, pre: Pre, expect_: Expect, mergedState: RecordState, sender: () => RecordState, by: By): Promise<void> => {
  const { s, rec } = ctx
  const room = s.server.rooms.get(rec.name)
  await spyBarrier(rec, room.doc)
  const after = readRecord(room.doc, rec.entity)
  const size = Y.encodeStateAsUpdate(room.doc).length
  const stored = await s.storage.load(rec.name)
  const user = userOf(by.login)
  const newRows = stored.updates.filter(u => u.seq > pre.seq)
  // No refused value in any byte stored or broadcast since the step began (what the record held before aside;
  // presence messages name users, so only sync messages count).
  const before = JSON.stringify(pre.exact)
  const secrets = [...new Set(by.secrets ?? [])].filter(x => x.length >= 6 && !before.includes(x))
  for (const [where, bytes] of [...newRows.map(u => ['a stored row', u.data] as const), ...rec.spy.messages.slice(pre.spied).filter(m => m[0] === 0).map(m => ['a broadcast', m] as const)]) {
    const leaked = secrets.find(x => Buffer.from(bytes).includes(x))
    if (leaked !== undefined) {
      let detail = ''
      try {
        const d = decoding.createDecoder(bytes)
        const u = where === 'a stored row' ? bytes : (decoding.readVarUint(d), decoding.readVarUint(d), decoding.readVarUint8Array(d))
        detail = Y.decodeUpdate(u).structs.filter(x => x instanceof Y.Item && JSON.stringify(x.content.getContent()).includes(leaked.slice(0, 80))).map(x => `${x.id.client}:${x.id.clock} ${x.constructor.name} ${(x as Y.Item).content.constructor.name} parentSub=${(x as Y.Item).parentSub} deleted=${(x as Y.Item).deleted}`).join('; ')
      } catch (e) { detail = String(e) }
      throw new Error(`${where} holds a refused value: ${JSON.stringify(leaked.slice(0, 80))} (${detail}; sender ids ${JSON.stringify(by.clients)})`)
    }
  }
  const used = usageOf(stored)
  const usedBefore = pre.usage.get(user) ?? 0
  const newBindings = stored.bindings.filter(b => !pre.bound.has(b.client))
  if (expect_.kind === 'refused') {
    const now = exactly(room.doc)
    if (!isDeepStrictEqual(now, pre.exact)) throw new Error(`a refused update changed the record:\n${changedPaths(pre.exact, now).join('\n')}`)
    for (const [p, n] of used) if (p !== user) expect(n, `a refused update of ${by.login} counts against ${p}`).toBe(pre.usage.get(p) ?? 0)
    if (expect_.noTrace === true) {
      // (Never more; a few bytes less is a document rebuilt from storage, its structs merged.)
      expect(size, 'an update refused without a trace leaves no bytes').toBeLessThanOrEqual(pre.size)
      expect(newRows.length, 'an update refused without a trace is not stored').toBe(0)
      expect(newBindings, 'an update refused without a trace binds no client id').toEqual([])
      expect(used.get(user) ?? 0, 'an update refused without a trace counts no refused bytes').toBe(usedBefore)
      return
    }
    // Within the layout: integrated with its compensation, so the record keeps content-free placeholders only,
    // in one row at most, counted against the sender's quota; it binds only the sender's ids (and the server's).
    expect(newRows.length, 'a refused update is one row at most').toBeLessThanOrEqual(1)
    for (const b of newBindings) {
      if (b.principal === SERVER_PRINCIPAL) expect(b.client, 'the server binds its own id').toBe(rec.serverClient)
      else { expect(b.principal, 'a refused update binds its sender\'s ids').toBe(user); expect(by.clients).toContain(b.client) }
    }
    expect(size - pre.size, 'a refused update grows the record by what counts against the sender\'s quota').toBeLessThanOrEqual((used.get(user) ?? 0) - usedBefore + 64)
    return
  }
  if (newRows.length > 0 || size !== pre.size) rec.integrated++
  expect(size - pre.size, 'one update grows the record by little').toBeLessThan(2048)
  if (expect_.kind === 'exact') {
    expect(after, 'an allowed update lands as sent').toEqual(mergedState)
    return
  }
  const b = flat(pre.state)
  const a = flat(after)
  const m = flat(mergedState)
  // (A sender's copy that is no record, with a list as `fields` say, counts as the state before.)
  let own: RecordState
  try { own = sender() } catch { own = pre.state }
  const o = flat(own)
  for (const path of new Set([...b.keys(), ...a.keys(), ...m.keys()])) {
    const v = a.get(path)
    if (v === undefined && expect_.mayClear?.includes(path) === true) continue
    if (!isDeepStrictEqual(v, b.get(path)) && !isDeepStrictEqual(v, m.get(path)) && !isDeepStrictEqual(v, o.get(path))) {
      throw new Error(`${path} is ${JSON.stringify(v)?.slice(0, 100)}: neither before (${JSON.stringify(b.get(path))?.slice(0, 100)}), merged (${JSON.stringify(m.get(path))?.slice(0, 100)}) nor the sender's`)
    }
  }
  for (const [k, v] of Object.entries(expect_.landed ?? {})) {
    expect(after.fields[k], `the allowed ${k} landed`).toEqual(v)
  }
  for (const path of expect_.kept ?? []) expect(a.get(path), `the refused ${path} is not visible`).toEqual(b.get(path))
}

/** Invariants of every record after every step. */
const checkAll = async (ctx: StepContext, recs: Rec[]): Promise<void> => {
  const { s } = ctx
  expect((await fetch(`${s.url}/healthz`)).status, '/healthz').toBe(200)
  for (const rec of recs) {
    const room = s.server.rooms.get(rec.name)
    expect(room.isBroken, `${rec.name} broken`).toBe(false)
    expect(room.doc.store.pendingStructs, `${rec.name} pending structs`).toBeNull()
    expect(room.doc.store.pendingDs, `${rec.name} pending deletes`).toBeNull()
    expect(room.doc.clientID, `${rec.name}: the server's client id`).toBe(rec.serverClient)
    expect(rec.watcher.p.wsconnected, `${rec.name} watcher connected`).toBe(true)
  }
  const { rec } = ctx
  const room = s.server.rooms.get(rec.name)
  const content = exactly(room.doc)
  const outside = outsideLayout(content, rec.entity)
  if (outside !== null) throw new Error(`${rec.name} holds content outside the layout: ${outside}`)
  const state = readRecord(room.doc, rec.entity)
  expect(state.fields.revenue, `${rec.name}: a secured value in the record's document`).toBeUndefined()
  const fresh = freshSize(state)
  const size = Y.encodeStateAsUpdate(room.doc).length
  // Placeholders of refused updates are bounded by the refused bytes counted per user, each within the quota.
  const stored = await s.storage.load(rec.name)
  for (const u of stored.usage) expect(u.refusedBytes, `${u.principal}'s refused bytes in ${rec.name}`).toBeLessThanOrEqual(REFUSED_BYTES_LIMIT)
  const refusedBytes = stored.usage.reduce((n, u) => n + u.refusedBytes, 0)
  expect(size, `${rec.name} size (fresh ${fresh}, ${rec.integrated} updates integrated, ${refusedBytes} refused bytes)`).toBeLessThan(4 * fresh + 2048 + 256 * rec.integrated + refusedBytes)
  // The projected row: the record's columns from its document, the secured revenue from the field's own.
  const row = s.projection.row(rec.entity.name, rec.name.split('/')[1])
  const want = rowOf(rec.entity, state, new Set(rec.revenue !== undefined ? ['revenue'] : []))
  if (want === null) expect(row).toBeUndefined()
  else {
    for (const [k, v] of Object.entries(want)) expect(row?.[k], `${rec.name} projected ${k}`).toEqual(v)
    if (rec.revenue !== undefined) {
      const revenue = readRecord(s.server.rooms.get(rec.revenue).doc, rec.entity).fields.revenue
      expect(row?.revenue, `${rec.name} projected revenue (the field's document)`).toEqual(revenue ?? null)
    }
  }
  // Everyone online converges to the room: the watcher, and the y-websocket clients that are not offline (a
  // client never holds what the record lacks: every update within the layout is integrated).
  for (const c of [{ doc: rec.watcher.doc, p: rec.watcher.p, login: 'watcher', offline: false }, ...rec.clients]) {
    if (c.offline) continue
    expect(c.p.wsconnected, `${c.login} connected to ${rec.name}`).toBe(true)
    await until(() => isDeepStrictEqual(exactly(c.doc), exactly(room.doc)), `${c.login} converges on ${rec.name}`, [c.doc]).catch((e: Error) => {
      const pending = c.doc.store.pendingStructs === null ? '' : ` (pending structs: ${JSON.stringify([...c.doc.store.pendingStructs.missing])})`
      throw new Error(`${e.message}${pending}\n${c.login}: ${JSON.stringify(exactly(c.doc)).slice(0, 1500)}\nroom: ${JSON.stringify(exactly(room.doc)).slice(0, 1500)}`)
    })
  }
}

/** A random edit a user makes in a y-websocket client (the layout's own vocabulary: what the SDK-less client can do). */
const providerPlan = (ctx: StepContext, login: Login): Plan => {
  const { gen, rec } = ctx
  const e = rec.entity
  const user = userOf(login)
  const writer = rec.writers.has(login)
  const memo = memoAttr(e)
  const r = int(gen, 0, 99)
  if (r < 45) {
    const values = goodFields(ctx, login)
    return { what: `sets ${Object.keys(values).join(', ')}`, make: d => setAll(d, ctx, values, user), expect: writer ? { kind: 'exact' } : { kind: 'refused' }, values }
  }
  if (r < 65) {
    const len = memoLength(ctx)
    const index = int(gen, 0, len)
    const insert = word(gen, 1, 10)
    return { what: `inserts into ${memo}`, make: d => editText(d, e, memo, index, 0, insert, { by: user, at: ctx.at() }), expect: writer ? { kind: 'exact' } : { kind: 'refused' } }
  }
  // (The secured revenue in the record's document: dropped whoever writes it.)
  if (r < 80 && e.name === 'account') {
    return { what: 'sets the secured revenue in the record', make: d => setField(d, e, 'revenue', int(gen, 1, 9_000_000), { by: user, at: ctx.at() }), expect: { kind: 'refused' } }
  }
  if (e.name === 'account' && writer) {
    const values = goodFields(ctx, login)
    return { what: `sets ${Object.keys(values).join(', ')} and the secured revenue`, make: d => { setAll(d, ctx, values, user); d.getMap('fields').set('revenue', 1234) }, expect: { kind: 'loose', landed: values, kept: ['fields.revenue'] }, mixed: true }
  }
  const values = goodFields(ctx, login)
  return { what: `sets ${Object.keys(values).join(', ')}`, make: d => setAll(d, ctx, values, user), expect: writer ? { kind: 'exact' } : { kind: 'refused' }, values }
}

const memoLength = (ctx: StepContext): number => (readRecord(ctx.s.server.rooms.get(ctx.rec.name).doc, ctx.rec.entity).texts[memoAttr(ctx.rec.entity)] ?? '').length

/** Sends a sync step 1 on a y-websocket client's socket and waits for the server's reply: everything the
 * client sent before it has then been processed. */
const barrier = async (c: Client): Promise<void> => {
  const ws = c.p.ws as unknown as { send (m: Uint8Array): void, addEventListener (t: string, f: (e: { data: ArrayBuffer }) => void): void, removeEventListener (t: string, f: (e: { data: ArrayBuffer }) => void): void } | null
  if (ws === null) throw new Error(`${c.login} has no socket`)
  let replied = false
  const on = (e: { data: ArrayBuffer }): void => { const m = new Uint8Array(e.data); if (m[0] === 0 && m[1] === SyncStep.step2) replied = true }
  ws.addEventListener('message', on)
  try {
    ws.send(encodeSyncUpdate(SyncStep.step1, Y.encodeStateVector(c.doc)))
    await until(() => replied, `${c.login}'s barrier reply`)
  } finally {
    ws.removeEventListener('message', on)
  }
}

const providerStep = async (ctx: StepContext, c: Client, plan: Plan): Promise<void> => {
  const { s, rec } = ctx
  const room = s.server.rooms.get(rec.name)
  const pre = await snapshot(ctx)
  if (holdsMore(c.doc, room.doc)) throw new Error(`${c.login}'s copy holds structs the record lacks (every update within the layout is integrated)`)
  const receipts = s.storage.receipts(userOf(c.login), 0, 1_000_000).length
  const sv = Y.encodeStateVector(c.doc)
  c.doc.transact(() => plan.make(c.doc))
  const update = Y.encodeStateAsUpdate(c.doc, sv)
  const expected = merged(pre.doc, update, rec.entity)
  const sender = readRecord(c.doc, rec.entity)
  const expect_ = plan.expect
  if (expect_.kind === 'exact') {
    await until(() => isDeepStrictEqual(readRecord(room.doc, rec.entity), expected), 'the allowed edit in the room', [room.doc]).catch((e: Error) => {
      const a = flat(readRecord(room.doc, rec.entity))
      const x = flat(expected)
      const diffs = [...new Set([...a.keys(), ...x.keys()])].filter(k => !isDeepStrictEqual(a.get(k), x.get(k))).map(k => `${k}: room ${JSON.stringify(a.get(k))}, expected ${JSON.stringify(x.get(k))}`)
      const receipts = s.storage.receipts(userOf(c.login), 0, 100000).slice(-3).map(r => `${r.field} ${r.reason} ${r.message}`)
      throw new Error(`${e.message}\n${diffs.join('\n')}\nlast receipts of ${c.login}: ${receipts.join(' | ')}`)
    })
  } else if (expect_.kind === 'refused') {
    // Its copy comes back through the compensation everyone gets; the refusal has a receipt.
    await until(() => s.storage.receipts(userOf(c.login), 0, 1_000_000).length > receipts, `a receipt for ${c.login}`, [], STRICT ? 10_000 : 3000)
      .catch((e: Error) => { if (STRICT) throw e; console.warn(`fuzz: ${e.message} (FUZZ_STRICT=1 fails here)`) })
    await until(() => isDeepStrictEqual(exactly(c.doc), pre.exact), `${c.login}'s copy reverted`, [c.doc])
  } else {
    await until(() => Object.entries(expect_.landed ?? {}).every(([k, v]) => readRecord(room.doc, rec.entity).fields[k] === v), 'the allowed part in the room', [room.doc])
  }
  await barrier(c)
  await room.settled()
  await checkStep(ctx, pre, expect_, expected, () => sender, { login: c.login, clients: [c.doc.clientID], secrets: expect_.kind === 'refused' ? stringsOf(update) : plan.secrets })
  pre.doc.destroy()
}

/** A write of the secured revenue through the field's own document: Finance (avery, bob) may read and set it,
 * every other user is refused at the upgrade (403). A value that does not fit is refused and changes nothing. */
const revenueStep = async (ctx: StepContext, login: Login): Promise<void> => {
  const { s, rec, gen } = ctx
  const name = rec.revenue!
  const room = s.server.rooms.get(name)
  await room.settled()
  if (!mayRevenue(login)) {
    await expect(raw(cleanups, s, name, login), `${login} opens ${name}`).rejects.toThrow('upgrade refused')
    return
  }
  const r = await raw(cleanups, s, name, login)
  const before = exactly(room.doc)
  const bad = chance(gen, 0.3)
  const value: FieldValue = bad ? 'not a number' : goodValue(gen, rec.entity.attributes.find(a => a.name === 'revenue')!)
  const mine = copyOf(s, name, int(gen, SERVER_CLIENT_RANGE * 2, 0xfffffff0))
  const update = edit(mine, d => d.getMap('fields').set('revenue', value))
  const from = r.messages.length
  r.update(update)
  r.ws.send(encodeSyncUpdate(SyncStep.step1, Y.encodeStateVector(mine)))
  await until(() => r.messages.slice(from).some(m => m[0] === 0 && m[1] === SyncStep.step2) || r.ws.readyState >= 2, `${login}'s reply on ${name}`)
  expect(r.ws.readyState, `${login}'s socket on ${name}`).toBe(1)
  await room.settled()
  if (bad) expect(exactly(room.doc), 'a revenue that does not fit changes nothing').toEqual(before)
  else expect(readRecord(room.doc, rec.entity).fields.revenue, 'the revenue landed').toBe(value)
  applyReceived(mine, r.messages.slice(from))
  expect(exactly(mine), `${login} converged on ${name}`).toEqual(exactly(room.doc))
  mine.destroy()
  r.ws.close()
}

/** A y-websocket client goes offline and edits its copy (what it may and may not do); it syncs when it comes back. */
const goOffline = async (ctx: StepContext, c: Client): Promise<void> => {
  c.p.disconnect()
  c.offline = true
  await until(() => !c.p.wsconnected, `${c.login} offline`)
  for (let i = int(ctx.gen, 1, 3); i > 0; i--) providerPlan(ctx, c.login).make(c.doc)
}

const reconnect = async (ctx: StepContext, c: Client): Promise<void> => {
  const { s, rec } = ctx
  const room = s.server.rooms.get(rec.name)
  const pre = await snapshot(ctx)
  const expected = merged(pre.doc, Y.encodeStateAsUpdate(c.doc), rec.entity)
  const sender = readRecord(c.doc, rec.entity)
  c.p.connect()
  c.offline = false
  await until(() => c.p.wsconnected && c.p.synced, `${c.login} back online`)
  // (Its own step 2 went out before the reply that made it synced, so the barrier comes after it.)
  await barrier(c)
  await room.settled()
  await checkStep(ctx, pre, { kind: 'loose' }, expected, () => sender, { login: c.login, clients: [c.doc.clientID] })
  pre.doc.destroy()
}
