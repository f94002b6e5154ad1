// Preloaded (node --import) into a benchmark's server child when PROFILE is set: SIGUSR2 starts the
// V8 CPU profiler, the next SIGUSR2 writes the profile to $CPU_PROFILE_FILE, so only the measured
// window is profiled (node --cpu-prof would include start-up and demo seeding).
import { Session } from 'node:inspector'
import { writeFileSync } from 'node:fs'

const session = new Session()
session.connect()
let running = false
process.on('SIGUSR2', () => {
  if (!running) {
    running = true
    session.post('Profiler.setSamplingInterval', { interval: 200 }, () => session.post('Profiler.enable', () => session.post('Profiler.start', () => console.log('cpu-profile: started'))))
    return
  }
  running = false
  session.post('Profiler.stop', (err, r) => {
    if (err === null) writeFileSync(process.env.CPU_PROFILE_FILE ?? 'server.cpuprofile', JSON.stringify(r.profile))
    console.log(`cpu-profile: ${err === null ? 'written' : err.message}`)
  })
})
