// The security model: organization, roles with privileges per entity at a depth, team and user role
// assignments, hierarchy security, field security and record shares. Plain data, versioned; the
// schemas parse what the admin API receives, and their outputs are the types.

import * as v from 'valibot'
import type { Org } from './org.ts'
import type { OfflineProfile } from '../profiles/profile.ts'
import { BOOLEAN, idSet, newOrId, OBJECT, text } from './input.ts'

export const PRIVILEGES = ['create', 'read', 'write', 'delete', 'append', 'appendTo', 'assign', 'share'] as const
export type Privilege = typeof PRIVILEGES[number]

/** How far a privilege reaches, from narrowest to widest. */
export const DEPTHS = ['user', 'businessUnit', 'parentChild', 'organization'] as const
export type Depth = typeof DEPTHS[number]

export const RoleSchema = v.pipe(v.object({
  id: newOrId,
  name: text(),
  /** may use the admin API */
  admin: v.optional(v.boolean(BOOLEAN), false),
  /** entity -> privilege -> depth; a missing privilege is not granted (entities are checked against the catalog) */
  privileges: v.nullish(v.pipe(v.record(
    v.string(),
    v.record(
      v.picklist(PRIVILEGES, `unknown privilege (known: ${PRIVILEGES.join(', ')})`),
      v.picklist(DEPTHS, `unknown depth (known: ${DEPTHS.join(', ')})`),
      OBJECT
    ),
    OBJECT
  ), v.readonly()), {})
}, OBJECT), v.readonly())
export type Role = v.InferOutput<typeof RoleSchema>

export const FieldPermissionSchema = v.pipe(v.object({
  read: v.optional(v.boolean(BOOLEAN), false),
  update: v.optional(v.boolean(BOOLEAN), false),
  create: v.optional(v.boolean(BOOLEAN), false)
}, OBJECT), v.readonly())
export type FieldPermission = v.InferOutput<typeof FieldPermissionSchema>

export const FieldProfileSchema = v.pipe(v.object({
  id: newOrId,
  name: text(),
  users: idSet,
  teams: idSet,
  /** `entity.attribute` -> permission (keys are checked against the catalog) */
  permissions: v.nullish(v.pipe(v.record(v.string(), FieldPermissionSchema, OBJECT), v.readonly()), {})
}, OBJECT), v.readonly())
export type FieldProfile = v.InferOutput<typeof FieldProfileSchema>

export const SHARE_ACCESS = ['read', 'readwrite'] as const
export type ShareAccess = typeof SHARE_ACCESS[number]

export interface Share {
  /** `<entity>/<id>` */
  readonly record: string
  /** `systemuser/<id>` or `team/<id>` */
  readonly principal: string
  readonly access: ShareAccess
}

export interface SecurityModel {
  /** bumped by every change */
  readonly version: number
  readonly org: Org
  readonly roles: readonly Role[]
  readonly userRoles: Readonly<Record<string, readonly string[]>>
  readonly teamRoles: Readonly<Record<string, readonly string[]>>
  /** a manager reaches the records of people below them, up to `depth` levels */
  readonly hierarchy: { readonly enabled: boolean, readonly depth: number }
  /** `entity.attribute` of secured fields */
  readonly securedFields: readonly string[]
  readonly fieldProfiles: readonly FieldProfile[]
  readonly shares: readonly Share[]
  /** offline profiles (which records go to which device); a user is in at most one */
  readonly profiles: readonly OfflineProfile[]
}

export const emptyModel = (org: Org = { businessUnits: [], teams: [], users: [] }): SecurityModel => ({
  version: 1, org, roles: [], userRoles: {}, teamRoles: {}, hierarchy: { enabled: true, depth: 3 },
  securedFields: [], fieldProfiles: [], shares: [], profiles: []
})

export const depthRank = (d: Depth): number => DEPTHS.indexOf(d)
