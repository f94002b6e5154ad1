// What a device receives as metadata: its profile's entities and commands, the user's privileges and
// secured-field permissions, and the offline metadata (views, rules, flows, forms) of those entities.

import type { Catalog } from '../docs/catalog-types.ts'
import { pointersFor } from '../docs/activity-pointer.ts'
import { fieldPermission, mayAccess } from '../authz/decide.ts'
import type { SecurityModel } from '../authz/model.ts'
import type { OfflineProfile } from '../profiles/profile.ts'
import { NO_METADATA, type Metadata } from '../metadata/metadata.ts'
import { fnv1a32 } from '../protocol/device-frames.ts'
import type { Security } from './security.ts'

export const profileOf = (m: SecurityModel, userId: string): OfflineProfile | undefined =>
  (m.profiles ?? []).find(p => p.users.includes(userId))

/** The profile as its user's device gets it: with that user alone among its users (who else works under the
 * profile is the administrator's to know, not every device's). */
const ownProfile = (profile: OfflineProfile | undefined, userId: string): OfflineProfile | null =>
  profile === undefined ? null : { ...profile, users: [userId] }

/** What a device needs to work offline: its profile's entities, commands and the user's privileges. */
export const deviceMetadata = (catalog: Catalog, security: Security, userId: string, metadata: Metadata = NO_METADATA, maxAttachmentBytes?: number): string => {
  const ix = security.index
  const profile = profileOf(ix.model, userId)
  const listed = Object.keys(profile?.entities ?? {}).map(e => catalog.entities.get(e)!).filter(e => e !== undefined)
  // The activity pointer comes with the profile's activities (it has no records of its own to profile).
  const entities = [...listed, ...pointersFor(catalog, listed)]
  const privileges = Object.fromEntries(entities.map(e => [e.name, Object.fromEntries(
    (['create', 'read', 'write', 'delete', 'append', 'appendTo', 'assign', 'share'] as const).map(p => [p, mayAccess(ix, userId, p, e.name).allowed]))]))
  const fieldPermissions = Object.fromEntries(ix.model.securedFields.filter(f => entities.some(e => f.startsWith(`${e.name}.`)))
    .map(f => { const [e, a] = f.split('.', 2); return [f, fieldPermission(ix, userId, e, a)] }))
  const mine = (x: { entity: string }): boolean => entities.some(e => e.name === x.entity)
  return JSON.stringify({
    version: ix.version, digest: metadataDigest(metadata), userId, businessUnitId: ix.user(userId)?.businessUnitId ?? null, profile: ownProfile(profile, userId), entities, privileges, fieldPermissions,
    views: metadata.views.filter(mine), businessRules: metadata.businessRules.filter(mine), processFlows: metadata.processFlows.filter(mine),
    forms: metadata.forms.filter(mine),
    leadQualification: entities.some(e => e.name === 'lead') ? metadata.leadQualification : undefined,
    maxAttachmentBytes
  })
}

const digests = new WeakMap<Metadata, number>()

/** A 32-bit FNV-1a digest of the deployed metadata (never 0, which means "none" in hello). */
export const metadataDigest = (m: Metadata): number => {
  let d = digests.get(m)
  if (d === undefined) {
    d = fnv1a32(JSON.stringify(m)) || 1
    digests.set(m, d)
  }
  return d
}
