// A record's system fields (its `meta` map, README "Record document layout") and the lists of them each
// part of the system reads: the stamps of a save, the fields a filter may name, the fields a device lists.

/** Keys of the `meta` map. Only these are record metadata; anything else there is foreign. */
export const META_KEYS = [
  'entity', 'id', 'ownerid', 'owningbusinessunit', 'createdby', 'createdon', 'modifiedby', 'modifiedon',
  'statecode', 'activestage', 'deletedby', 'deletedon', 'deletedseen'
] as const
export type MetaKey = typeof META_KEYS[number]

/** The stamps of a save (of a record, and of a note): who saved it last, and when (a UTC date-time). */
export const STAMP = { by: 'modifiedby', at: 'modifiedon' } as const satisfies Record<string, MetaKey>

/** Whether `key` is one of the stamps, which say who saved and not what was saved. */
export const isStamp = (key: string): boolean => key === STAMP.by || key === STAMP.at

/** The system fields a filter (a view's, a business rule's condition, a profile's custom rule) may name besides an entity's attributes. */
export const FILTER_SYSTEM_FIELDS: readonly MetaKey[] = ['ownerid', 'owningbusinessunit', 'statecode', 'createdon', 'modifiedon', 'createdby', 'modifiedby']

/** The system fields a device lists with a record's values (its index, views, search and the activity pointer). */
export const LISTED_SYSTEM_FIELDS: readonly MetaKey[] = ['ownerid', 'owningbusinessunit', 'statecode', 'createdon', 'modifiedon']
