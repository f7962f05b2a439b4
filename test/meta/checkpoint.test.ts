import { readFile, readdir, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type DfsError, isDfsError } from '../../src/errors.js'
import { CHECKPOINT_FILE, SLICE_MS, SLICE_PIECES, readCheckpoint, streamCheckpointFile, writeCheckpoint } from '../../src/meta/Checkpoint.js'
import { countLoopTurns } from '../helpers/loopTurns.js'
import { tempDir } from './kv.js'

const pieces = Array.from({ length: 10_000 }, (_, i) => ({ i, name: `entry ${i}`, tags: [i % 7, 'ü'] }))

async function corruptError(dir: string): Promise<DfsError> {
  const err = await readCheckpoint(dir).catch((e: unknown) => e)
  expect(isDfsError(err, 'CHECKPOINT_CORRUPT'), String(err)).toBe(true)
  expect((err as DfsError).message).toContain(join(dir, CHECKPOINT_FILE))
  return err as DfsError
}

describe('checkpoint', () => {
  it('round-trips the pieces and the seq they cover, leaving no temp file', async () => {
    const dir = await tempDir()
    expect(await readCheckpoint(dir)).toBeUndefined()
    await writeCheckpoint(dir, 42, pieces)
    expect(await readdir(dir)).toEqual([CHECKPOINT_FILE])
    expect(await readCheckpoint(dir)).toEqual({ lastSeq: 42, pieces })

    await writeCheckpoint(dir, 43, []) // replaces the previous one
    expect(await readCheckpoint(dir)).toEqual({ lastSeq: 43, pieces: [] })
  })

  it('round-trips pieces of any size and script: lines that fill its buffer to the byte, and lines larger than it', async () => {
    const dir = await tempDir()
    // The writer encodes lines into one 4 MiB buffer, flushing when a line might not fit at 3 bytes a
    // character (UTF-16 unit). Text of 3-byte characters (€) after small pieces nearly fills it (what
    // came before must go first); bare strings of € at the edge of that estimate (3 × (n + 2 quotes)
    // + the newline = 4 MiB for n = 1,398,099) fill it to the byte or go on their own; a piece over a
    // million characters (a file of very many chunks) is larger than it; small ones go between.
    const atEdge = [1_398_098, 1_398_099, 1_398_100].map((n) => '€'.repeat(n))
    const big = [
      ...pieces.slice(200, 300),
      { n: 1, text: '€'.repeat(1_398_000) },
      ...atEdge,
      { n: 2, text: 'x'.repeat(5_000_000) },
      ...pieces.slice(0, 100),
      { n: 3, text: 'ü€'.repeat(700_000) },
      { n: 4, text: '😀'.repeat(1_000_000) },
      ...pieces.slice(100, 200),
    ]
    await writeCheckpoint(dir, 7, big)
    expect(await readCheckpoint(dir)).toEqual({ lastSeq: 7, pieces: big })
  })

  it('refuses a truncated checkpoint', async () => {
    const dir = await tempDir()
    await writeCheckpoint(dir, 7, pieces)
    const file = join(dir, CHECKPOINT_FILE)
    const text = await readFile(file, 'utf8')

    await truncate(file, text.length - 10) // mid-trailer
    expect((await corruptError(dir)).message).toContain('cut short')

    const lastPiece = text.lastIndexOf('\n', text.length - 2) + 1
    await writeFile(file, text.slice(0, lastPiece)) // at a line boundary: the trailer is gone
    expect((await corruptError(dir)).message).toContain('ends before its trailer')

    await writeFile(file, '')
    expect((await corruptError(dir)).message).toContain('empty')
  })

  it('refuses a checkpoint whose contents do not match its trailer', async () => {
    const dir = await tempDir()
    await writeCheckpoint(dir, 7, pieces)
    const file = join(dir, CHECKPOINT_FILE)
    const text = await readFile(file, 'utf8')

    await writeFile(file, text.replace('"entry 5000"', '"entry 5001"')) // still valid JSON
    expect((await corruptError(dir)).message).toContain('SHA-256 does not match')

    await writeFile(file, text.replace('"lastSeq":7', '"lastSeq":9')) // the header is covered too
    expect((await corruptError(dir)).message).toContain('SHA-256 does not match')

    await writeFile(file, text.replace('"entry 5000"', '"entry 5000'))
    expect((await corruptError(dir)).message).toContain('line 5002 is not valid JSON')

    await writeFile(file, text.replace(/^.*\n/, '{"some":"other file"}\n'))
    expect((await corruptError(dir)).message).toContain('checkpoint header')
  })

  /** Write `total` small pieces with the given clock; the most pieces serialised between two turns of the event loop, and the turns. */
  async function slicing(total: number, now: () => number): Promise<{ mostBetweenTurns: number; turns: number }> {
    const dir = await tempDir()
    let pulled = 0
    function* many() {
      for (let i = 0; i < total; i++) {
        pulled++
        yield { i }
      }
    }
    // At each turn of the loop: how many pieces were serialised since the previous turn.
    let atLastTurn = 0
    let mostBetweenTurns = 0
    const turns = countLoopTurns(() => {
      mostBetweenTurns = Math.max(mostBetweenTurns, pulled - atLastTurn)
      atLastTurn = pulled
    })
    try {
      await writeCheckpoint(dir, 1, many(), { now })
    } finally {
      turns.stop()
    }
    expect(pulled).toBe(total)
    expect((await readCheckpoint(dir))?.pieces).toHaveLength(total)
    return { mostBetweenTurns, turns: turns.count }
  }

  it('serialises in slices and lets the event loop turn between them, at most SLICE_PIECES apart however fast (a clock that stands still)', async () => {
    const { mostBetweenTurns, turns } = await slicing(10 * SLICE_PIECES + 123, () => 0)
    expect(mostBetweenTurns).toBeGreaterThan(0)
    expect(mostBetweenTurns).toBeLessThanOrEqual(SLICE_PIECES) // never more than one slice without a turn
    expect(turns).toBeGreaterThanOrEqual(10)
  })

  it('ends a slice once it has taken SLICE_MS by the clock, long before SLICE_PIECES (an injected clock: SLICE_MS per reading)', async () => {
    let t = 0
    const { mostBetweenTurns, turns } = await slicing(2 * SLICE_PIECES, () => (t += SLICE_MS))
    // The clock is read every few dozen pieces, and every reading says a slice's time is up.
    expect(mostBetweenTurns).toBeGreaterThan(0)
    expect(mostBetweenTurns).toBeLessThanOrEqual(SLICE_PIECES / 64)
    expect(turns).toBeGreaterThanOrEqual(2 * 64)
  })

  it('streams the pieces of a file many read blocks long, lines split across blocks and multi-byte text intact', async () => {
    const dir = await tempDir()
    // About 12 MiB: three 4 MiB read blocks, so lines (and multi-byte characters) fall across their edges.
    const big = Array.from({ length: 40_000 }, (_, i) => ({ i, name: `${'ü€𝄞'.repeat(i % 50)} ${i}`, pad: 'x'.repeat(200 + (i % 97)) }))
    await writeCheckpoint(dir, 5, big)
    const seen: unknown[] = []
    expect(await streamCheckpointFile(join(dir, CHECKPOINT_FILE), piece => void seen.push(piece))).toEqual({ lastSeq: 5, count: big.length })
    expect(seen).toEqual(big)
    expect(await streamCheckpointFile(join(dir, 'none.json'), () => {})).toBeUndefined()
  })

  it('verifies the whole file before reporting a piece its reader refused: the damage is the cause', async () => {
    const dir = await tempDir()
    await writeCheckpoint(dir, 7, pieces)
    const file = join(dir, CHECKPOINT_FILE)
    const refuse = (piece: unknown) => {
      if ((piece as { i: number }).i === 10) throw new Error('refused')
    }
    await expect(streamCheckpointFile(file, refuse)).rejects.toThrow('refused')
    const text = await readFile(file, 'utf8')
    await writeFile(file, text.replace('"entry 5000"', '"entry 5001"'))
    await expect(streamCheckpointFile(file, refuse)).rejects.toMatchObject({ code: 'CHECKPOINT_CORRUPT', message: expect.stringContaining('SHA-256 does not match') })
  })

  it('says when a checkpoint comes from a newer dfs', async () => {
    const dir = await tempDir()
    await writeCheckpoint(dir, 1, [])
    const file = join(dir, CHECKPOINT_FILE)
    await writeFile(file, (await readFile(file, 'utf8')).replace('"format":1', '"format":2'))
    await expect(readCheckpoint(dir)).rejects.toMatchObject({ code: 'META_TOO_NEW' })
  })
})
