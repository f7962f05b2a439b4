// history.json: a clean stop keeps a folder's history of journal seqs for the next start; any other
// start (a crash, a standby promoted behind the primary's clean stop, a folder without the file)
// begins a new one, forked from the one the folder held at the seq it replayed to.

import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { HISTORY_FILE, adoptHistory, beginHistory, endHistoryCleanly, readHistory } from '../../src/namenode/history.js'
import { tempDirForTest } from '../helpers/tmp.js'

describe('history.json', () => {
  it('a first start begins a history without parent; a clean stop and a start at the same seq continue it', async () => {
    const dir = tempDirForTest('dfs-history-').path
    const first = await beginHistory(dir, 0)
    expect(first.parent).toBeUndefined()
    await endHistoryCleanly(dir, first, 42)
    expect(await beginHistory(dir, 42)).toEqual(first)
    // The mark is gone once a NameNode serves again: a crash now forks.
    expect((await readHistory(dir))?.cleanStopSeq).toBeUndefined()
  })

  it('a start after a crash forks at the seq it replayed to', async () => {
    const dir = tempDirForTest('dfs-history-').path
    const first = await beginHistory(dir, 0)
    const fork = await beginHistory(dir, 17)
    expect(fork).toEqual({ id: expect.any(String), parent: first.id, forkSeq: 17 })
    expect(fork.id).not.toBe(first.id)
  })

  it('a start at another seq than the clean stop\'s (a standby behind it) forks', async () => {
    const dir = tempDirForTest('dfs-history-').path
    const first = await beginHistory(dir, 0)
    await endHistoryCleanly(dir, first, 50)
    expect(await beginHistory(dir, 48)).toMatchObject({ parent: first.id, forkSeq: 48 })
  })

  it('a file that is not ours is a history unknown: a new one without parent', async () => {
    const dir = tempDirForTest('dfs-history-').path
    await writeFile(join(dir, HISTORY_FILE), 'not json')
    expect((await beginHistory(dir, 5)).parent).toBeUndefined()
    expect(JSON.parse(await readFile(join(dir, HISTORY_FILE), 'utf8'))).toMatchObject({ format: 1, kind: 'dfs-history' })
  })

  it('a standby that adopted its primary\'s history forks it when promoted', async () => {
    const primary = tempDirForTest('dfs-history-').path
    const standby = tempDirForTest('dfs-history-').path
    const serving = await beginHistory(primary, 0)
    await adoptHistory(standby, serving)
    expect(await beginHistory(standby, 30)).toMatchObject({ parent: serving.id, forkSeq: 30 })
  })
})
