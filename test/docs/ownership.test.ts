import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { buildCatalog } from '../../src/docs/catalog.ts'
import { ModelIndex, ownerUnit } from '../../src/authz/decide.ts'
import { demoModel } from '../../src/server/demo.ts'
import { metaOwnership, rowOwnership, userOwned } from '../../src/docs/ownership.ts'
import { createRecord, readRecord } from '../../src/docs/record.ts'
import type { RecordId } from '../../src/ids.ts'

const catalog = buildCatalog()
const ix = new ModelIndex(demoModel(catalog))

describe('record ownership', () => {
  it('reads the same owner from a record\'s metadata as from its row', () => {
    const doc = new Y.Doc()
    createRecord(doc, catalog.entities.get('account')!, { id: 'a1' as RecordId, ...userOwned('u-alice', 'bu-north') }, { by: 'u-alice', at: '2026-11-27T12:00:00Z' })
    const meta = readRecord(doc).meta
    const expected = { name: 'account/a1', ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north' }
    expect(metaOwnership('account/a1', k => meta[k])).toEqual(expected)
    expect(metaOwnership('account/a1', k => doc.getMap('meta').get(k))).toEqual(expected)
    expect(rowOwnership('account/a1', { id: 'a1', ownerid: 'systemuser/u-alice', owningbusinessunit: 'bu-north', name: 'x' })).toEqual(expected)
  })

  it('has none in metadata without both an owner and a unit', () => {
    expect(metaOwnership('account/a1', () => undefined)).toBeNull()
    expect(metaOwnership('account/a1', k => k === 'ownerid' ? 'systemuser/u-alice' : undefined)).toBeNull()
    expect(metaOwnership('account/a1', k => k === 'ownerid' ? 'systemuser/u-alice' : 7)).toBeNull()
  })

  it('puts a record in its owner\'s business unit, a user\'s or a team\'s', () => {
    expect(ownerUnit(ix, 'systemuser/u-carol')).toEqual({ unit: 'bu-south' })
    expect(ownerUnit(ix, 'team/t-service')).toEqual({ unit: 'bu-service' })
    expect(ownerUnit(ix, 'systemuser/u-nobody')).toEqual({ problem: 'no-such-owner' })
    expect(ownerUnit(ix, 'team/u-carol')).toEqual({ problem: 'no-such-owner' })
    for (const bad of ['u-carol', 'systemuser/', 'businessunit/bu-south', 'systemuser/u-carol/x', 42, undefined]) {
      expect(ownerUnit(ix, bad), String(bad)).toEqual({ problem: 'not-a-principal' })
    }
  })
})
