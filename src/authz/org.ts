// The organization: business units (a tree), teams and users (each in one unit, with a manager). The
// schemas parse what the admin API receives; their outputs are the types.

import * as v from 'valibot'
import { BOOLEAN, idSet, newOrId, OBJECT, text } from './input.ts'

export const BusinessUnitSchema = v.pipe(v.object({
  id: newOrId,
  name: text(),
  /** null for the organization's root unit */
  parentId: v.nullish(text(), null)
}, OBJECT), v.readonly())
export type BusinessUnit = v.InferOutput<typeof BusinessUnitSchema>

export const TeamSchema = v.pipe(v.object({
  id: newOrId,
  name: text(),
  businessUnitId: text(),
  members: idSet
}, OBJECT), v.readonly())
export type Team = v.InferOutput<typeof TeamSchema>

export const UserSchema = v.pipe(v.object({
  id: newOrId,
  /** what a person types to sign in */
  login: v.pipe(text(64), v.regex(/^[a-z0-9._-]+$/, 'expected lowercase letters, digits, . _ -')),
  fullName: text(),
  businessUnitId: text(),
  managerId: v.nullish(text(), null),
  /** a disabled user cannot sign in, none of their tokens is taken, and they hold no privileges */
  disabled: v.optional(v.boolean(BOOLEAN)),
  /** who the user is at the external identity provider: the value of OIDC_USER_CLAIM in their tokens */
  externalId: v.optional(text(255))
}, OBJECT), v.readonly())
export type User = v.InferOutput<typeof UserSchema>

export interface Org {
  readonly businessUnits: readonly BusinessUnit[]
  readonly teams: readonly Team[]
  readonly users: readonly User[]
}
