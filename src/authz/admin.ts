// Changes to the security model, validated: each takes the model and a JSON input and returns the next
// version, or throws AdminError naming the bad field. Pure.

import type { Catalog } from '../docs/catalog-types.ts'
import { parseProfile } from '../profiles/profile.ts'
import { FieldError } from '../errors.ts'
import { isValidId, newId, parsePrincipalRef } from '../ids.ts'
import type { BusinessUnit, Team, User } from './org.ts'
import { DEPTHS, PRIVILEGES, type Depth, type FieldPermission, type FieldProfile, type Privilege, type Role, type SecurityModel, type ShareAccess } from './model.ts'

export class AdminError extends FieldError {
  override name = 'AdminError'
}

type Input = Record<string, unknown>

const obj = (v: unknown, field = 'body'): Input => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new AdminError(field, 'expected a JSON object')
  return v as Input
}
const str = (o: Input, k: string, opts: { optional?: boolean, max?: number } = {}): string | undefined => {
  const v = o[k]
  if ((v === undefined || v === null) && opts.optional === true) return undefined
  if (typeof v !== 'string' || v.trim() === '') throw new AdminError(k, 'expected a non-empty string')
  if (v.length > (opts.max ?? 200)) throw new AdminError(k, `longer than ${opts.max ?? 200} characters`)
  return v
}
const id = (o: Input, k: string): string => {
  const v = str(o, k, { optional: true })
  if (v === undefined) return newId()
  if (!isValidId(v)) throw new AdminError(k, 'expected 1-64 of [A-Za-z0-9_-], starting alphanumeric')
  return v
}
const strList = (o: Input, k: string): string[] => {
  const v = o[k] ?? []
  if (!Array.isArray(v) || !v.every(x => typeof x === 'string')) throw new AdminError(k, 'expected an array of strings')
  return [...new Set(v as string[])]
}
const bump = (m: SecurityModel, patch: Partial<SecurityModel>): SecurityModel => ({ ...m, ...patch, version: m.version + 1 })

const requireUnit = (m: SecurityModel, buId: string, field: string): void => {
  if (!m.org.businessUnits.some(b => b.id === buId)) throw new AdminError(field, `no business unit ${JSON.stringify(buId)}`)
}
const requireUser = (m: SecurityModel, userId: string, field: string): void => {
  if (!m.org.users.some(u => u.id === userId)) throw new AdminError(field, `no user ${JSON.stringify(userId)}`)
}
const requireTeam = (m: SecurityModel, teamId: string, field: string): void => {
  if (!m.org.teams.some(t => t.id === teamId)) throw new AdminError(field, `no team ${JSON.stringify(teamId)}`)
}
const unique = (taken: boolean, field: string, value: string): void => {
  if (taken) throw new AdminError(field, `${JSON.stringify(value)} exists`)
}

export const addBusinessUnit = (m: SecurityModel, body: unknown): SecurityModel => {
  const o = obj(body)
  const bu: BusinessUnit = { id: id(o, 'id'), name: str(o, 'name')!, parentId: str(o, 'parentId', { optional: true }) ?? null }
  unique(m.org.businessUnits.some(b => b.id === bu.id), 'id', bu.id)
  if (bu.parentId === null) {
    if (m.org.businessUnits.some(b => b.parentId === null)) throw new AdminError('parentId', 'the organization has its root unit; name a parent')
  } else requireUnit(m, bu.parentId, 'parentId')
  return bump(m, { org: { ...m.org, businessUnits: [...m.org.businessUnits, bu] } })
}

const checkManager = (m: SecurityModel, userId: string, managerId: string | null, users: readonly User[]): void => {
  if (managerId === null) return
  requireUser(m, managerId, 'managerId')
  const byId = new Map(users.map(u => [u.id, u]))
  for (let cur: string | null = managerId, n = 0; cur !== null; cur = byId.get(cur)?.managerId ?? null, n++) {
    if (cur === userId || n > users.length) throw new AdminError('managerId', 'would make a manager cycle')
  }
}

export const addUser = (m: SecurityModel, body: unknown): SecurityModel => {
  const o = obj(body)
  const login = str(o, 'login', { max: 64 })!
  if (!/^[a-z0-9._-]+$/.test(login)) throw new AdminError('login', 'expected lowercase letters, digits, . _ -')
  const user: User = {
    id: id(o, 'id'), login, fullName: str(o, 'fullName')!, businessUnitId: str(o, 'businessUnitId')!,
    managerId: str(o, 'managerId', { optional: true }) ?? null
  }
  unique(m.org.users.some(u => u.id === user.id), 'id', user.id)
  unique(m.org.users.some(u => u.login === login), 'login', login)
  requireUnit(m, user.businessUnitId, 'businessUnitId')
  checkManager(m, user.id, user.managerId, [...m.org.users, user])
  return bump(m, { org: { ...m.org, users: [...m.org.users, user] } })
}

export const updateUser = (m: SecurityModel, userId: string, body: unknown): SecurityModel => {
  const o = obj(body)
  requireUser(m, userId, 'id')
  const old = m.org.users.find(u => u.id === userId)!
  const next: User = {
    ...old,
    fullName: str(o, 'fullName', { optional: true }) ?? old.fullName,
    businessUnitId: str(o, 'businessUnitId', { optional: true }) ?? old.businessUnitId,
    managerId: o.managerId === null ? null : str(o, 'managerId', { optional: true }) ?? old.managerId
  }
  requireUnit(m, next.businessUnitId, 'businessUnitId')
  const users = m.org.users.map(u => u.id === userId ? next : u)
  checkManager(m, userId, next.managerId, users)
  return bump(m, { org: { ...m.org, users } })
}

export const addTeam = (m: SecurityModel, body: unknown): SecurityModel => {
  const o = obj(body)
  const team: Team = { id: id(o, 'id'), name: str(o, 'name')!, businessUnitId: str(o, 'businessUnitId')!, members: strList(o, 'members') }
  unique(m.org.teams.some(t => t.id === team.id), 'id', team.id)
  requireUnit(m, team.businessUnitId, 'businessUnitId')
  team.members.forEach(u => requireUser(m, u, 'members'))
  return bump(m, { org: { ...m.org, teams: [...m.org.teams, team] } })
}

export const setTeamMembers = (m: SecurityModel, teamId: string, body: unknown): SecurityModel => {
  requireTeam(m, teamId, 'id')
  const members = strList(obj(body), 'members')
  members.forEach(u => requireUser(m, u, 'members'))
  return bump(m, { org: { ...m.org, teams: m.org.teams.map(t => t.id === teamId ? { ...t, members } : t) } })
}

const parsePrivileges = (catalog: Catalog, v: unknown): Role['privileges'] => {
  const o = obj(v, 'privileges')
  const out: Record<string, Partial<Record<Privilege, Depth>>> = {}
  for (const [entity, privs] of Object.entries(o)) {
    if (!catalog.entities.has(entity)) throw new AdminError(`privileges.${entity}`, 'unknown entity')
    const p = obj(privs, `privileges.${entity}`)
    out[entity] = {}
    for (const [name, depth] of Object.entries(p)) {
      if (!(PRIVILEGES as readonly string[]).includes(name)) throw new AdminError(`privileges.${entity}.${name}`, `unknown privilege (known: ${PRIVILEGES.join(', ')})`)
      if (!(DEPTHS as readonly unknown[]).includes(depth)) throw new AdminError(`privileges.${entity}.${name}`, `unknown depth (known: ${DEPTHS.join(', ')})`)
      out[entity][name as Privilege] = depth as Depth
    }
  }
  return out
}

/** Creates a role, or replaces the role with the same id. */
export const putRole = (m: SecurityModel, catalog: Catalog, body: unknown): SecurityModel => {
  const o = obj(body)
  if (o.admin !== undefined && typeof o.admin !== 'boolean') throw new AdminError('admin', 'expected true or false')
  const role: Role = { id: id(o, 'id'), name: str(o, 'name')!, admin: o.admin === true, privileges: parsePrivileges(catalog, o.privileges ?? {}) }
  const roles = m.roles.some(r => r.id === role.id) ? m.roles.map(r => r.id === role.id ? role : r) : [...m.roles, role]
  return bump(m, { roles })
}

export const setRoles = (m: SecurityModel, holder: 'user' | 'team', holderId: string, body: unknown): SecurityModel => {
  if (holder === 'user') requireUser(m, holderId, 'id'); else requireTeam(m, holderId, 'id')
  const roles = strList(obj(body), 'roles')
  for (const r of roles) if (!m.roles.some(x => x.id === r)) throw new AdminError('roles', `no role ${JSON.stringify(r)}`)
  return holder === 'user'
    ? bump(m, { userRoles: { ...m.userRoles, [holderId]: roles } })
    : bump(m, { teamRoles: { ...m.teamRoles, [holderId]: roles } })
}

export const setHierarchy = (m: SecurityModel, body: unknown): SecurityModel => {
  const o = obj(body)
  if (typeof o.enabled !== 'boolean') throw new AdminError('enabled', 'expected true or false')
  const depth = o.depth ?? m.hierarchy.depth
  if (typeof depth !== 'number' || !Number.isInteger(depth) || depth < 1 || depth > 10) throw new AdminError('depth', 'expected a whole number from 1 to 10')
  return bump(m, { hierarchy: { enabled: o.enabled, depth } })
}

/** `<entity>.<attribute>` of an attribute in the catalog: exactly one dot, both names known. */
const fieldKey = (catalog: Catalog, v: unknown, field: string): string => {
  const parts = typeof v === 'string' ? v.split('.') : []
  if (parts.length !== 2) throw new AdminError(field, 'expected "<entity>.<attribute>"')
  const [entity, attr] = parts
  const e = catalog.entities.get(entity)
  if (e === undefined) throw new AdminError(field, `unknown entity ${JSON.stringify(entity)}`)
  if (!e.attributes.some(a => a.name === attr)) throw new AdminError(field, `${entity} has no attribute ${JSON.stringify(attr)}`)
  return `${entity}.${attr}`
}

export const setSecuredField = (m: SecurityModel, catalog: Catalog, body: unknown): SecurityModel => {
  const o = obj(body)
  const key = fieldKey(catalog, o.field, 'field')
  if (typeof o.secured !== 'boolean') throw new AdminError('secured', 'expected true or false')
  const rest = m.securedFields.filter(f => f !== key)
  return bump(m, { securedFields: o.secured ? [...rest, key] : rest })
}

export const putFieldProfile = (m: SecurityModel, catalog: Catalog, body: unknown): SecurityModel => {
  const o = obj(body)
  const perms = obj(o.permissions ?? {}, 'permissions')
  const permissions: Record<string, FieldPermission> = {}
  for (const [k, v] of Object.entries(perms)) {
    fieldKey(catalog, k, `permissions.${k}`)
    const p = obj(v, `permissions.${k}`)
    for (const f of ['read', 'update', 'create'] as const) {
      if (p[f] !== undefined && typeof p[f] !== 'boolean') throw new AdminError(`permissions.${k}.${f}`, 'expected true or false')
    }
    permissions[k] = { read: p.read === true, update: p.update === true, create: p.create === true }
  }
  const profile: FieldProfile = { id: id(o, 'id'), name: str(o, 'name')!, users: strList(o, 'users'), teams: strList(o, 'teams'), permissions }
  profile.users.forEach(u => requireUser(m, u, 'users'))
  profile.teams.forEach(t => requireTeam(m, t, 'teams'))
  const fieldProfiles = m.fieldProfiles.some(p => p.id === profile.id) ? m.fieldProfiles.map(p => p.id === profile.id ? profile : p) : [...m.fieldProfiles, profile]
  return bump(m, { fieldProfiles })
}

/** Shares `record` with a user or team, or (access null) removes the share. */
export const setShare = (m: SecurityModel, record: string, body: unknown): SecurityModel => {
  const o = obj(body)
  const principal = str(o, 'principal')!
  const ref = parsePrincipalRef(principal)
  if (ref === null) throw new AdminError('principal', 'expected "systemuser/<id>" or "team/<id>"')
  if (ref.kind === 'systemuser') requireUser(m, ref.id, 'principal'); else requireTeam(m, ref.id, 'principal')
  if (o.access !== null && o.access !== 'read' && o.access !== 'readwrite') throw new AdminError('access', 'expected "read", "readwrite" or null')
  const rest = m.shares.filter(s => !(s.record === record && s.principal === principal))
  return bump(m, { shares: o.access === null ? rest : [...rest, { record, principal, access: o.access as ShareAccess }] })
}

/** Creates or replaces an offline profile (validated); a user moves to it from any other profile. */
export const putProfile = (m: SecurityModel, catalog: Catalog, body: unknown): SecurityModel => {
  const profile = parseProfile(catalog, body)
  profile.users.forEach(u => requireUser(m, u, 'users'))
  const others = (m.profiles ?? []).filter(p => p.id !== profile.id).map(p => ({ ...p, users: p.users.filter(u => !profile.users.includes(u)) }))
  return bump(m, { profiles: [...others, profile] })
}
