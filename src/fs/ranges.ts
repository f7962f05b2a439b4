// The byte ranges of one chunk that this client wrote: sorted, disjoint, merged [start, end) pairs.
// They are what a writer re-applies on top of another client's newer version of the chunk (rebase).

export type Ranges = [start: number, end: number][]

/** Add [start, end), merging it with the ranges it touches or overlaps. */
export function addRange(ranges: Ranges, start: number, end: number): void {
  if (end <= start) return
  let i = 0
  while (i < ranges.length && ranges[i][1] < start) i++
  let j = i
  while (j < ranges.length && ranges[j][0] <= end) {
    start = Math.min(start, ranges[j][0])
    end = Math.max(end, ranges[j][1])
    j++
  }
  ranges.splice(i, j - i, [start, end])
}

/** Drop what lies at or past `end` (a truncate). */
export function clipRanges(ranges: Ranges, end: number): void {
  while (ranges.length > 0 && ranges[ranges.length - 1][0] >= end) ranges.pop()
  const last = ranges[ranges.length - 1]
  if (last && last[1] > end) last[1] = end
}

/** Where the last range ends (0 for none). */
export function rangesEnd(ranges: Ranges): number {
  return ranges.length > 0 ? ranges[ranges.length - 1][1] : 0
}

/** A new buffer: `onto` (null: a hole, zeros) with the `ranges` of `from` copied over it. */
export function overlay(onto: Buffer | null, from: Buffer, ranges: Ranges): Buffer {
  const end = Math.min(rangesEnd(ranges), from.length)
  const out = Buffer.alloc(Math.max(onto?.length ?? 0, end))
  onto?.copy(out)
  for (const [start, stop] of ranges) if (start < from.length) from.copy(out, start, start, Math.min(stop, from.length))
  return out
}
