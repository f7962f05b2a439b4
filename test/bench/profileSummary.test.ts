// The --cpu-prof summary: self time by function and by file from a tiny hand-made .cpuprofile, in
// which every sample's time is known.

import { writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type CpuProfile, profileClock, readProfile, renderProfileSummary, shortFile, summarizeProfile } from '../../src/bench/profileSummary.js'
import { tempDirForTest } from '../helpers/tmp.js'

const frame = (id: number, functionName: string, url = '', lineNumber = -1) => ({ id, callFrame: { functionName, url, lineNumber } })

/**
 * Samples 1 ms apart (a sample lasts until the next; the last until endTime): hash 4 ms and copy 1 ms
 * in OpenFile.js, put 2 ms in LocalFolderNode.js, the garbage collector 1 ms, idle 2 ms. 10 ms in all.
 * hash, copy and put are called by write (OpenFile.js), which takes no time of its own.
 */
const profile: CpuProfile = {
  nodes: [
    { ...frame(1, '(root)'), children: [2, 7, 6] },
    frame(2, '(idle)'),
    { ...frame(7, 'write', 'file:///work/wt/x/dist/fs/OpenFile.js', 8), children: [3, 4, 5] },
    frame(3, 'hash', 'file:///work/wt/x/dist/fs/OpenFile.js', 41),
    frame(4, 'copy', 'file:///work/wt/x/dist/fs/OpenFile.js', 99),
    frame(5, 'put', 'file:///work/wt/x/dist/datanode/LocalFolderNode.js', 9),
    frame(6, '(garbage collector)'),
  ],
  startTime: 1_000_000,
  endTime: 1_010_000,
  samples: [3, 3, 2, 3, 5, 5, 6, 3, 4, 2],
  timeDeltas: [0, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
}

describe('a CPU profile summary', () => {
  it('adds up self time by function, busiest first, idle apart', () => {
    const s = summarizeProfile(profile)
    expect(s.totalMs).toBe(10)
    expect(s.idleMs).toBe(2)
    expect(s.functions).toEqual([
      { name: 'hash dist/fs/OpenFile.js:42', ms: 4 },
      { name: 'put dist/datanode/LocalFolderNode.js:10', ms: 2 },
      { name: '(garbage collector)', ms: 1 },
      { name: 'copy dist/fs/OpenFile.js:100', ms: 1 },
    ])
  })

  it('adds up self time by file', () => {
    expect(summarizeProfile(profile).files).toEqual([
      { name: 'dist/fs/OpenFile.js', ms: 5 },
      { name: 'dist/datanode/LocalFolderNode.js', ms: 2 },
      { name: '(garbage collector)', ms: 1 },
    ])
  })

  it('adds up total time of dfs\'s own functions: their own and their callees\'', () => {
    expect(summarizeProfile(profile).dfsTotal).toEqual([
      { name: 'write dist/fs/OpenFile.js:9', ms: 7 },
      { name: 'hash dist/fs/OpenFile.js:42', ms: 4 },
      { name: 'put dist/datanode/LocalFolderNode.js:10', ms: 2 },
      { name: 'copy dist/fs/OpenFile.js:100', ms: 1 },
    ])
  })

  it('counts only the samples within the windows it is given', () => {
    // The first five samples, 0-5 ms: hash twice, idle, hash, put.
    const s = summarizeProfile(profile, 10, [{ from: 1_000_000, to: 1_002_500 }, { from: 1_002_500, to: 1_005_000 }])
    expect(s.totalMs).toBe(5)
    expect(s.idleMs).toBe(1)
    expect(s.functions).toEqual([
      { name: 'hash dist/fs/OpenFile.js:42', ms: 3 },
      { name: 'put dist/datanode/LocalFolderNode.js:10', ms: 1 },
    ])
    expect(summarizeProfile(profile, 10, []).totalMs).toBe(0)
  })

  it('keeps the top n', () => {
    const s = summarizeProfile(profile, 2)
    expect(s.functions.map(f => f.name)).toEqual(['hash dist/fs/OpenFile.js:42', 'put dist/datanode/LocalFolderNode.js:10'])
    expect(s.files).toHaveLength(2)
  })

  it('prints shares of the busy time', () => {
    const lines = renderProfileSummary('daemon-1.cpuprofile (write)', summarizeProfile(profile))
    expect(lines[0]).toContain('main thread busy 8 ms of 10 ms sampled (80 %)')
    expect(lines.find(l => l.includes('hash dist/fs/OpenFile.js:42'))).toMatch(/4 ms\s+50\.0 %/)
    expect(lines.find(l => l.endsWith('dist/fs/OpenFile.js'))).toMatch(/5 ms\s+62\.5 %/)
  })

  it('shortens file names to the part under dist/ or node_modules/, keeps node: modules as they are', () => {
    expect(shortFile('file:///work/main/node_modules/fuse-native/index.js')).toBe('node_modules/fuse-native/index.js')
    expect(shortFile('node:internal/fs/promises')).toBe('node:internal/fs/promises')
    expect(shortFile('')).toBe('')
  })

  it('reads a .cpuprofile file as node --cpu-prof writes it', async () => {
    const path = join(tempDirForTest('profile-').path, 'daemon-1.cpuprofile')
    await writeFile(path, JSON.stringify(profile))
    expect(summarizeProfile(await readProfile(path)).totalMs).toBe(10)
  })

  it('marks windows on the clock V8 stamps a profile with', async () => {
    const session = new Session()
    session.connect()
    try {
      await session.post('Profiler.enable')
      const before = profileClock()
      await session.post('Profiler.start')
      const during = profileClock()
      const { profile: p } = await session.post('Profiler.stop')
      const after = profileClock()
      expect(p.startTime).toBeGreaterThanOrEqual(before)
      expect(p.startTime).toBeLessThanOrEqual(during)
      expect(p.endTime).toBeLessThanOrEqual(after)
    } finally {
      session.disconnect()
    }
  })
})
