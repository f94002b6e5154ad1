// Fan-out between server instances over Redis pub/sub (README, "More than one instance"): after each
// commit an instance publishes "record R reached log position N" with the update bytes, the client ids it
// bound and its conflict entries for other users' sockets; security changes, presence and ended sign-ins
// go the same way.
// Redis carries nothing that storage does not hold: an instance applies a published update only when it
// is the next one its copy expects, and catches up from storage otherwise and after every reconnect, so a
// lost message or a Redis restart loses nothing (but a conflict entry pushed live: it waits in storage).

import { Redis } from 'ioredis'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import type { Rooms } from './rooms.ts'
import type { Security } from './security.ts'
import type { CommittedEvent, PresenceEvent, Published } from './room-events.ts'
import type { Receipt } from '../protocol/receipts.ts'
import type { DocName } from '../ids.ts'
import type { ChangesFeed } from './storage/feed-port.ts'
import type { RecordLocks } from './storage/port.ts'

export interface FanOutOptions {
  /** redis:// URL */
  readonly url: string
  /** channel names start with it, so deployments may share one Redis */
  readonly prefix: string
  /** this instance's id (its server client id: unique among instances) */
  readonly instance: number
  readonly rooms: Rooms
  readonly security: Security
  /** after a reconnect, what changed meanwhile is read here */
  readonly feed: ChangesFeed
  /** each loaded record's newest position is read here now and then (a message lost on a connection
   * that stayed up leaves a copy behind until then) */
  readonly locks: RecordLocks
  /** how often (ms); default SWEEP_MS */
  readonly sweepMs?: number
  /** sign-ins ended on one instance (a revoked phone, a sign-out): every instance's sockets of that
   * user check their tokens */
  readonly signIns?: {
    onSignInsEnded (l: (userId: string, here: boolean) => void): () => void
    endedElsewhere (userId: string): void
    /** the users whose sign-ins ended after `after` on any instance, as storage noted them */
    signInsEndedSince (after: number | null): { readonly position: number, readonly users: readonly string[] } | undefined
  }
}

export interface FanOut {
  /** the channels this instance listens on */
  readonly channels: readonly string[]
  close (): Promise<void>
}

const encodeRecord = (instance: number, e: CommittedEvent): Uint8Array => {
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, instance)
  encoding.writeVarString(enc, e.record)
  encoding.writeVarUint(enc, e.prevSeq ?? 0)
  encoding.writeVarUint(enc, e.seq ?? 0)
  encoding.writeVarUint(enc, e.updates.length)
  for (const u of e.updates) encoding.writeVarUint8Array(enc, u)
  // Then what the commit bound and its entries for other users (a message without them, from an older
  // instance, ends here).
  const bindings = e.bindings ?? []
  encoding.writeVarUint(enc, bindings.length)
  for (const b of bindings) { encoding.writeVarUint(enc, b.client); encoding.writeVarString(enc, b.principal) }
  encoding.writeVarString(enc, JSON.stringify(e.receipts ?? []))
  return encoding.toUint8Array(enc)
}

/** What follows a record message's updates (encodeRecord). */
const readPublished = (d: decoding.Decoder): Published => {
  if (!decoding.hasContent(d)) return {}
  const bindings = Array.from({ length: decoding.readVarUint(d) }, () => ({ client: decoding.readVarUint(d), principal: decoding.readVarString(d) }))
  const receipts = JSON.parse(decoding.readVarString(d)) as Receipt[]
  return { bindings, receipts }
}

const encodePresence = (instance: number, e: PresenceEvent): Uint8Array => {
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, instance)
  encoding.writeVarString(enc, e.record)
  encoding.writeVarUint8Array(enc, e.update)
  return encoding.toUint8Array(enc)
}

/** How often loaded copies are compared with their record's newest log position (ms). */
export const SWEEP_MS = 1000

/** How far below the newest log position heard a reconnect looks for what it may have missed. */
const HEARD_MARGIN = 10_000

/** Connects to Redis and starts relaying; resolves once subscribed. */
export const startFanOut = async (o: FanOutOptions): Promise<FanOut> => {
  const channel = { records: `${o.prefix}:records`, security: `${o.prefix}:security`, presence: `${o.prefix}:presence`, signIns: `${o.prefix}:sign-ins` }
  // Publishing never queues while Redis is away (peers catch up from storage when it is back).
  const pub = new Redis(o.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true })
  const sub = new Redis(o.url, { lazyConnect: true })
  let lastError = ''
  const report = (what: string) => (e: Error): void => {
    if (e.message === lastError) return
    lastError = e.message
    console.error(`Redis (${what}): ${e.message}`)
  }
  pub.on('error', report('publish'))
  sub.on('error', report('subscribe'))
  await Promise.all([pub.connect(), sub.connect()])
  await sub.subscribe(channel.records, channel.security, channel.presence, channel.signIns)
  // After a reconnect (ioredis subscribes again) whatever was published meanwhile is read from storage.
  // The newest log position this instance knows every record's change through (its own commits and
  // what it heard): after a reconnect, every record changed since is caught up or announced.
  let heard = await o.feed.head()
  const note = (seq: number | undefined): void => { if (seq !== undefined && seq > heard) heard = seq }
  sub.on('ready', () => {
    lastError = ''
    o.security.refresh()
    o.rooms.catchUpAll()
    // Feed positions are consecutive (one counter): messages in flight when the connection went are
    // within a margin below the newest position heard.
    const from = Math.max(0, heard - HEARD_MARGIN)
    void (async () => {
      const head = await o.feed.head()
      for (const [record, seq] of await o.feed.changedSince(from, head)) {
        // prevSeq 0: a loaded copy catches up from storage; the record's listeners (device sessions) hear of it
        o.rooms.applyPeer(record, 0, seq, [])
      }
      note(head)
    })().catch(e => console.error(`catching up after Redis reconnected: ${(e as Error).message}`))
  })

  const send = (ch: string, bytes: Uint8Array): void => {
    if (pub.status !== 'ready') return
    pub.publish(ch, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).catch(report('publish'))
  }
  const onCommitted = (e: CommittedEvent): void => {
    if (e.remote !== true && e.seq !== undefined) send(channel.records, encodeRecord(o.instance, e))
  }
  const onHeard = (e: CommittedEvent): void => { if (e.remote !== true) note(e.seq) }
  const onPresence = (e: PresenceEvent): void => send(channel.presence, encodePresence(o.instance, e))
  const offSecurity = o.security.onChange(ix => {
    const enc = encoding.createEncoder()
    encoding.writeVarUint(enc, o.instance)
    encoding.writeVarUint(enc, ix.version)
    send(channel.security, encoding.toUint8Array(enc))
  })
  const offSignIns = o.signIns?.onSignInsEnded((userId, here) => {
    if (!here) return
    const enc = encoding.createEncoder()
    encoding.writeVarUint(enc, o.instance)
    encoding.writeVarString(enc, userId)
    send(channel.signIns, encoding.toUint8Array(enc))
  })
  o.rooms.events.on('committed', onCommitted)
  o.rooms.events.on('committed', onHeard)
  o.rooms.events.on('presence', onPresence)

  sub.on('messageBuffer', (ch: Buffer, message: Buffer) => {
    try {
      const d = decoding.createDecoder(new Uint8Array(message.buffer, message.byteOffset, message.byteLength))
      if (decoding.readVarUint(d) === o.instance) return
      const name = ch.toString()
      if (name === channel.records) {
        const record = decoding.readVarString(d) as DocName
        const prevSeq = decoding.readVarUint(d)
        const seq = decoding.readVarUint(d)
        const updates = Array.from({ length: decoding.readVarUint(d) }, () => decoding.readVarUint8Array(d))
        o.rooms.applyPeer(record, prevSeq, seq, updates, readPublished(d))
        note(seq)
      } else if (name === channel.presence) {
        const record = decoding.readVarString(d) as DocName
        o.rooms.find(record)?.relayPresence(decoding.readVarUint8Array(d))
      } else if (name === channel.security) {
        o.security.refresh()
      } else if (name === channel.signIns) {
        o.signIns?.endedElsewhere(decoding.readVarString(d))
      }
    } catch (e) {
      // Only instances publish here; a message that does not decode is a bug or a foreign writer.
      console.error(`Redis: a message on ${ch.toString()} could not be read: ${(e as Error).message}`)
    }
  })

  // Redis may drop a message without dropping the connection (a publish refused while the publisher
  // reconnects, say): a loaded copy left behind catches up within a sweep, and so does the security
  // model (one indexed read of its newest version): a change whose message was lost takes read access
  // away here within a sweep, not only when one of this instance's record transactions reads it.
  let sweeping = false
  /** the newest ended sign-in this instance has looked at (storage's position) */
  let signInsSeen = o.signIns?.signInsEndedSince(null)?.position ?? 0
  const sweep = setInterval(() => {
    try {
      o.security.refresh()
    } catch (e) {
      console.error(`comparing the security model with storage: ${(e as Error).message}`)
    }
    // Likewise ended sign-ins: their sockets here close within a sweep, whatever became of the message.
    try {
      const ended = o.signIns?.signInsEndedSince(signInsSeen)
      if (ended !== undefined) {
        for (const u of ended.users) o.signIns?.endedElsewhere(u)
        signInsSeen = ended.position
      }
    } catch (e) {
      console.error(`reading ended sign-ins: ${(e as Error).message}`)
    }
    if (sweeping) return
    sweeping = true
    o.locks.positions(o.rooms.names()).then(p => o.rooms.catchUpTo(p), e => console.error(`comparing loaded records with storage: ${(e as Error).message}`)).finally(() => { sweeping = false })
  }, o.sweepMs ?? SWEEP_MS)
  sweep.unref()

  return {
    channels: Object.values(channel),
    close: async () => {
      clearInterval(sweep)
      o.rooms.events.off('committed', onCommitted)
      o.rooms.events.off('committed', onHeard)
      o.rooms.events.off('presence', onPresence)
      offSecurity()
      offSignIns?.()
      await Promise.allSettled([sub.quit(), pub.quit()])
      sub.disconnect()
      pub.disconnect()
    }
  }
}
