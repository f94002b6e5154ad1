// The projection context of one member's update (src/projection/project.ts ProjectContext), made for every
// update: a class, so that each is one plain object of fixed shape with the lazy `delivered` on its
// prototype (an object literal with a getter made a new accessor and closure per update, and a slow
// object that every read of the decision went through).

import type { EntityDef } from '../docs/catalog-types.ts'
import type { ModelIndex } from '../authz/decide.ts'
import type { RecordOwnership } from '../docs/ownership.ts'
import type { BusinessRule } from '../metadata/business-rules.ts'
import type { ProcessFlow } from '../metadata/process-flows.ts'
import type { CommandGrant } from '../projection/decide-changes.ts'
import type { ProjectContext } from '../projection/project.ts'
import type { Security } from './security.ts'

/** Everything of a ProjectContext but `delivered`, which is read from `security` when asked for. */
export type UpdateContextInit = Omit<ProjectContext, 'delivered'> & {
  readonly security: Security
  /** the privilege version the member's device last received (undefined: not known) */
  readonly deliveredVersion: number | undefined
}

export class UpdateContext implements ProjectContext {
  readonly entity: EntityDef
  readonly record: string
  readonly userId: string
  readonly ix: ModelIndex
  readonly now: string | undefined
  readonly rules: readonly BusinessRule[] | undefined
  readonly flows: readonly ProcessFlow[] | undefined
  readonly parent: RecordOwnership | null | undefined
  readonly secured: ReadonlySet<string> | undefined
  readonly elsewhere: ProjectContext['elsewhere']
  readonly blobSize: ProjectContext['blobSize']
  readonly ownershipOf: ProjectContext['ownershipOf']
  readonly isServerClient: ProjectContext['isServerClient']
  readonly command: CommandGrant | undefined
  readonly reject: ProjectContext['reject']
  readonly conflicts: ProjectContext['conflicts']
  private readonly security: Security
  private readonly deliveredVersion: number | undefined

  constructor (c: UpdateContextInit) {
    this.entity = c.entity
    this.record = c.record
    this.userId = c.userId
    this.ix = c.ix
    this.now = c.now
    this.rules = c.rules
    this.flows = c.flows
    this.parent = c.parent
    this.secured = c.secured
    this.elsewhere = c.elsewhere
    this.blobSize = c.blobSize
    this.ownershipOf = c.ownershipOf
    this.isServerClient = c.isServerClient
    this.command = c.command
    this.reject = c.reject
    this.conflicts = c.conflicts
    this.security = c.security
    this.deliveredVersion = c.deliveredVersion
  }

  /** (Read only to word a refusal: a socket may name any kept version, and loading one is not free.) */
  get delivered (): ModelIndex | undefined {
    return this.deliveredVersion === undefined ? undefined : this.security.at(this.deliveredVersion)
  }
}
