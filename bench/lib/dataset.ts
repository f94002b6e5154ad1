// The benchmark dataset: accounts of ~20 fields, the same every run — by default N accounts owned by the
// demo user alice; a team benchmark gives them other owners and ids. No secured field is written into a
// record's document (account.revenue lives in a document of its own, README "Record document layout"),
// so a server started over the seeded storage has no values to move (see markSecuredValuesPlaced).

import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { createRecord } from '../../src/docs/record.ts'
import { asRecordId } from '../../src/ids.ts'

export const account = buildCatalog().entities.get('account')!

export interface BenchOwner {
  /** `systemuser/<id>` or `team/<id>` */
  readonly ownerid: string
  readonly owningbusinessunit: string
  /** who wrote the record (a user id) */
  readonly by: string
}

const ALICE: BenchOwner = { ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north', by: 'u-alice' }

/** Record name and full state of account `<prefix><i>`. */
export const benchRecord = (i: number, owner: BenchOwner = ALICE, prefix = 'bench'): { name: string, id: string, doc: Y.Doc } => {
  const id = asRecordId(`${prefix}${i}`)
  const doc = new Y.Doc({ guid: `account/${id}` })
  createRecord(doc, account, {
    id, ownerid: owner.ownerid, owningbusinessunit: owner.owningbusinessunit,
    values: {
      name: `Account ${i}`, accountnumber: `A-${i}`, telephone1: `+47 555 ${i}`, emailaddress1: `info${i}@example.com`,
      websiteurl: `https://a${i}.example`, address1_line1: `Street ${i}`, address1_city: 'Oslo', address1_postalcode: '0150',
      address1_country: 'Norway', industrycode: 1 + (i % 7), numberofemployees: i % 1000, donotemail: i % 2 === 0,
      lastonholdtime: '2026-10-01', description: `Customer since ${2000 + (i % 25)}. Prefers visits on Tuesdays.`
    }
  }, { by: owner.by, at: '2026-11-20T00:00:00.000Z' })
  return { name: `account/${id}`, id, doc }
}
