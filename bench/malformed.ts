// bench/malformed: the cost of malformed-but-plausible y-websocket frames, ours against
// @y/websocket-server on the same seeded frames, same machine, alternating rounds; and (mode `slow`)
// server memory while a client that stops reading keeps asking for a large presence state.
// Usage: npm run bench:malformed -- [frames=5000] [frames|slow|all]
//   SEED=<n> replays the frames; POOL sockets (16) x PIPELINE frames each (2) per batch, then a probe;
//   ROUNDS (2); KINDS=a,b to send only some kinds; PROFILE=<dir> writes a CPU profile of each server's
//   measured window and prints fieldsync's hot spots; SLOW_FRAMES (400), SLOW_SECONDS (10), STATE_KB (256).

import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import * as encoding from 'lib0/encoding'
import * as prng from 'lib0/prng'
import { FrameKinds, malformedFrame, type Frame, type FrameKind } from './lib/malformed-frames.ts'
import { cpuSeconds, ours, peer, rssMiB, type Running, type Target } from './lib/bench-servers.ts'
import { openSocket, Probe, Slot } from './lib/sockets.ts'
import { summarizeProfile } from './lib/cpu-profile.ts'

const N = Number(process.argv[2] ?? 5_000)
const MODE = process.argv[3] ?? 'all'
const SEED = process.env.SEED !== undefined ? Number(process.env.SEED) : Math.floor(Math.random() * 2 ** 31)
const ROUNDS = Number(process.env.ROUNDS ?? 2)
const POOL = Number(process.env.POOL ?? 16)
const PIPELINE = Number(process.env.PIPELINE ?? 2)
const KINDS = (process.env.KINDS ?? FrameKinds.join(',')).split(',') as FrameKind[]
const PROFILE = process.env.PROFILE === undefined ? undefined : resolve(process.env.PROFILE)
const SLOW_FRAMES = Number(process.env.SLOW_FRAMES ?? 400)
const SLOW_SECONDS = Number(process.env.SLOW_SECONDS ?? 10)
const STATE_KB = Number(process.env.STATE_KB ?? 256)
if (!['frames', 'slow', 'all'].includes(MODE)) throw new Error(`mode must be frames, slow or all, got ${MODE}`)
for (const k of KINDS) if (!(FrameKinds as readonly string[]).includes(k)) throw new Error(`unknown kind ${k}; kinds: ${FrameKinds.join(', ')}`)

const syncStep2 = (payload: Uint8Array): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0); encoding.writeVarUint(e, 1); encoding.writeVarUint8Array(e, payload)
  return encoding.toUint8Array(e)
}

/** The record's full state as our server holds it (demo data), so the peer can hold the same. */
const fetchRecordState = async (): Promise<Uint8Array> => {
  const srv = await ours.start()
  try {
    const probe = await Probe.open(srv.url)
    const step2 = await probe.ask()
    probe.close()
    const d = new Uint8Array(step2)
    // [0, 1, var-length, update]: skip the var-uint length
    let at = 2
    while ((d[at] & 0x80) !== 0) at++
    return d.slice(at + 1)
  } finally {
    await srv.proc.kill('SIGTERM')
  }
}

/** A fresh server holding the record (the peer starts empty: give it ours' state), and a probe. */
const startWithRecord = async (t: Target, base: Uint8Array, profileFile?: string): Promise<{ srv: Running, probe: Probe, stateBytes: number }> => {
  const srv = await t.start(profileFile)
  const probe = await Probe.open(srv.url)
  if (t === peer) probe.send(syncStep2(base))
  return { srv, probe, stateBytes: (await probe.ask()).length }
}

interface FramesResult { seconds: number, rate: number, cpuPer1000: number, rssPeak: number, opens: number, closes: Map<number, number>, logged: number, stateBefore: number, stateAfter: number, probeMaxMs: number }

const runFrames = async (t: Target, frames: Frame[], base: Uint8Array, profileFile?: string): Promise<FramesResult> => {
  const { srv, probe, stateBytes } = await startWithRecord(t, base, profileFile)
  const pid = srv.proc.child.pid!
  const closes = new Map<number, number>()
  const slots = Array.from({ length: POOL }, () => new Slot(srv.url, closes))
  try {
    await Promise.all(slots.map(s => s.ready()))
    const logged0 = srv.logged()
    const cpu0 = cpuSeconds(pid)
    const stopProfile = srv.profile()
    const t0 = performance.now()
    const batchSize = POOL * PIPELINE
    let probeMaxMs = 0
    for (let b = 0; b < frames.length; b += batchSize) {
      const batch = frames.slice(b, b + batchSize)
      // Each slot sends its share back to back on an open socket, reopening it first if the server closed it.
      await Promise.all(slots.map(async (s, i) => {
        for (let j = i; j < batch.length; j += POOL) (await s.ready()).send(batch[j].bytes)
      }))
      const p0 = performance.now()
      await probe.ask()
      probeMaxMs = Math.max(probeMaxMs, performance.now() - p0)
    }
    const seconds = (performance.now() - t0) / 1000
    const cpu = cpuSeconds(pid) - cpu0
    await stopProfile()
    const stateAfter = (await probe.ask()).length
    return {
      seconds, rate: frames.length / seconds, cpuPer1000: cpu / frames.length * 1000, rssPeak: rssMiB(pid).peak,
      opens: slots.reduce((n, s) => n + s.opens, 0) - POOL, closes: new Map(closes), logged: srv.logged() - logged0,
      stateBefore: stateBytes, stateAfter, probeMaxMs
    }
  } finally {
    for (const s of slots) s.close()
    probe.close()
    await srv.proc.kill('SIGTERM')
  }
}

const framesMode = async (base: Uint8Array): Promise<void> => {
  const gen = prng.create(SEED)
  const frames: Frame[] = []
  for (let tries = 0; frames.length < N && tries < N * 100; tries++) {
    const f = malformedFrame(gen)
    if (KINDS.includes(f.kind)) frames.push(f)
  }
  const perKind = FrameKinds.map(k => `${k} ${frames.filter(f => f.kind === k).length}`).join(', ')
  console.log(`frames: ${frames.length} (${perKind}), ${frames.reduce((n, f) => n + f.bytes.length, 0)} bytes; pool ${POOL} sockets x ${PIPELINE} frames per batch, then a sync step 1 on a healthy socket`)
  const best = new Map<Target, FramesResult>()
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of round % 2 === 0 ? [peer, ours] : [ours, peer]) {
      const profileFile = PROFILE === undefined ? undefined : join(PROFILE, `${t.short}-round${round + 1}.cpuprofile`)
      const r = await runFrames(t, frames, base, profileFile)
      if ((best.get(t)?.rate ?? 0) < r.rate) best.set(t, r)
      const closes = [...r.closes].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c}x${n}`).join(' ') || 'none'
      console.log(`round ${round + 1}  ${t.label.padEnd(47)} ${r.seconds.toFixed(2).padStart(7)} s ${Math.round(r.rate).toString().padStart(7)} frames/s   CPU ${r.cpuPer1000.toFixed(3)} s/1000 frames   peak RSS ${r.rssPeak.toFixed(0)} MiB   reconnects ${r.opens} (closes ${closes})   slowest probe ${r.probeMaxMs.toFixed(0)} ms   logged ${(r.logged / 1e6).toFixed(1)} MB   record state ${r.stateBefore} -> ${r.stateAfter} B`)
      if (profileFile !== undefined) printProfile(t, profileFile)
    }
  }
  const o = best.get(ours)!
  const p = best.get(peer)!
  console.log(`best of ${ROUNDS}:`)
  console.log(`  frames/s (higher is better)         fieldsync ${Math.round(o.rate)}, peer ${Math.round(p.rate)}, fieldsync/peer ${(o.rate / p.rate).toFixed(2)}x`)
  console.log(`  server CPU s per 1000 frames        fieldsync ${o.cpuPer1000.toFixed(3)}, peer ${p.cpuPer1000.toFixed(3)}, fieldsync/peer ${(o.cpuPer1000 / p.cpuPer1000).toFixed(2)}x`)
  console.log(`  server peak RSS MiB                 fieldsync ${o.rssPeak.toFixed(0)}, peer ${p.rssPeak.toFixed(0)}, fieldsync/peer ${(o.rssPeak / p.rssPeak).toFixed(2)}x`)
}

/** Where a malformed frame's time goes in fieldsync (inclusive; they overlap where one calls another). */
const MARKERS: [string, RegExp][] = [
  ['token check (hono JWT verify, WebCrypto HMAC, async)', /^verifying hono\/dist\/utils\/jwt\/jws/],
  ['  of which HMAC key import per verify', /^importPublicKey hono/],
  ['websocket handshake (ws handleUpgrade)', /^handleUpgrade ws\/lib\/websocket-server/],
  ['hono routing of the upgrade request', /^fetch hono\/dist\/hono-base/],
  ['delivered privilege version (SQLite SELECT per upgrade)', /^delivered src\/server\/security\.ts/],
  ['join: step 1 + presence to the new socket', /^join src\/server\/room\.ts/],
  ['onClose: leave + setDelivered (SQLite UPSERT per close)', /^onClose src\/server\/app\.ts/],
  ['  of which setDelivered', /^setDelivered src\/server\/security\.ts/],
  ['better-sqlite3 prepare (statements prepared per call)', /^prepare better-sqlite3/],
  ['room.receive (decode, enqueue, presence)', /^receive src\/server\/room\.ts/],
  ['room queue: process (checks, step 2 replies, projection, commit)', /^process src\/server\/room\.ts/],
  ['  of which checkUpdate', /^\S+ src\/server\/update-check\.ts/],
  ['  of which the projection', /^\S+ src\/projection\/project\.ts/],
  ['storage flush (group commit)', /^flush src\/server\/storage\/sqlite\.ts/],
  ['closing sockets (ws close)', /^close ws\/lib\/websocket\.js/],
  ['socket writes (writev)', /^writev$/],
  ['garbage collector', /^\(garbage collector\)$/]
]

const printProfile = (t: Target, file: string): void => {
  const s = summarizeProfile(file, 10)
  console.log(`  CPU profile of ${t.short} (${file}): ${s.totalMs.toFixed(0)} ms busy`)
  if (t === ours) {
    console.log('  fieldsync by part (inclusive):')
    for (const [what, re] of MARKERS) {
      const ms = [...s.all].filter(([name]) => re.test(name)).reduce((n, [, v]) => Math.max(n, v), 0)
      console.log(`    ${ms.toFixed(0).padStart(7)} ms ${(ms / s.totalMs * 100).toFixed(0).padStart(3)}%  ${what}`)
    }
  }
  console.log('  by inclusive time:')
  for (const f of s.inclusive) console.log(`    ${f.ms.toFixed(0).padStart(7)} ms ${(f.ms / s.totalMs * 100).toFixed(0).padStart(3)}%  ${f.name}`)
  console.log('  by self time:')
  for (const f of s.self) console.log(`    ${f.ms.toFixed(0).padStart(7)} ms ${(f.ms / s.totalMs * 100).toFixed(0).padStart(3)}%  ${f.name}`)
}

/** An awareness update setting one large presence state. */
const presence = (client: number, clock: number, state: string): Uint8Array => {
  const inner = encoding.createEncoder()
  encoding.writeVarUint(inner, 1); encoding.writeVarUint(inner, client); encoding.writeVarUint(inner, clock); encoding.writeVarString(inner, state)
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 1); encoding.writeVarUint8Array(e, encoding.toUint8Array(inner))
  return encoding.toUint8Array(e)
}

type SlowVariant = 'query-awareness' | 'awareness-echo'

const runSlow = async (t: Target, variant: SlowVariant, base: Uint8Array): Promise<string> => {
  const { srv, probe } = await startWithRecord(t, base)
  const pid = srv.proc.child.pid!
  try {
    const before = rssMiB(pid).now
    let closedWith: number | null = null
    let drained = 0
    const attacker = await openSocket(srv.url, b => { drained += b.length })
    attacker.on('error', () => {})
    const closed = new Promise<void>(r => attacker.once('close', code => { closedWith = code; r() }))
    const state = JSON.stringify({ user: { name: 'slow consumer' }, blob: 'x'.repeat(STATE_KB * 1024) })
    const client = 987_654_321
    attacker.send(presence(client, 1, state))
    await probe.ask()
    const socket = (attacker as unknown as { _socket: { pause (): void, resume (): void } })._socket
    socket.pause() // stop reading: whatever the server sends piles up on its side
    const t0 = performance.now()
    let sent = 0
    let probeMaxMs = 0
    while (sent < SLOW_FRAMES && performance.now() - t0 < SLOW_SECONDS * 1000 && attacker.readyState === attacker.OPEN) {
      for (let i = 0; i < 20 && sent < SLOW_FRAMES; i++, sent++) attacker.send(variant === 'query-awareness' ? Uint8Array.of(3) : presence(client, 2 + sent, state))
      const p0 = performance.now()
      await probe.ask() // the server has read the burst; also: is another client still served?
      probeMaxMs = Math.max(probeMaxMs, performance.now() - p0)
    }
    const seconds = (performance.now() - t0) / 1000
    const during = rssMiB(pid)
    // Read again: a server that closed the socket shows it now (its close frame is behind what it sent).
    socket.resume()
    const quiet = async (): Promise<void> => {
      const deadline = Date.now() + 30_000
      let last = -1
      while (closedWith === null && Date.now() < deadline && drained !== last) { last = drained; await new Promise(r => setTimeout(r, 500)) }
    }
    await Promise.race([closed, quiet()])
    attacker.terminate()
    await closed
    await new Promise(r => setTimeout(r, 2000)) // let the server free what it held for the socket
    const after = rssMiB(pid).now
    return `${t.label.padEnd(47)} ${variant.padEnd(15)} ${sent} frames in ${seconds.toFixed(1)} s   RSS ${before.toFixed(0)} -> ${during.now.toFixed(0)} MiB (peak ${during.peak.toFixed(0)}), ${after.toFixed(0)} MiB 2 s after it left   ` +
      `closed by server: ${closedWith !== null && closedWith !== 1006 && closedWith !== 1005 ? `yes (${closedWith})` : 'no'}   ${(drained / 2 ** 20).toFixed(1)} MiB queued for it   other client's slowest sync ${probeMaxMs.toFixed(0)} ms`
  } finally {
    probe.close()
    await srv.proc.kill('SIGTERM')
  }
}

const slowMode = async (base: Uint8Array): Promise<void> => {
  console.log(`slow consumer: sets a ${STATE_KB} KiB presence state, stops reading, then sends up to ${SLOW_FRAMES} frames for at most ${SLOW_SECONDS} s, 20 at a time (query-awareness: message type 3; awareness-echo: the same state again, which both servers relay to every socket)`)
  for (const variant of ['query-awareness', 'awareness-echo'] as const) {
    for (const t of [peer, ours]) console.log(await runSlow(t, variant, base))
  }
}

console.log(`bench/malformed: SEED=${SEED} (SEED=<n> to replay)`)
if (PROFILE !== undefined) mkdirSync(PROFILE, { recursive: true })
const base = await fetchRecordState()
console.log(`record account/acc0001: ${base.length} bytes of state (the peer is given the same)`)
if (MODE !== 'slow') await framesMode(base)
if (MODE !== 'frames') await slowMode(base)
process.exit(0)
