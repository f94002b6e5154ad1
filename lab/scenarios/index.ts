// The scenario generators the lab knows, in the order the tables list them. Add one: write a file
// exporting a `Scenario` (gen.ts) and list it here.

import type { Scenario } from './gen.ts'
import { clockSkew } from './clock-skew.ts'
import { concurrentTyping } from './concurrent-typing.ts'
import { deleteVsEdit } from './delete-vs-edit.ts'
import { fieldSalesWeek } from './field-sales-week.ts'
import { longOffline } from './long-offline.ts'
import { revokedOffline } from './revoked-offline.ts'
import { sameFieldRace } from './same-field-race.ts'
import { scaling } from './scaling.ts'

export const SCENARIOS: readonly Scenario[] = [fieldSalesWeek, sameFieldRace, longOffline, clockSkew, revokedOffline, deleteVsEdit, concurrentTyping, scaling]
