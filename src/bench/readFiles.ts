// Child process of the benchmark: read back every file in <dir>, one after another, the way `cat dir/*`
// would: list the folder, then open + read to the end + close each file (fs.readFileSync). The same
// script runs against the native folder, the ceiling and the dfs mount, so all see identical calls.
//
//   node dist/bench/readFiles.js <dir> <count> <size>   → prints {"ms": <wall time of the listing and the reads>}
//
// It checks that it found <count> files of <size> bytes each, so a short read cannot pass for a fast one.
// Node's start-up is not timed (the parent also reports the process's wall time). A separate process
// from the dfs daemon, so synchronous fs calls on the mount are safe here.

import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const [dir, countText, sizeText] = process.argv.slice(2)
const count = Number(countText)
const size = Number(sizeText)
if (!dir || !Number.isSafeInteger(count) || count <= 0 || !Number.isSafeInteger(size) || size < 0) {
  console.error('usage: node readFiles.js <dir> <count> <size>')
  process.exit(2)
}

let bytes = 0
const start = process.hrtime.bigint()
const names = readdirSync(dir)
for (const name of names) bytes += readFileSync(join(dir, name)).length
const ms = Number(process.hrtime.bigint() - start) / 1e6

if (names.length !== count || bytes !== count * size) {
  console.error(`readFiles.js: ${dir} holds ${names.length} files, ${bytes} bytes; expected ${count} files of ${size} bytes`)
  process.exit(1)
}
process.stdout.write(JSON.stringify({ ms }) + '\n')
