// The security model: organization, roles with privileges per entity at a depth, team and user role
// assignments, hierarchy security, field security and record shares. Plain data, versioned.

import type { Org } from './org.ts'
import type { OfflineProfile } from '../profiles/profile.ts'

export const PRIVILEGES = ['create', 'read', 'write', 'delete', 'append', 'appendTo', 'assign', 'share'] as const
export type Privilege = typeof PRIVILEGES[number]

/** How far a privilege reaches, from narrowest to widest. */
export const DEPTHS = ['user', 'businessUnit', 'parentChild', 'organization'] as const
export type Depth = typeof DEPTHS[number]

export interface Role {
  readonly id: string
  readonly name: string
  /** may use the admin API */
  readonly admin: boolean
  /** entity -> privilege -> depth; a missing privilege is not granted */
  readonly privileges: Readonly<Record<string, Partial<Record<Privilege, Depth>>>>
}

export interface FieldPermission { readonly read: boolean, readonly update: boolean, readonly create: boolean }

export interface FieldProfile {
  readonly id: string
  readonly name: string
  readonly users: readonly string[]
  readonly teams: readonly string[]
  /** `entity.attribute` -> permission */
  readonly permissions: Readonly<Record<string, FieldPermission>>
}

export type ShareAccess = 'read' | 'readwrite'

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
