// Preloaded (node --import) into a benchmark's server child: on SIGUSR2 it prints the longest event-loop
// delay and the CPU time since the previous SIGUSR2 (or the start), then starts over, so a benchmark
// measures how long the server's loop was blocked during one phase. On a machine others share, a delay
// also counts time the process waited for a core: `busy` is the most time the main thread spent on a
// core between two ticks of a 5 ms timer (Linux schedstat), the longest stretch it kept the loop busy
// itself. With PROFILE_PHASE=<n> it also
// records a V8 CPU profile from the n-th SIGUSR2 to the next, written to $CPU_PROFILE_FILE.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Session } from 'node:inspector'
import { readFileSync, writeFileSync } from 'node:fs'

const h = monitorEventLoopDelay({ resolution: 5 })
h.enable()
let cpu = process.cpuUsage()
let at = performance.now()
let signals = 0
// The main thread's time on a core, in ns (Linux schedstat): not other threads', not time spent waiting.
const SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`
const onCpu = () => Number(readFileSync(SCHEDSTAT, 'utf8').split(' ')[0])
let busy = 0
let lastCpu = onCpu()
// While profiling, each tick spins a little in a named function, so a profile shows where ticks ran
// (and what ran in the gaps between them).
const profilePhase = Number(process.env.PROFILE_PHASE ?? 0)
function tickMarker () { const end = performance.now() + 0.3; while (performance.now() < end); }
setInterval(() => {
  if (profilePhase > 0) tickMarker()
  const c = onCpu()
  busy = Math.max(busy, (c - lastCpu) / 1e6)
  lastCpu = c
}, 5).unref()
const session = profilePhase > 0 ? new Session() : null
session?.connect()
process.on('SIGUSR2', () => {
  const used = process.cpuUsage(cpu)
  const wall = performance.now() - at
  console.log(`loop-delay max=${(h.max / 1e6).toFixed(1)} p99=${(h.percentile(99) / 1e6).toFixed(1)} cpu=${((used.user + used.system) / 1000).toFixed(0)} wall=${wall.toFixed(0)} busy=${busy.toFixed(1)} rss=${(process.memoryUsage().rss / 1e6).toFixed(0)}`)
  h.reset()
  busy = 0
  cpu = process.cpuUsage()
  at = performance.now()
  signals++
  if (session === null) return
  if (signals === profilePhase) session.post('Profiler.setSamplingInterval', { interval: 200 }, () => session.post('Profiler.enable', () => session.post('Profiler.start')))
  if (signals === profilePhase + 1) {
    session.post('Profiler.stop', (err, r) => {
      if (err === null) writeFileSync(process.env.CPU_PROFILE_FILE ?? 'server.cpuprofile', JSON.stringify(r.profile))
      console.log(`cpu-profile: ${err === null ? 'written' : err.message}`)
    })
  }
})
