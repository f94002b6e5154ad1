// Preloaded (node --import) into a benchmark's server child: prints, every 500 ms, the longest the
// event loop was blocked in that time (ms), from perf_hooks' event loop delay histogram
// ("loop-delay <max ms> <p99 ms>"). It measures the server's own loop, whichever core a client runs on.
// Each line also gives the V8 heap in use, the memory of array buffers outside it and the V8 heap
// committed (MiB), so a soak can tell the JavaScript heap from the rest of the resident memory, and of the
// committed heap its young generation (new space: what the scavenger sizes to how much survives).
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { getHeapSpaceStatistics } from 'node:v8'

// (The histogram records the time between two ticks of its timer, so a block reads as up to one resolution
// longer than it was: a 40 ms block read 44.9 ms at 10 ms. At 2 ms the figure is within 2 ms of the block.)
const h = monitorEventLoopDelay({ resolution: 2 })
h.enable()
setInterval(() => {
  const m = process.memoryUsage()
  let young = 0
  for (const s of getHeapSpaceStatistics()) if (s.space_name === 'new_space' || s.space_name === 'new_large_object_space') young += s.space_size
  console.log(`loop-delay ${(h.max / 1e6).toFixed(1)} ${(h.percentile(99) / 1e6).toFixed(1)} heap ${(m.heapUsed / 2 ** 20).toFixed(1)} buffers ${(m.arrayBuffers / 2 ** 20).toFixed(1)} committed ${(m.heapTotal / 2 ** 20).toFixed(1)} young ${(young / 2 ** 20).toFixed(1)}`)
  h.reset()
}, 500).unref()
