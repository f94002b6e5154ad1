// The strategies the lab knows, in the order the tables list them. Add one: write a file exporting a
// `Strategy` (lab/strategy.ts) and list it here.

import type { Strategy } from '../strategy.ts'
import { automerge } from './automerge.ts'
import { fieldLwwHlc } from './field-lww-hlc.ts'
import { fieldsyncStrategies } from './fieldsync.ts'
import { recordLww } from './record-lww.ts'

export const STRATEGIES: readonly Strategy[] = [...fieldsyncStrategies, recordLww, fieldLwwHlc, automerge]
