// Which local edits wait for attachment content: an edit that points a note at content the server does
// not have yet would be dropped there, so its record's edits stay on the device until the content is
// uploaded (or refused for good). Pure.

import * as Y from 'yjs'
import type { PendingUpdate } from './store.ts'

/** The attachment hashes a local edit (a Yjs update) writes. */
export const contentHashesOf = (update: Uint8Array): string[] => {
  const out: string[] = []
  for (const s of Y.decodeUpdate(update).structs) {
    if (!(s instanceof Y.Item) || s.parentSub !== 'contenthash' || !(s.content instanceof Y.ContentAny)) continue
    for (const v of s.content.arr) if (typeof v === 'string') out.push(v)
  }
  return out
}

/**
 * The records whose pending edits must wait: those with an edit pointing at content in `waiting`, and
 * (a command goes as a whole) those sharing a pending command with one. A record's later edits build on
 * its earlier ones, so the whole record waits, not only the edit.
 */
export const heldRecords = (pending: readonly PendingUpdate[], waiting: ReadonlySet<string>): Set<string> => {
  const held = new Set<string>()
  if (waiting.size === 0) return held
  for (const p of pending) if (!held.has(p.record) && contentHashesOf(p.update).some(h => waiting.has(h))) held.add(p.record)
  for (let grew = held.size > 0; grew;) {
    grew = false
    for (const p of pending) {
      if (p.command === undefined || held.has(p.record)) continue
      const group = p.command.group
      if (pending.some(q => q.command?.group === group && held.has(q.record))) { held.add(p.record); grew = true }
    }
  }
  return held
}
