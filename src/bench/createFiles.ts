// Child process of the benchmark: create <count> files of <size> bytes in <dir>, one after another,
// each with open(O_CREAT|O_TRUNC) + one write + close (fs.writeFileSync), no fsync. The same script
// runs against the native folder and the dfs mount, so both sides see identical system calls.
//
//   node dist/bench/createFiles.js <dir> <count> <size> [fsync]   → prints {"ms": <loop wall time>}
//
// With `fsync`, each file is fsync'd before its close (what a careful program, git or a mail server
// does): then every create waits for the metadata journal to be durable (and a standby's ack).
//
// The content is random and generated before the clock starts; node's start-up is not timed either
// (the parent also reports the process's wall time). This is a separate process from the dfs daemon,
// so synchronous fs calls on the mount are safe here.

import { randomFillSync } from 'node:crypto'
import { closeSync, fsyncSync, openSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'

const [dir, countText, sizeText, mode] = process.argv.slice(2)
const count = Number(countText)
const size = Number(sizeText)
if (!dir || !Number.isSafeInteger(count) || count <= 0 || !Number.isSafeInteger(size) || size < 0) {
  console.error('usage: node createFiles.js <dir> <count> <size> [fsync]')
  process.exit(2)
}

const data = randomFillSync(Buffer.alloc(count * size))
const names = Array.from({ length: count }, (_, i) => join(dir, `f${String(i).padStart(5, '0')}`))

const start = process.hrtime.bigint()
for (let i = 0; i < count; i++) {
  const bytes = data.subarray(i * size, (i + 1) * size)
  if (mode !== 'fsync') {
    writeFileSync(names[i]!, bytes)
    continue
  }
  const fd = openSync(names[i]!, 'w')
  writeSync(fd, bytes)
  fsyncSync(fd)
  closeSync(fd)
}
const ms = Number(process.hrtime.bigint() - start) / 1e6

process.stdout.write(JSON.stringify({ ms }) + '\n')
