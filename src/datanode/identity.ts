// A node folder says who it is: `dfs-node.json` names the node and the cluster it belongs to, so a
// folder is never silently used by the wrong cluster, and a folder that was wiped and re-created is
// recognisably a different node (its chunks are gone). Layout of an initialised folder:
//
//   <dir>/dfs-node.json          { format: 1, nodeId, clusterId, createdAt }
//   <dir>/dfs-claim.json         the NameNode epoch that may delete here (claim.ts, claimFile.ts)
//   <dir>/chunks/00 .. chunks/ff  chunk files, spread by the first two hex digits of their id
//
// The identity is written first (atomically) and the subfolders after it; every open re-creates any
// missing subfolder, so a crash halfway through initialisation leaves a folder that opens fine.

import { randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { access, mkdir, readdir, readFile, stat, unlink, utimes, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { DfsError, dfsError } from '../errors.js'
import { fsyncPath, replaceFile } from '../util/files.js'
import { CLAIM_TEMP_PREFIX } from './claimFile.js'
import { errnoOf } from '../util/osError.js'

export const IDENTITY_FILE = 'dfs-node.json'
export const CHUNKS_DIR = 'chunks'
export const NODE_FORMAT = 1

export interface NodeFolderIdentity {
  format: typeof NODE_FORMAT
  nodeId: string
  clusterId: string
  /** ISO 8601 time the folder was initialised. */
  createdAt: string
}

export interface OpenNodeFolderOptions {
  /** The cluster this folder must belong to (or will belong to, when created). */
  clusterId: string
  /** Initialise an empty folder as a new node. Without it an empty folder is an error. */
  create?: boolean
  /** The id a new node gets (a server announces it before the folder is initialised); random by default. */
  nodeId?: string
}

export interface NodeFolder {
  /** Absolute path of the folder. */
  dir: string
  identity: NodeFolderIdentity
  /** True when this call initialised the folder. */
  created: boolean
}

/** The 256 chunk subfolder names, "00" to "ff". */
export const CHUNK_SUBFOLDERS: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** Where a node folder keeps chunk `id` (a valid chunk id): chunks/<its first two hex digits>/<id>. */
export function chunkFilePath(dir: string, id: string): string {
  return join(dir, CHUNKS_DIR, id.slice(0, 2), id)
}

// Entries that do not make a folder "not empty": the ext* fsck folder, and our own leftovers from a
// crash during initialisation or a write probe.
const IDENTITY_TEMP_PREFIX = `${IDENTITY_FILE}.tmp-`
const PROBE_PREFIX = '.dfs-write-probe-'
function isIgnorable(name: string): boolean {
  return name === 'lost+found' || name.startsWith(IDENTITY_TEMP_PREFIX) || name.startsWith(PROBE_PREFIX) || name.startsWith(CLAIM_TEMP_PREFIX)
}

/**
 * Check that dir is usable as a node folder of clusterId, and return its identity, or undefined when
 * it is empty and would become a new node. Writes nothing (beyond a probe file it removes), so a
 * caller can check every folder before it changes any. clusterId undefined means "a cluster that
 * does not exist yet": then any identity is foreign.
 */
export async function checkNodeFolder(dir: string, options: { clusterId: string | undefined }): Promise<NodeFolderIdentity | undefined> {
  const abs = resolve(dir)
  const context = { node: dir }
  await assertWritableDirectory(dir, abs)

  let identity: NodeFolderIdentity | undefined
  try {
    identity = await readIdentity(abs, dir)
  } catch (err) {
    if (err instanceof DfsError) throw err
    throw dfsError('NODE_FOLDER_INVALID', `cannot read ${join(dir, IDENTITY_FILE)} (${errnoOf(err) ?? String(err)})`, context, err)
  }
  if (identity) {
    if (identity.clusterId !== options.clusterId) {
      const expected = options.clusterId ?? 'the new cluster being created'
      throw dfsError('META_FOREIGN', `node folder ${dir} belongs to cluster ${identity.clusterId}, not ${expected}; pass the --meta folder of that cluster, or an empty folder for a new node`, {
        ...context,
        clusterId: identity.clusterId,
        expected: options.clusterId,
      })
    }
    return identity
  }

  const entries = (await readdir(abs)).filter((name) => !isIgnorable(name))
  if (entries.length > 0) {
    throw dfsError('NODE_FOLDER_INVALID', `${dir} is not empty and is not a dfs node folder`, {
      ...context,
      entries: entries.slice(0, 5),
    })
  }
  return undefined
}

/**
 * Check dir as checkNodeFolder does and return it opened: an initialised folder as it is (re-creating
 * any missing chunk subfolder), an empty one initialised as a new node when `create` is set. Never
 * creates dir itself: a missing folder is the user's typo or an unmounted disk, and writing chunks
 * into the parent's file system would hide that.
 */
export async function openNodeFolder(dir: string, options: OpenNodeFolderOptions): Promise<NodeFolder> {
  const abs = resolve(dir)
  const identity = await checkNodeFolder(dir, options)
  if (identity) {
    await ensureChunkSubfolders(abs)
    return { dir: abs, identity, created: false }
  }
  if (!options.create) {
    throw dfsError('NODE_FOLDER_INVALID', `${dir} is empty and is not a dfs node folder yet`, { node: dir })
  }
  const created: NodeFolderIdentity = {
    format: NODE_FORMAT,
    nodeId: options.nodeId ?? newNodeId(),
    clusterId: options.clusterId,
    createdAt: new Date().toISOString(),
  }
  await writeIdentity(abs, created)
  await ensureChunkSubfolders(abs)
  return { dir: abs, identity: created, created: true }
}

/** A fresh node id: 64 random bits as hex. */
export function newNodeId(): string {
  return randomBytes(8).toString('hex')
}

/**
 * The identity in dir, or undefined when there is no identity file. A file that is there but not a
 * valid identity is NODE_FOLDER_INVALID; one from a newer dfs is META_TOO_NEW. Other I/O errors
 * (the folder vanished, EIO) are thrown as they are, for the caller to classify.
 */
export async function readIdentity(abs: string, shownAs: string = abs): Promise<NodeFolderIdentity | undefined> {
  let text: string
  try {
    text = await readFile(join(abs, IDENTITY_FILE), 'utf8')
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined
    throw err
  }
  const file = join(shownAs, IDENTITY_FILE)
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw dfsError('NODE_FOLDER_INVALID', `${file} is not valid JSON`, { node: shownAs }, err)
  }
  const value = parsed as Partial<NodeFolderIdentity> | null
  if (typeof value?.format === 'number' && value.format > NODE_FORMAT) {
    throw dfsError('META_TOO_NEW', `${file} has format ${value.format}; this dfs understands up to ${NODE_FORMAT}`, {
      node: shownAs,
      format: value.format,
    })
  }
  if (value?.format !== NODE_FORMAT || typeof value.nodeId !== 'string' || typeof value.clusterId !== 'string' || !value.nodeId || !value.clusterId) {
    throw dfsError('NODE_FOLDER_INVALID', `${file} is not a valid dfs node identity`, { node: shownAs })
  }
  return { format: NODE_FORMAT, nodeId: value.nodeId, clusterId: value.clusterId, createdAt: String(value.createdAt ?? '') }
}

async function assertWritableDirectory(dir: string, abs: string): Promise<void> {
  const context = { node: dir }
  let info
  try {
    info = await stat(abs)
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') {
      throw dfsError('NODE_FOLDER_INVALID', `node folder ${dir} does not exist; create it with mkdir -p ${dir}`, context, err)
    }
    throw dfsError('NODE_FOLDER_INVALID', `cannot access node folder ${dir} (${errnoOf(err) ?? String(err)})`, context, err)
  }
  if (!info.isDirectory()) {
    throw dfsError('NODE_FOLDER_INVALID', `node folder ${dir} is not a directory; pass a folder (an empty one becomes a new node)`, context)
  }
  // access(W_OK) answers for permission bits; the probe file also catches read-only mounts, ACLs and
  // root squashing on network file systems, which access() can get wrong.
  const probe = join(abs, `${PROBE_PREFIX}${randomBytes(6).toString('hex')}`)
  try {
    await access(abs, constants.W_OK | constants.X_OK)
    await writeFile(probe, '', { flag: 'wx' })
  } catch (err) {
    throw dfsError('NODE_FOLDER_INVALID', `node folder ${dir} is not writable (${errnoOf(err) ?? String(err)}); make it writable or pass another folder`, context, err)
  }
  await unlink(probe).catch(() => {})
  // The probe leaves the folder as it found it, times included: a refused command changes nothing.
  await utimes(abs, info.atime, info.mtime).catch(() => {})
}

/** Write the identity atomically and durably: it is never half there. */
async function writeIdentity(abs: string, identity: NodeFolderIdentity): Promise<void> {
  const temp = `${IDENTITY_TEMP_PREFIX}${randomBytes(6).toString('hex')}`
  await replaceFile(join(abs, IDENTITY_FILE), `${JSON.stringify(identity, null, 2)}\n`, temp)
}

async function ensureChunkSubfolders(abs: string): Promise<void> {
  const chunks = join(abs, CHUNKS_DIR)
  await mkdir(chunks, { recursive: false }).catch(ignoreExists)
  const present = new Set(await readdir(chunks))
  const missing = CHUNK_SUBFOLDERS.filter((name) => !present.has(name))
  if (missing.length === 0) return
  await Promise.all(missing.map((name) => mkdir(join(chunks, name)).catch(ignoreExists)))
  await fsyncPath(chunks)
  await fsyncPath(abs)
}

function ignoreExists(err: unknown): void {
  if (errnoOf(err) !== 'EEXIST') throw err
}
