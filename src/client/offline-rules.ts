// What the device refuses up front, from the last metadata it received: the same reason codes as the
// server's receipts, so a user learns at once what the server would drop at sync.

import type { EntityDef, OfflineCommand } from '../docs/catalog-types.ts'
import { Reason, type ReasonCode } from '../protocol/receipts.ts'
import type { ViewDef } from '../metadata/views.ts'
import type { BusinessRule } from '../metadata/business-rules.ts'
import type { ProcessFlow } from '../metadata/process-flows.ts'
import type { FormDef } from '../metadata/forms.ts'
import type { LeadQualification } from '../docs/commands.ts'
import type { NoteState } from '../docs/record.ts'
import { notePrivilegeNeeded, type NoteAction } from '../projection/decide-notes.ts'
import { parseDocName } from '../ids.ts'
import { ErrorCode, FieldsyncError } from '../errors.ts'

export interface DeviceMetadata {
  readonly version: number
  /** digest of the server's metadata this copy was made from */
  readonly digest?: number
  readonly userId: string
  readonly businessUnitId: string
  readonly entities: readonly EntityDef[]
  /** entity -> privilege -> held at some depth */
  readonly privileges: Readonly<Record<string, Readonly<Record<string, boolean>>>>
  /** `entity.attribute` of secured fields -> this user's permission */
  readonly fieldPermissions: Readonly<Record<string, { readonly read: boolean, readonly update: boolean, readonly create: boolean }>>
  /** system and quick views (and personal ones, to refuse by name) of the profile's entities */
  readonly views?: readonly ViewDef[]
  /** business rules and process flows of the profile's entities */
  readonly businessRules?: readonly BusinessRule[]
  readonly processFlows?: readonly ProcessFlow[]
  readonly forms?: readonly FormDef[]
  /** which records lead qualification creates (sent when lead is offline) */
  readonly leadQualification?: LeadQualification
  /** the largest attachment the server takes */
  readonly maxAttachmentBytes?: number
}

/** `reason` is the receipt reason code the server would drop the change with. */
export class OfflineRefusal extends FieldsyncError {
  override name = 'OfflineRefusal'
  readonly reason: ReasonCode
  constructor (reason: ReasonCode, message: string) {
    super(ErrorCode.offlineRefused, `${reason}: ${message}`)
    this.reason = reason
  }
}

const PRIVILEGE_OF: Partial<Record<OfflineCommand, string>> = { create: 'create', update: 'write', delete: 'delete' }
const MISSING: Partial<Record<OfflineCommand, ReasonCode>> = { create: Reason.noCreatePrivilege, update: Reason.noWritePrivilege, delete: Reason.noDeletePrivilege }

/** Throws OfflineRefusal when the catalog or the last-known privileges forbid `command` on `entity`. */
export const checkCommand = (meta: DeviceMetadata, entity: string, command: OfflineCommand): EntityDef => {
  const e = offlineEntity(meta, entity, command)
  const p = PRIVILEGE_OF[command]
  if (p !== undefined && meta.privileges[entity]?.[p] !== true) throw new OfflineRefusal(MISSING[command]!, `no ${p} privilege on ${entity}`)
  return e
}

/** The entity, when the device's profile and the catalog allow `command` on it offline (privileges aside). */
const offlineEntity = (meta: DeviceMetadata, entity: string, command: OfflineCommand): EntityDef => {
  const e = meta.entities.find(x => x.name === entity)
  if (e === undefined) throw new OfflineRefusal(Reason.commandNotOffline, `${entity} is not in this device's offline profile`)
  if (!e.commands.some(c => c === 'create' || c === 'update' || c === 'delete') && command !== 'read') {
    throw new OfflineRefusal(Reason.entityReadOnly, `${entity} is read-only offline`)
  }
  if (!e.commands.includes(command)) throw new OfflineRefusal(Reason.commandNotOffline, `${command} is not an offline command of ${entity}`)
  return e
}

/**
 * Throws when the last-known privileges forbid adding, editing or removing a note on a record of
 * `entity` (`note` is the note as the device holds it). A note is its creator's: adding one and editing
 * or removing your own needs appendTo; another user's needs write (edit) or delete (remove). The depth
 * (whether it reaches the record and the note's creator) is decided by the server at sync.
 */
export const checkNoteChange = (meta: DeviceMetadata, entity: string, action: NoteAction, note?: NoteState): EntityDef => {
  const e = offlineEntity(meta, entity, 'update')
  const need = notePrivilegeNeeded(meta.userId, action, note)
  if (meta.privileges[entity]?.[need.privilege] !== true) throw new OfflineRefusal(need.reason, `no ${need.privilege} privilege on ${entity}`)
  return e
}

/** Throws when a secured field may not be written by this user (on create, or on update). */
export const checkField = (meta: DeviceMetadata, entity: string, field: string, creating: boolean): void => {
  const p = meta.fieldPermissions[`${entity}.${field}`]
  if (p !== undefined && !(creating ? p.create : p.update)) {
    throw new OfflineRefusal(Reason.fieldSecured, `${entity}.${field} is secured and you may not ${creating ? 'set it on create' : 'update it'}`)
  }
}

/**
 * Lookups only to offline-enabled entities: a lookup value must name an entity of this device's profile
 * and one of the attribute's targets (a record the device does not hold is kept and resolved at sync).
 */
export const checkLookups = (meta: DeviceMetadata, entity: EntityDef, values: Readonly<Record<string, unknown>>): void => {
  for (const [field, value] of Object.entries(values)) {
    const attr = entity.attributes.find(a => a.name === field)
    if (attr?.type !== 'lookup' || typeof value !== 'string') continue
    const target = parseDocName(value)?.entity
    if (target === undefined) throw new OfflineRefusal(Reason.invalidValue, `${entity.name}.${field} expects a reference "<entity>/<id>"`)
    if (!(attr.targets ?? []).includes(target)) throw new OfflineRefusal(Reason.invalidValue, `${entity.name}.${field} may point at ${(attr.targets ?? []).join(', ')}, not ${target}`)
    if (!meta.entities.some(e => e.name === target)) throw new OfflineRefusal(Reason.invalidValue, `${entity.name}.${field} points at ${target}, which is not offline on this device`)
  }
}

/** N:N relationships are read-only offline: associating or disassociating through one is refused. */
export const refuseAssociation = (relationship: string): never => {
  throw new OfflineRefusal(Reason.relationshipReadOnly, `${relationship} is an N:N relationship; N:N relationships are read-only offline`)
}
