import { describe, expect, it } from 'vitest'
import { parseDocName, parsePrincipalRef } from '../src/ids.ts'

describe('ids', () => {
  it('has one strict parser for principal references', () => {
    expect(parsePrincipalRef('systemuser/u-carol')).toEqual({ kind: 'systemuser', id: 'u-carol' })
    expect(parsePrincipalRef('team/t-north')).toEqual({ kind: 'team', id: 't-north' })
    for (const bad of ['systemuser/u-carol/x', 'systemuser/u-carol/', 'team/', '/u-carol', 'u-carol', 'user/u-carol', ' systemuser/u-carol', 'systemuser/u carol', 'systemuser/-x', `systemuser/${'a'.repeat(65)}`, 42, null]) {
      expect(parsePrincipalRef(bad), String(bad)).toBeNull()
    }
    expect(parseDocName('account/acc0001/x')).toBeNull()
  })
})
