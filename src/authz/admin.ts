// Changes to the security model, validated: each takes the model and a JSON input and returns the next
// version, or throws AdminError naming the bad field. Pure.

import * as v from 'valibot'
import type { Catalog } from '../docs/catalog-types.ts'
import { parseProfile, profileWarnings as warningsOf, type OfflineProfile } from '../profiles/profile.ts'
import { FieldError } from '../errors.ts'
import { parsePrincipalRef, principalRef } from '../ids.ts'
import { parseFields } from '../schema.ts'
import { BOOLEAN, idSet, OBJECT, text } from './input.ts'
import { BusinessUnitSchema, TeamSchema, UserSchema, type User } from './org.ts'
import { FieldProfileSchema, RoleSchema, SHARE_ACCESS, type SecurityModel } from './model.ts'

export class AdminError extends FieldError {
  override name = 'AdminError'
}

/** The body parsed by `schema`, or an AdminError naming the first bad field. */
const parse = <S extends v.GenericSchema>(schema: S, body: unknown): v.InferOutput<S> =>
  parseFields(schema, body, (field, message) => new AdminError(field, message), 'body')

const UserPatchSchema = v.object({
  fullName: v.nullish(text()),
  businessUnitId: v.nullish(text()),
  /** null clears the manager; absent keeps it */
  managerId: v.nullish(text()),
  /** absent keeps it */
  disabled: v.optional(v.boolean(BOOLEAN)),
  /** null clears the link to the identity provider; absent keeps it */
  externalId: v.nullish(text(255))
}, OBJECT)
const MembersSchema = v.object({ members: idSet }, OBJECT)
const RolesSchema = v.object({ roles: idSet }, OBJECT)
const DEPTH = 'expected a whole number from 1 to 10'
const HierarchySchema = v.object({
  enabled: v.boolean(BOOLEAN),
  /** absent keeps the current depth */
  depth: v.optional(v.pipe(v.number(DEPTH), v.integer(DEPTH), v.minValue(1, DEPTH), v.maxValue(10, DEPTH)))
}, OBJECT)
const FIELD = 'expected "<entity>.<attribute>"'
const SecuredFieldSchema = v.object({ field: v.string(FIELD), secured: v.boolean(BOOLEAN) }, OBJECT)
const ShareSchema = v.object({
  principal: v.pipe(text(), v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const ref = parsePrincipalRef(dataset.value)
    if (ref === null) { addIssue({ message: 'expected "systemuser/<id>" or "team/<id>"' }); return NEVER }
    return ref
  })),
  /** null removes the share */
  access: v.nullable(v.picklist(SHARE_ACCESS, 'expected "read", "readwrite" or null'))
}, OBJECT)

/** The shortest password an administrator may set (NIST 800-63B asks at least 8; passphrases are longer). */
export const MIN_PASSWORD_LENGTH = 12
const PASSWORD = `expected a string of ${MIN_PASSWORD_LENGTH} to 1024 characters`
const PasswordSchema = v.object({
  password: v.pipe(v.string(PASSWORD), v.minLength(MIN_PASSWORD_LENGTH, `shorter than ${MIN_PASSWORD_LENGTH} characters`), v.maxLength(1024, 'longer than 1024 characters'))
}, OBJECT)

/** A password an administrator sets for a user (`PUT /api/admin/users/<id>/password`), or an AdminError naming what is wrong. */
export const parsePasswordChange = (m: SecurityModel, userId: string, body: unknown): { readonly password: string } => {
  const out = parse(PasswordSchema, body)
  requireUser(m, userId, 'id')
  return out
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
  const bu = parse(BusinessUnitSchema, body)
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
  const user = parse(UserSchema, body)
  unique(m.org.users.some(u => u.id === user.id), 'id', user.id)
  unique(m.org.users.some(u => u.login === user.login), 'login', user.login)
  if (user.externalId !== undefined) unique(m.org.users.some(u => u.externalId === user.externalId), 'externalId', user.externalId)
  requireUnit(m, user.businessUnitId, 'businessUnitId')
  checkManager(m, user.id, user.managerId, [...m.org.users, user])
  return bump(m, { org: { ...m.org, users: [...m.org.users, user] } })
}

export const updateUser = (m: SecurityModel, userId: string, body: unknown): SecurityModel => {
  const patch = parse(UserPatchSchema, body)
  requireUser(m, userId, 'id')
  const old = m.org.users.find(u => u.id === userId)!
  const { externalId: _, ...rest } = old
  const externalId = patch.externalId === undefined ? old.externalId : patch.externalId ?? undefined
  if (externalId !== undefined) unique(m.org.users.some(u => u.id !== userId && u.externalId === externalId), 'externalId', externalId)
  const next: User = {
    ...rest,
    fullName: patch.fullName ?? old.fullName,
    businessUnitId: patch.businessUnitId ?? old.businessUnitId,
    managerId: patch.managerId === undefined ? old.managerId : patch.managerId,
    ...(patch.disabled === undefined ? {} : { disabled: patch.disabled }),
    ...(externalId === undefined ? {} : { externalId })
  }
  requireUnit(m, next.businessUnitId, 'businessUnitId')
  const users = m.org.users.map(u => u.id === userId ? next : u)
  checkManager(m, userId, next.managerId, users)
  return bump(m, { org: { ...m.org, users } })
}

export const addTeam = (m: SecurityModel, body: unknown): SecurityModel => {
  const team = parse(TeamSchema, body)
  unique(m.org.teams.some(t => t.id === team.id), 'id', team.id)
  requireUnit(m, team.businessUnitId, 'businessUnitId')
  team.members.forEach(u => requireUser(m, u, 'members'))
  return bump(m, { org: { ...m.org, teams: [...m.org.teams, team] } })
}

export const setTeamMembers = (m: SecurityModel, teamId: string, body: unknown): SecurityModel => {
  const { members } = parse(MembersSchema, body)
  requireTeam(m, teamId, 'id')
  members.forEach(u => requireUser(m, u, 'members'))
  return bump(m, { org: { ...m.org, teams: m.org.teams.map(t => t.id === teamId ? { ...t, members } : t) } })
}

/** Creates a role, or replaces the role with the same id. */
export const putRole = (m: SecurityModel, catalog: Catalog, body: unknown): SecurityModel => {
  const role = parse(RoleSchema, body)
  for (const entity of Object.keys(role.privileges)) if (!catalog.entities.has(entity)) throw new AdminError(`privileges.${entity}`, 'unknown entity')
  const roles = m.roles.some(r => r.id === role.id) ? m.roles.map(r => r.id === role.id ? role : r) : [...m.roles, role]
  return bump(m, { roles })
}

export const setRoles = (m: SecurityModel, holder: 'user' | 'team', holderId: string, body: unknown): SecurityModel => {
  const { roles } = parse(RolesSchema, body)
  if (holder === 'user') requireUser(m, holderId, 'id'); else requireTeam(m, holderId, 'id')
  for (const r of roles) if (!m.roles.some(x => x.id === r)) throw new AdminError('roles', `no role ${JSON.stringify(r)}`)
  return holder === 'user'
    ? bump(m, { userRoles: { ...m.userRoles, [holderId]: roles } })
    : bump(m, { teamRoles: { ...m.teamRoles, [holderId]: roles } })
}

export const setHierarchy = (m: SecurityModel, body: unknown): SecurityModel => {
  const h = parse(HierarchySchema, body)
  return bump(m, { hierarchy: { enabled: h.enabled, depth: h.depth ?? m.hierarchy.depth } })
}

/** `<entity>.<attribute>` of an attribute in the catalog: exactly one dot, both names known. */
const fieldKey = (catalog: Catalog, key: string, field: string): string => {
  const parts = key.split('.')
  if (parts.length !== 2) throw new AdminError(field, FIELD)
  const [entity, attr] = parts
  const e = catalog.entities.get(entity)
  if (e === undefined) throw new AdminError(field, `unknown entity ${JSON.stringify(entity)}`)
  if (!e.attributes.some(a => a.name === attr)) throw new AdminError(field, `${entity} has no attribute ${JSON.stringify(attr)}`)
  return `${entity}.${attr}`
}

export const setSecuredField = (m: SecurityModel, catalog: Catalog, body: unknown): SecurityModel => {
  const o = parse(SecuredFieldSchema, body)
  const key = fieldKey(catalog, o.field, 'field')
  const rest = m.securedFields.filter(f => f !== key)
  return bump(m, { securedFields: o.secured ? [...rest, key] : rest })
}

export const putFieldProfile = (m: SecurityModel, catalog: Catalog, body: unknown): SecurityModel => {
  const profile = parse(FieldProfileSchema, body)
  for (const k of Object.keys(profile.permissions)) fieldKey(catalog, k, `permissions.${k}`)
  profile.users.forEach(u => requireUser(m, u, 'users'))
  profile.teams.forEach(t => requireTeam(m, t, 'teams'))
  const fieldProfiles = m.fieldProfiles.some(p => p.id === profile.id) ? m.fieldProfiles.map(p => p.id === profile.id ? profile : p) : [...m.fieldProfiles, profile]
  return bump(m, { fieldProfiles })
}

/** Shares `record` with a user or team, or (access null) removes the share. */
export const setShare = (m: SecurityModel, record: string, body: unknown): SecurityModel => {
  const { principal: ref, access } = parse(ShareSchema, body)
  const principal = principalRef(ref.kind, ref.id)
  if (ref.kind === 'systemuser') requireUser(m, ref.id, 'principal'); else requireTeam(m, ref.id, 'principal')
  const rest = m.shares.filter(s => !(s.record === record && s.principal === principal))
  return bump(m, { shares: access === null ? rest : [...rest, { record, principal, access }] })
}

/** Creates or replaces an offline profile (validated); a user moves to it from any other profile. See profileWarnings. */
export const putProfile = (m: SecurityModel, catalog: Catalog, body: unknown): SecurityModel => {
  const profile = parseProfile(catalog, body)
  profile.users.forEach(u => requireUser(m, u, 'users'))
  const others = (m.profiles ?? []).filter(p => p.id !== profile.id).map(p => ({ ...p, users: p.users.filter(u => !profile.users.includes(u)) }))
  return bump(m, { profiles: [...others, profile] })
}

/** What the API tells an administrator who puts `profile` into model `m`: allowed but discouraged. */
export const profileWarnings = (m: SecurityModel, profile: OfflineProfile): string[] => warningsOf(profile, m.hierarchy.enabled)
