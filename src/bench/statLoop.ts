// A child of the scale bench (scale.ts): lstat every file of the scale namespace in turn, timing each
// call, until told to stop (a line on stdin). It prints one JSON line: how many calls, the longest, and
// every call slower than SLOW_MS with when it started (ms since the Unix epoch, to set beside when the
// daemon's checkpoint ran). The files are visited in order, each once per pass over a million names,
// so a kernel attribute cache (if a mount ever keeps one) does not answer in the daemon's place.
//
//   node dist/bench/statLoop.js <mountpoint> <dirs> <filesPerDir>

import { lstatSync } from 'node:fs'
import { join } from 'node:path'

const SLOW_MS = 5
const [mnt, dirsArg, perDirArg] = process.argv.slice(2)
const dirs = Number(dirsArg)
const perDir = Number(perDirArg)
if (!mnt || !(dirs > 0) || !(perDir > 0)) {
  process.stderr.write('usage: statLoop <mountpoint> <dirs> <filesPerDir>\n')
  process.exit(2)
}

let stop = false
process.stdin.on('data', () => (stop = true))
process.stdin.on('end', () => (stop = true))

const slow: { at: number; ms: number }[] = []
let calls = 0
let longest = 0
let d = 0
let f = 0
const origin = Date.now() - performance.now()
while (!stop) {
  // A few hundred calls, then a turn of the event loop so the stop line gets in.
  for (let i = 0; i < 200; i++) {
    const path = join(mnt, scaleDirName(d), scaleFileName(f))
    const started = performance.now()
    lstatSync(path)
    const ms = performance.now() - started
    calls++
    if (ms > longest) longest = ms
    if (ms > SLOW_MS) slow.push({ at: origin + started, ms })
    if (++f === perDir) {
      f = 0
      d = (d + 1) % dirs
    }
  }
  await new Promise(resolve => setImmediate(resolve))
}
process.stdout.write(`${JSON.stringify({ calls, longest, slow })}\n`)
process.exit(0)

// The names scale.ts gives its folders and files (kept in step by hand: this child imports nothing
// of the bench so it starts fast).
function scaleDirName(i: number): string {
  return `d${String(i).padStart(4, '0')}`
}
function scaleFileName(i: number): string {
  return `f${String(i).padStart(4, '0')}`
}
