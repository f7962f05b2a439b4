import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { execFileSync } from 'node:child_process'
import { chmodSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CHUNK_SUBFOLDERS, checkNodeFolder, IDENTITY_FILE, openNodeFolder } from '../../src/datanode/identity.js'
import { TempDirs } from './tempDirs.js'

const isRoot = process.getuid?.() === 0

describe('openNodeFolder', () => {
  const temp = new TempDirs()
  afterEach(() => temp.cleanup())

  it('initialises an empty folder: identity and all 256 chunk subfolders', async () => {
    const dir = await temp.make()
    const folder = await openNodeFolder(dir, { clusterId: 'c1', create: true })
    expect(folder.created).toBe(true)
    expect(folder.identity).toMatchObject({ format: 1, clusterId: 'c1' })
    expect(folder.identity.nodeId).toMatch(/^[0-9a-f]{16}$/)
    const onDisk = JSON.parse(await readFile(join(dir, IDENTITY_FILE), 'utf8'))
    expect(onDisk).toEqual(folder.identity)
    expect(new Date(onDisk.createdAt).getTime()).not.toBeNaN()
    expect((await readdir(join(dir, 'chunks'))).sort()).toEqual([...CHUNK_SUBFOLDERS])
    expect((await readdir(dir)).sort()).toEqual(['chunks', IDENTITY_FILE])
  })

  it('opens an initialised folder again as the same node', async () => {
    const dir = await temp.make()
    const first = await openNodeFolder(dir, { clusterId: 'c1', create: true })
    const again = await openNodeFolder(dir, { clusterId: 'c1', create: true })
    expect(again.created).toBe(false)
    expect(again.identity).toEqual(first.identity)
  })

  it('ignores lost+found and leftovers of an interrupted initialisation', async () => {
    const dir = await temp.make()
    await mkdir(join(dir, 'lost+found'))
    await writeFile(join(dir, `${IDENTITY_FILE}.tmp-123456`), '{"form')
    const folder = await openNodeFolder(dir, { clusterId: 'c1', create: true })
    expect(folder.created).toBe(true)
  })

  it('re-creates chunk subfolders missing from an initialised folder', async () => {
    const dir = await temp.make()
    await openNodeFolder(dir, { clusterId: 'c1', create: true })
    await rm(join(dir, 'chunks', '7f'), { recursive: true })
    await openNodeFolder(dir, { clusterId: 'c1' })
    expect(await readdir(join(dir, 'chunks'))).toContain('7f')
  })

  it('refuses a folder that does not exist, and says how to create it', async () => {
    const dir = join(await temp.make(), 'node_1')
    const err = await openNodeFolder(dir, { clusterId: 'c1', create: true }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'NODE_FOLDER_INVALID', context: { node: dir } })
    expect((err as Error).message).toBe(`node folder ${dir} does not exist; create it with mkdir -p ${dir}`)
    await expect(readdir(dir)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('refuses a file where the folder should be', async () => {
    const file = join(await temp.make(), 'node_1')
    await writeFile(file, '')
    await expect(openNodeFolder(file, { clusterId: 'c1', create: true })).rejects.toMatchObject({
      code: 'NODE_FOLDER_INVALID',
      message: `node folder ${file} is not a directory; pass a folder (an empty one becomes a new node)`,
    })
  })

  it('refuses a folder it cannot write to', async () => {
    // Root ignores permission bits, so as root the folder is made read-only by a read-only bind mount.
    const dir = await temp.make()
    const lock = isRoot
      ? { on: () => execFileSync('sh', ['-c', `mount --bind "${dir}" "${dir}" && mount -o remount,ro,bind "${dir}"`]), off: () => execFileSync('umount', [dir]) }
      : { on: () => chmodSync(dir, 0o555), off: () => chmodSync(dir, 0o755) }
    lock.on()
    try {
      await expect(openNodeFolder(dir, { clusterId: 'c1', create: true })).rejects.toMatchObject({
        code: 'NODE_FOLDER_INVALID',
        message: expect.stringMatching(/is not writable/),
      })
    } finally {
      lock.off()
    }
  })

  it('refuses a non-empty folder that is not a node folder', async () => {
    const dir = await temp.make()
    await writeFile(join(dir, 'holiday.jpg'), 'photo')
    await expect(openNodeFolder(dir, { clusterId: 'c1', create: true })).rejects.toMatchObject({
      code: 'NODE_FOLDER_INVALID',
      message: `${dir} is not empty and is not a dfs node folder`,
    })
    expect(await readdir(dir)).toEqual(['holiday.jpg'])
  })

  it('refuses an empty folder unless asked to create', async () => {
    const dir = await temp.make()
    await expect(openNodeFolder(dir, { clusterId: 'c1' })).rejects.toMatchObject({ code: 'NODE_FOLDER_INVALID' })
    expect(await readdir(dir)).toEqual([])
  })

  it('refuses a node folder of another cluster', async () => {
    const dir = await temp.make()
    await openNodeFolder(dir, { clusterId: 'cluster-a', create: true })
    await expect(openNodeFolder(dir, { clusterId: 'cluster-b', create: true })).rejects.toMatchObject({
      code: 'META_FOREIGN',
      message: `node folder ${dir} belongs to cluster cluster-a, not cluster-b; pass the --meta folder of that cluster, or an empty folder for a new node`,
    })
  })

  it('refuses a damaged identity file and one from a newer dfs', async () => {
    const dir = await temp.make()
    await writeFile(join(dir, IDENTITY_FILE), 'not json')
    await expect(openNodeFolder(dir, { clusterId: 'c1', create: true })).rejects.toMatchObject({ code: 'NODE_FOLDER_INVALID' })
    await writeFile(join(dir, IDENTITY_FILE), JSON.stringify({ format: 1, clusterId: 'c1' }))
    await expect(openNodeFolder(dir, { clusterId: 'c1', create: true })).rejects.toMatchObject({ code: 'NODE_FOLDER_INVALID' })
    await writeFile(join(dir, IDENTITY_FILE), JSON.stringify({ format: 2, nodeId: 'n', clusterId: 'c1' }))
    await expect(openNodeFolder(dir, { clusterId: 'c1', create: true })).rejects.toMatchObject({ code: 'META_TOO_NEW' })
  })

  describe('checkNodeFolder', () => {
    it('accepts an empty folder (a new node) and a node folder of the cluster, writing nothing', async () => {
      const empty = await temp.make()
      expect(await checkNodeFolder(empty, { clusterId: 'c1' })).toBeUndefined()
      expect(await checkNodeFolder(empty, { clusterId: undefined })).toBeUndefined()
      expect(await readdir(empty)).toEqual([])
      const initialised = await temp.make()
      const { identity } = await openNodeFolder(initialised, { clusterId: 'c1', create: true })
      expect(await checkNodeFolder(initialised, { clusterId: 'c1' })).toEqual(identity)
    })

    it('treats any node folder as foreign to a cluster not created yet', async () => {
      const dir = await temp.make()
      await openNodeFolder(dir, { clusterId: 'old', create: true })
      await expect(checkNodeFolder(dir, { clusterId: undefined })).rejects.toMatchObject({
        code: 'META_FOREIGN',
        message: `node folder ${dir} belongs to cluster old, not the new cluster being created; pass the --meta folder of that cluster, or an empty folder for a new node`,
      })
    })

    it('refuses what openNodeFolder refuses', async () => {
      const dir = await temp.make()
      await writeFile(join(dir, 'x'), '')
      await expect(checkNodeFolder(dir, { clusterId: 'c1' })).rejects.toMatchObject({ code: 'NODE_FOLDER_INVALID' })
      await expect(checkNodeFolder(join(dir, 'nope'), { clusterId: 'c1' })).rejects.toMatchObject({ code: 'NODE_FOLDER_INVALID' })
    })
  })
})
