// Reads a file line by line in fixed-size chunks, however large it is, and says where each line
// lies in the file so a reader can cut the file back to the end of its last good line. A final
// line without its '\n' is reported as incomplete: that is what a write cut short by a crash leaves.

import { open } from 'node:fs/promises'

export interface Line {
  /** The line without its '\n', decoded as UTF-8. */
  text: string
  /** 1-based line number. */
  number: number
  /** Byte offset of the line's first byte. */
  start: number
  /** True when the line ends with '\n' (only the last line of a file can lack it). */
  complete: boolean
}

const CHUNK_BYTES = 1 << 20

export async function* readLines(file: string): AsyncGenerator<Line> {
  const fh = await open(file, 'r')
  try {
    const buf = Buffer.allocUnsafe(CHUNK_BYTES)
    let carried: Buffer[] = [] // the start of a line that continues into the next chunk
    let start = 0
    let number = 0
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK_BYTES, null)
      if (bytesRead === 0) break
      const chunk = buf.subarray(0, bytesRead)
      let from = 0
      for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, from)) {
        const bytes = carried.length === 0 ? chunk.subarray(from, nl) : Buffer.concat([...carried, chunk.subarray(from, nl)])
        carried = []
        yield { text: bytes.toString('utf8'), number: ++number, start, complete: true }
        start += bytes.length + 1
        from = nl + 1
      }
      if (from < bytesRead) carried.push(Buffer.from(chunk.subarray(from)))
    }
    if (carried.length > 0) {
      yield { text: Buffer.concat(carried).toString('utf8'), number: ++number, start, complete: false }
    }
  } finally {
    await fh.close()
  }
}
