// When the device stores merge a record's updates: every live change of a record is a row of its own, and
// reading a change (for the record's index entry) reads all of them.

/** A record read with more stored updates than this has them merged into one with the store's next write. */
export const COMPACT_ROWS = 64
