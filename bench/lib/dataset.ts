// The benchmark dataset: N accounts of ~20 fields owned by the demo user alice, the same every run.

import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { createRecord } from '../../src/docs/record.ts'
import { asRecordId } from '../../src/ids.ts'

export const account = buildCatalog().entities.get('account')!

/** Record name and full state of account i. */
export const benchRecord = (i: number): { name: string, id: string, doc: Y.Doc } => {
  const doc = new Y.Doc({ guid: `account/bench${i}` })
  const id = asRecordId(`bench${i}`)
  createRecord(doc, account, {
    id, ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north',
    values: {
      name: `Account ${i}`, accountnumber: `A-${i}`, telephone1: `+47 555 ${i}`, emailaddress1: `info${i}@example.com`,
      websiteurl: `https://a${i}.example`, address1_line1: `Street ${i}`, address1_city: 'Oslo', address1_postalcode: '0150',
      address1_country: 'Norway', industrycode: 1 + (i % 7), revenue: i * 100, numberofemployees: i % 1000, donotemail: i % 2 === 0,
      lastonholdtime: '2026-10-01', description: `Customer since ${2000 + (i % 25)}. Prefers visits on Tuesdays.`
    }
  }, { by: 'u-alice', at: '2026-11-20T00:00:00.000Z' })
  return { name: `account/${id}`, id, doc }
}
