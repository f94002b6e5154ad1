// The organization of bench/team: the demo model plus T teams of S sales reps in Sales North, each team
// owning R accounts. Every rep is in the demo's field-sales profile (own and team records, shares), so a
// rep's device holds its team's R accounts; the rep reads the whole unit (Salesperson: read at business
// unit depth), so the account table a scope is computed over holds every team's records.

import * as admin from '../../src/authz/admin.ts'
import type { SecurityModel } from '../../src/authz/model.ts'
import type { Catalog } from '../../src/docs/catalog-types.ts'
import { demoModel, demoProfiles } from '../../src/server/demo.ts'
import { benchRecord } from './dataset.ts'
import type { SeedRecord } from './seed.ts'

export interface TeamLayout {
  readonly teams: number
  /** reps in a team (each has one device) */
  readonly teamSize: number
  /** accounts each team owns (what each of its devices holds) */
  readonly recordsPerTeam: number
}

export const teamId = (team: number): string => `t-bench${team}`
export const repLogin = (team: number, member: number): string => `t${team}m${member}`
const repId = (team: number, member: number): string => `u-${repLogin(team, member)}`

/** The demo's security model with the benchmark's teams and reps, built through the admin API's validated changes. */
export const teamModel = (catalog: Catalog, layout: TeamLayout): SecurityModel => {
  let m = demoModel(catalog)
  const reps: string[] = []
  for (let t = 0; t < layout.teams; t++) {
    const members: string[] = []
    for (let s = 0; s < layout.teamSize; s++) {
      m = admin.addUser(m, { id: repId(t, s), login: repLogin(t, s), fullName: `Rep ${s} of team ${t}`, businessUnitId: 'bu-north' })
      m = admin.setRoles(m, 'user', repId(t, s), { roles: ['role-sales'] })
      members.push(repId(t, s))
    }
    m = admin.addTeam(m, { id: teamId(t), name: `Bench team ${t}`, businessUnitId: 'bu-north', members })
    reps.push(...members)
  }
  const sales = demoProfiles(catalog)[0] as { users: string[] }
  return admin.putProfile(m, catalog, { ...sales, users: [...sales.users, ...reps] })
}

/** Account `i` of team `t`: `account/t<t>r<i>`. */
export const teamRecordName = (team: number, i: number): string => `account/t${team}r${i}`

/** Every team's accounts, owned by the team (created by its first rep). */
export function * teamRecords (layout: TeamLayout): Generator<SeedRecord> {
  for (let t = 0; t < layout.teams; t++) {
    for (let i = 0; i < layout.recordsPerTeam; i++) {
      yield benchRecord(i, { ownerid: `team/${teamId(t)}`, owningbusinessunit: 'bu-north', by: repId(t, 0) }, `t${t}r`)
    }
  }
}
