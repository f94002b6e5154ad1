// Preloaded (node --import) into a benchmark's server child: prints, every 500 ms, the longest the
// event loop was blocked in that time (ms), from perf_hooks' event loop delay histogram
// ("loop-delay <max ms> <p99 ms>"). It measures the server's own loop, whichever core a client runs on.
import { monitorEventLoopDelay } from 'node:perf_hooks'

const h = monitorEventLoopDelay({ resolution: 10 })
h.enable()
setInterval(() => {
  console.log(`loop-delay ${(h.max / 1e6).toFixed(1)} ${(h.percentile(99) / 1e6).toFixed(1)}`)
  h.reset()
}, 500).unref()
