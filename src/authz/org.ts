// The organization: business units (a tree), teams and users (each in one unit, with a manager).

export interface BusinessUnit {
  readonly id: string
  readonly name: string
  readonly parentId: string | null
}

export interface Team {
  readonly id: string
  readonly name: string
  readonly businessUnitId: string
  readonly members: readonly string[]
}

export interface User {
  readonly id: string
  /** what a person types to sign in (demo) */
  readonly login: string
  readonly fullName: string
  readonly businessUnitId: string
  readonly managerId: string | null
}

export interface Org {
  readonly businessUnits: readonly BusinessUnit[]
  readonly teams: readonly Team[]
  readonly users: readonly User[]
}
