// Node folders for in-process test clusters (LocalFolderNode on a temp folder), reused within a
// test file.
//
//   const { dirs, nodes } = await openNodeFolders(3, 'test-cluster')   // open LocalFolderNodes
//   ... the test; then close the nodes (registry.close()) ...
//   await releaseNodeFolders(dirs)                                     // for the next cluster
//
// A new node folder costs 256 mkdirs and two fsyncs, and removing it as many rmdirs: most of a
// ChunkStore or healer test's time. Released folders are emptied back to what their first open made
// of them (the identity file, the 256 empty chunk subfolders, the same modes) and kept for the next
// cluster of the same cluster id; a folder that is anything else (a test removed or added to it) is
// removed instead. The next cluster opens it with a new LocalFolderNode, as a restart would: nothing
// of the last test's node is carried over but the node id. All go when the file's tests are done.

import { lstat, mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { CHUNK_SUBFOLDERS, CHUNKS_DIR, IDENTITY_FILE } from '../../src/datanode/identity.js'
import { LocalFolderNode } from '../../src/datanode/LocalFolderNode.js'
import { TempDirs } from '../datanode/tempDirs.js'

/** The path of chunk file `id` in node folder `node` (<node>/chunks/<first two hex digits>/<id>). */
export function chunkPath(node: string, id: string): string {
  return join(node, CHUNKS_DIR, id.slice(0, 2), id)
}

/** Open `count` LocalFolderNodes of cluster `clusterId` on empty node folders. */
export async function openNodeFolders(count: number, clusterId: string): Promise<{ dirs: string[]; nodes: LocalFolderNode[] }> {
  const dirs = await Promise.all(Array.from({ length: count }, () => takeFolder(clusterId)))
  const nodes: LocalFolderNode[] = []
  for (const dir of dirs) {
    nodes.push(await LocalFolderNode.open(dir, { clusterId, create: true }))
    if (!asMade.has(dir)) asMade.set(dir, { clusterId, ...(await snapshot(dir)) })
  }
  return { dirs, nodes }
}

/** Give back folders whose nodes are closed: emptied for the next cluster, or removed. */
export async function releaseNodeFolders(dirs: string[]): Promise<void> {
  await Promise.all(dirs.map(async (dir) => {
    const made = asMade.get(dir)
    try {
      if (made && (await emptiedAsMade(dir, made))) {
        spare.push(dir)
        return
      }
    } catch {
      // anything missing or unreadable: not a folder to keep
    }
    asMade.delete(dir)
    await rm(dir, { recursive: true, force: true })
  }))
}

const temp = new TempDirs()
let root: Promise<string> | undefined
let made = 0
/** Folders emptied back to how they were made, for the next cluster. */
const spare: string[] = []
/** What a folder held right after its first open: its identity file and the modes of its folders. */
interface FolderAsMade {
  clusterId: string
  identity: Buffer
  modes: Map<string, number>
}
const asMade = new Map<string, FolderAsMade>()

async function takeFolder(clusterId: string): Promise<string> {
  const i = spare.findIndex((dir) => asMade.get(dir)?.clusterId === clusterId)
  if (i >= 0) return spare.splice(i, 1)[0]!
  root ??= temp.make('dfs-node-folders-')
  const dir = join(await root, `node_${++made}`)
  await mkdir(dir)
  return dir
}

const foldersOf = (dir: string) => [dir, join(dir, CHUNKS_DIR), ...CHUNK_SUBFOLDERS.map((sub) => join(dir, CHUNKS_DIR, sub))]

async function snapshot(dir: string): Promise<Omit<FolderAsMade, 'clusterId'>> {
  const modes = new Map(await Promise.all(foldersOf(dir).map(async (path) => [path, (await lstat(path)).mode] as const)))
  return { identity: await readFile(join(dir, IDENTITY_FILE)), modes }
}

/** Remove everything in the chunk subfolders; true if the folder is then exactly as made. */
async function emptiedAsMade(dir: string, made: FolderAsMade): Promise<boolean> {
  const same = (names: string[], expected: readonly string[]) => [...names].sort().join('/') === [...expected].sort().join('/')
  if (!same(await readdir(dir), [IDENTITY_FILE, CHUNKS_DIR])) return false
  if (!same(await readdir(join(dir, CHUNKS_DIR)), CHUNK_SUBFOLDERS)) return false
  await Promise.all(CHUNK_SUBFOLDERS.map(async (sub) => {
    const path = join(dir, CHUNKS_DIR, sub)
    for (const name of await readdir(path)) await rm(join(path, name), { recursive: true, force: true })
  }))
  if (!(await readFile(join(dir, IDENTITY_FILE))).equals(made.identity)) return false
  const now = await Promise.all(foldersOf(dir).map(async (path) => [path, await lstat(path)] as const))
  return now.every(([path, info]) => info.isDirectory() && made.modes.get(path) === info.mode)
}

afterAll(async () => {
  spare.length = 0
  asMade.clear()
  await temp.cleanup()
})
