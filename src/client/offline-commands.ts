// Prepares a command over several records on the device (lead qualify, appointment convert to case, …):
// refuses up front what the last metadata forbids, with the reason the server would give, and plans the
// records it creates with business-rule defaults filled in.

import { ACTIVE, DEFAULT_QUALIFICATION, planCommand, type CommandPlan, type StateCommand } from '../docs/commands.ts'
import type { EntityDef } from '../docs/catalog-types.ts'
import { exists, isDeleted, type RecordState } from '../docs/record.ts'
import type { FieldValue } from '../docs/values.ts'
import { evaluateRules, saveViolation } from '../metadata/business-rules.ts'
import { Reason } from '../protocol/receipts.ts'
import { checkCommand, OfflineRefusal, type DeviceMetadata } from './offline-rules.ts'
import { parseDocName } from '../ids.ts'

/**
 * Defaults and set-value actions fill a new record's values; then its rules must hold. A secured field
 * the user did not set is left alone (the server's rule writes leave secured fields out too).
 */
export const fillNew = (meta: DeviceMetadata, def: EntityDef, values: Record<string, FieldValue>): Record<string, FieldValue> => {
  const filled = evaluateRules(meta.businessRules ?? [], def.name, { statecode: 0, ...values }).values
  const ruleOnSecured = (k: string): boolean => !(k in values) && meta.fieldPermissions[`${def.name}.${k}`] !== undefined
  for (const k of Object.keys(filled)) if (k === 'statecode' || !def.attributes.some(a => a.name === k) || ruleOnSecured(k)) delete filled[k]
  const violation = saveViolation(meta.businessRules ?? [], def.name, { statecode: 0 }, { statecode: 0, ...filled }, Object.keys(filled))
  if (violation !== null) throw new OfflineRefusal(Reason.businessRule, violation)
  return filled as Record<string, FieldValue>
}

export const prepareCommand = (
  meta: DeviceMetadata, command: StateCommand, record: string, state: RecordState, newId: () => string
): { def: EntityDef, plan: CommandPlan } => {
  const entity = parseDocName(record)?.entity ?? ''
  const def = checkCommand(meta, entity, command)
  if (meta.privileges[entity]?.write !== true) throw new OfflineRefusal(Reason.noWritePrivilege, `no write privilege on ${entity}`)
  if (!exists(state) || isDeleted(state)) throw new OfflineRefusal(Reason.invalidValue, `${record} does not exist or is deleted`)
  if (state.meta.statecode !== ACTIVE) throw new OfflineRefusal(Reason.invalidValue, `${record} is not active (statecode ${String(state.meta.statecode)})`)
  const entities = (name: string): EntityDef | undefined => meta.entities.find(e => e.name === name)
  const plan = planCommand(command, record, def, state, entities, newId, meta.leadQualification ?? DEFAULT_QUALIFICATION)
  const creates = plan.creates.map(c => {
    const cdef = checkCommand(meta, c.entity, 'create')
    return { ...c, values: fillNew(meta, cdef, c.values) }
  })
  return { def, plan: { ...plan, creates } }
}
