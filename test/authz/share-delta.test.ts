// shareDelta: a change of the model that only adds or removes shares says which; any other change is null.

import { describe, expect, it } from 'vitest'
import { buildCatalog } from '../../src/docs/catalog.ts'
import * as admin from '../../src/authz/admin.ts'
import { shareDelta } from '../../src/authz/share-delta.ts'
import { demoModel } from '../../src/server/demo.ts'

const m0 = demoModel(buildCatalog())

describe('shareDelta', () => {
  it('names the shares added, removed, or given another access', () => {
    const m1 = admin.setShare(m0, 'account/a1', { principal: 'systemuser/u-alice', access: 'read' })
    expect(shareDelta(m0, m1)).toEqual({ added: [{ record: 'account/a1', principal: 'systemuser/u-alice', access: 'read' }], removed: [] })
    const m2 = admin.setShare(m1, 'account/a1', { principal: 'systemuser/u-alice', access: 'readwrite' })
    expect(shareDelta(m1, m2)).toEqual({ added: [{ record: 'account/a1', principal: 'systemuser/u-alice', access: 'readwrite' }], removed: [{ record: 'account/a1', principal: 'systemuser/u-alice', access: 'read' }] })
    const m3 = admin.setShare(m2, 'account/a1', { principal: 'systemuser/u-alice', access: null })
    expect(shareDelta(m2, m3)).toEqual({ added: [], removed: [{ record: 'account/a1', principal: 'systemuser/u-alice', access: 'readwrite' }] })
  })

  it('is null when anything but shares changed', () => {
    expect(shareDelta(m0, admin.setRoles(m0, 'user', 'u-alice', { roles: [] }))).toBeNull()
    expect(shareDelta(m0, admin.setHierarchy(m0, { enabled: false }))).toBeNull()
    expect(shareDelta(m0, admin.setTeamMembers(m0, 't-north', { members: ['u-alice'] }))).toBeNull()
    const both = { ...admin.setShare(m0, 'account/a1', { principal: 'team/t-north', access: 'read' }), hierarchy: { enabled: false, depth: 1 } }
    expect(shareDelta(m0, both)).toBeNull()
  })
})
