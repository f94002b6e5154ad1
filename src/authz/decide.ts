// The one decision: may principal P do action A on record R (field F)? Pure, over an index of the model.

import type { Team, User } from './org.ts'
import { parsePrincipalRef, principalRef, type PrincipalRef } from '../ids.ts'
import { depthRank, type Depth, type FieldPermission, type Privilege, type SecurityModel, type Share } from './model.ts'
import type { RecordOwnership } from '../docs/ownership.ts'

export type Decision = { readonly allowed: true } | { readonly allowed: false, readonly why: string }

const ALLOWED: Decision = { allowed: true }

interface Grant { readonly depth: Depth, readonly businessUnitId: string }

/** Precomputed lookups over one version of the model; build once per version. */
export class ModelIndex {
  readonly model: SecurityModel
  private readonly users = new Map<string, User>()
  private readonly usersByLogin = new Map<string, User>()
  private readonly usersByExternalId = new Map<string, User>()
  private readonly teams = new Map<string, Team>()
  private readonly teamsByUser = new Map<string, Team[]>()
  private readonly children = new Map<string, string[]>()
  private readonly subtrees = new Map<string, Set<string>>()
  private readonly sharesByRecord = new Map<string, Share[]>()
  private readonly sharesByPrincipal = new Map<string, Share[]>()
  private readonly grantCache = new Map<string, Grant[]>()

  constructor (model: SecurityModel) {
    this.model = model
    for (const u of model.org.users) {
      this.users.set(u.id, u)
      this.usersByLogin.set(u.login, u)
      if (u.externalId !== undefined) this.usersByExternalId.set(u.externalId, u)
    }
    for (const t of model.org.teams) this.teams.set(t.id, t)
    for (const t of model.org.teams) for (const m of t.members) this.teamsByUser.set(m, [...(this.teamsByUser.get(m) ?? []), t])
    for (const b of model.org.businessUnits) if (b.parentId !== null) this.children.set(b.parentId, [...(this.children.get(b.parentId) ?? []), b.id])
    for (const s of model.shares) {
      let r = this.sharesByRecord.get(s.record)
      if (r === undefined) { r = []; this.sharesByRecord.set(s.record, r) }
      r.push(s)
      let p = this.sharesByPrincipal.get(s.principal)
      if (p === undefined) { p = []; this.sharesByPrincipal.set(s.principal, p) }
      p.push(s)
    }
  }

  get version (): number { return this.model.version }
  user (id: string): User | undefined { return this.users.get(id) }
  userByLogin (login: string): User | undefined { return this.usersByLogin.get(login) }
  /** The user linked to this identity at the external identity provider. */
  userByExternalId (externalId: string): User | undefined { return this.usersByExternalId.get(externalId) }
  teamsOf (userId: string): readonly Team[] { return this.teamsByUser.get(userId) ?? [] }
  /** The business unit of a user or team (an owner's unit), or undefined when there is no such principal. */
  unitOf (p: PrincipalRef): string | undefined {
    return p.kind === 'systemuser' ? this.users.get(p.id)?.businessUnitId : this.teams.get(p.id)?.businessUnitId
  }

  /** A business unit and every unit below it. */
  subtree (buId: string): Set<string> {
    let s = this.subtrees.get(buId)
    if (s === undefined) {
      s = new Set([buId])
      const stack = [buId]
      while (stack.length > 0) for (const c of this.children.get(stack.pop()!) ?? []) if (!s.has(c)) { s.add(c); stack.push(c) }
      this.subtrees.set(buId, s)
    }
    return s
  }

  /** The privilege's grants to a user: from the user's roles (at the user's unit) and team roles (at the team's unit). */
  grants (userId: string, entity: string, privilege: Privilege): readonly Grant[] {
    const key = `${userId}\u0000${entity}\u0000${privilege}`
    let out = this.grantCache.get(key)
    if (out !== undefined) return out
    out = []
    const user = this.users.get(userId)
    // A disabled user holds no privileges: every socket of theirs loses its records at once.
    if (user !== undefined && user.disabled !== true) {
      const add = (roleIds: readonly string[] | undefined, businessUnitId: string): void => {
        for (const id of roleIds ?? []) {
          const depth = this.model.roles.find(r => r.id === id)?.privileges[entity]?.[privilege]
          if (depth !== undefined) out!.push({ depth, businessUnitId })
        }
      }
      add(this.model.userRoles[userId], user.businessUnitId)
      for (const t of this.teamsOf(userId)) add(this.model.teamRoles[t.id], t.businessUnitId)
    }
    this.grantCache.set(key, out)
    return out
  }

  isAdmin (userId: string): boolean {
    if (this.users.get(userId)?.disabled === true) return false
    const roleIds = [...(this.model.userRoles[userId] ?? []), ...this.teamsOf(userId).flatMap(t => this.model.teamRoles[t.id] ?? [])]
    return roleIds.some(id => this.model.roles.find(r => r.id === id)?.admin === true)
  }

  /** How many levels below `managerId` the owner user is (1 = direct report), or 0. */
  reportLevel (managerId: string, userId: string): number {
    let level = 0
    let current = this.users.get(userId)
    const seen = new Set<string>()
    while (current?.managerId != null && !seen.has(current.id)) {
      seen.add(current.id)
      level++
      if (current.managerId === managerId) return level
      current = this.users.get(current.managerId)
    }
    return 0
  }

  sharesOf (record: string): readonly Share[] { return this.sharesByRecord.get(record) ?? [] }
  /** The shares with a principal (`systemuser/<id>` or `team/<id>`). */
  sharesTo (principal: string): readonly Share[] { return this.sharesByPrincipal.get(principal) ?? [] }

  /** The principals a user acts as: the user and the user's teams. */
  principalsOf (userId: string): Set<string> {
    return new Set([principalRef('systemuser', userId), ...this.teamsOf(userId).map(t => principalRef('team', t.id))])
  }
}

/** The business unit of a record owned by `ownerid` (the owner's), or why it has none: not a user or team reference, or no such owner. */
export const ownerUnit = (ix: ModelIndex, ownerid: unknown): { readonly unit: string } | { readonly problem: 'not-a-principal' | 'no-such-owner' } => {
  const ref = parsePrincipalRef(ownerid)
  if (ref === null) return { problem: 'not-a-principal' }
  const unit = ix.unitOf(ref)
  return unit === undefined ? { problem: 'no-such-owner' } : { unit }
}

const reaches = (ix: ModelIndex, userId: string, g: Grant, r: RecordOwnership): boolean => {
  switch (g.depth) {
    case 'organization': return true
    case 'parentChild': return ix.subtree(g.businessUnitId).has(r.owningbusinessunit)
    case 'businessUnit': return r.owningbusinessunit === g.businessUnitId
    case 'user': return ix.principalsOf(userId).has(r.ownerid)
  }
}

/**
 * Privileges a share offers: read for any share, the rest of record editing for read-write. As in
 * Dynamics, a share grants one of them only to a sharee whose roles (own or teams') hold that privilege
 * on the entity at some depth (user depth at least): it widens the reach of a privilege, never adds one.
 */
export const SHARE_GRANTS: Readonly<Record<string, readonly Privilege[]>> = {
  read: ['read'],
  readwrite: ['read', 'write', 'append', 'appendTo']
}

/**
 * May `userId` use `privilege` on `entity`, on record `record` if given (without one: on some record
 * of the entity, the check before a create is placed)?
 */
export const mayAccess = (ix: ModelIndex, userId: string, privilege: Privilege, entity: string, record?: RecordOwnership): Decision => {
  const grants = ix.grants(userId, entity, privilege)
  if (record === undefined) return grants.length > 0 ? ALLOWED : { allowed: false, why: `no ${privilege} privilege on ${entity}` }
  if (grants.some(g => reaches(ix, userId, g, record))) return ALLOWED
  if (grants.length > 0) {
    const mine = ix.principalsOf(userId)
    for (const s of ix.sharesOf(record.name)) {
      if (mine.has(s.principal) && SHARE_GRANTS[s.access].includes(privilege)) return ALLOWED
    }
  }
  const h = ix.model.hierarchy
  const owner = parsePrincipalRef(record.ownerid)
  if (h.enabled && grants.length > 0 && owner?.kind === 'systemuser') {
    const level = ix.reportLevel(userId, owner.id)
    // Direct reports' records: the manager's own privileges; further down: read only.
    if (level === 1 || (level > 1 && level <= h.depth && privilege === 'read')) return ALLOWED
  }
  if (grants.length === 0) return { allowed: false, why: `no ${privilege} privilege on ${entity}` }
  const widest = grants.reduce((a, g) => depthRank(g.depth) > depthRank(a.depth) ? g : a)
  return { allowed: false, why: `${privilege} privilege on ${entity} at ${widest.depth} depth does not reach this record` }
}

export const isSecured = (model: SecurityModel, entity: string, attribute: string): boolean =>
  model.securedFields.includes(`${entity}.${attribute}`)

/** A user's permission on a field: everything when the field is not secured, else the union of their profiles. */
export const fieldPermission = (ix: ModelIndex, userId: string, entity: string, attribute: string): FieldPermission => {
  const key = `${entity}.${attribute}`
  if (!ix.model.securedFields.includes(key)) return { read: true, update: true, create: true }
  const teams = new Set(ix.teamsOf(userId).map(t => t.id))
  const p = { read: false, update: false, create: false }
  for (const prof of ix.model.fieldProfiles) {
    if (!prof.users.includes(userId) && !prof.teams.some(t => teams.has(t))) continue
    const fp = prof.permissions[key]
    if (fp === undefined) continue
    p.read ||= fp.read
    p.update ||= fp.update
    p.create ||= fp.create
  }
  return p
}

/** Which records of an entity a user may read, as a filter a query can use. */
export interface ReadScope {
  readonly all: boolean
  readonly businessUnits: ReadonlySet<string>
  /** owner ids (`systemuser/…`, `team/…`) */
  readonly owners: ReadonlySet<string>
  /** record names shared with the user */
  readonly records: ReadonlySet<string>
}

export const readScope = (ix: ModelIndex, userId: string, entity: string): ReadScope => {
  const grants = ix.grants(userId, entity, 'read')
  const businessUnits = new Set<string>()
  const owners = new Set<string>()
  let all = false
  for (const g of grants) {
    if (g.depth === 'organization') all = true
    else if (g.depth === 'parentChild') for (const b of ix.subtree(g.businessUnitId)) businessUnits.add(b)
    else if (g.depth === 'businessUnit') businessUnits.add(g.businessUnitId)
    else for (const p of ix.principalsOf(userId)) owners.add(p)
  }
  const h = ix.model.hierarchy
  if (h.enabled && grants.length > 0) {
    for (const u of ix.model.org.users) if (ix.reportLevel(userId, u.id) > 0 && ix.reportLevel(userId, u.id) <= Math.max(1, h.depth)) owners.add(principalRef('systemuser', u.id))
  }
  // A share makes a record readable only to a user who holds read on the entity (see mayAccess).
  const mine = ix.principalsOf(userId)
  const records = new Set<string>()
  if (grants.length > 0) for (const p of mine) for (const s of ix.sharesTo(p)) if (s.record.startsWith(`${entity}/`)) records.add(s.record)
  return { all, businessUnits, owners, records }
}
