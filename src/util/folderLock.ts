// Exclusive use of a folder by one live process: the metadata folder (one daemon journals into it)
// and a node folder (one process stores chunks in it). Node 20 has no flock, so the lock is a
// socket bound in Linux's abstract namespace under a name derived from the folder's device, inode
// and birth time (an inode number is reused at once after a folder is removed: without the birth
// time, a process still holding a removed folder's lock would refuse a new folder that got its inode). Binding is atomic (of two processes taking over at once, one gets EADDRINUSE), the name
// lives exactly as long as the socket, and the kernel closes the socket when the process dies
// however it dies, so there is no stale state to detect and nothing on disk anyone can delete to
// let a second writer in. Whoever finds the name taken connects to it and the holder answers with
// its pid, which is how the refusal names it.
//
// The abstract namespace is per network namespace. For that case (and for a folder shared between
// hosts) a folder may also carry a record file naming its holder with a random token: a record
// naming a live process elsewhere is refused, and verify() lets the holder check before each
// write that the record is still its own, so a process that lost the folder stops writing.
//
// verify() runs before every journal write, so its usual answer costs one stat: a record whose
// inode, size and change times are those of the record this process last wrote or read whole is
// still that record (anyone replacing, rewriting, moving or deleting it, or the folder it is in,
// changes one of them). Reading it whole again at least once a second bounds what a file system
// that caches attributes (NFS, between hosts) could hide.

import { randomUUID } from 'node:crypto'
import type { BigIntStats } from 'node:fs'
import { link, readlink, stat, unlink, writeFile } from 'node:fs/promises'
import { type Server, type Socket, connect, createServer } from 'node:net'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { type DfsCode, dfsError } from '../errors.js'
import { readTextIfExists } from './files.js'
import { isNotFound } from './osError.js'

export interface LockOwner {
  pid: number
  hostname: string
  startedAt: string
  /** Random per acquisition: tells this holder's record from a later one with the same pid. */
  token?: string
}

/** What is being locked, for the lock's name and its messages. */
export interface LockKind {
  /** "metadata folder", "node folder". */
  what: string
  code: Extract<DfsCode, 'META_LOCKED' | 'NODE_LOCKED'>
  /** How to make a live holder let go, e.g. "unmount it first (dfs unmount <mountpoint>)". */
  howToStop: string
  /** A file in the folder recording the holder (see above); none: the socket alone. */
  recordFile?: string
}

export interface FolderLock {
  readonly dir: string
  readonly owner: LockOwner
  /**
   * Check that this process still holds the folder: it is still the folder that was locked and
   * the record (if any) still names this lock. A record someone deleted is written again. Throws
   * (the kind's code) when another process's record replaced it.
   */
  verify(): Promise<void>
  /** Let go: close the socket and remove the record if it is still ours. Safe to call twice. */
  release(): Promise<void>
}

// How long a holder has to say who it is. A stopped (SIGSTOP) holder never answers.
const ASK_TIMEOUT_MS = 3000
/** verify() reads the record whole at least this often, however unchanged its stat looks. */
const FULL_CHECK_MS = 1000

export async function acquireFolderLock(dir: string, kind: LockKind, log: (msg: string) => void = () => {}): Promise<FolderLock> {
  const { dev, ino } = await stat(dir)
  const owner: LockOwner = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString(), token: randomUUID() }
  const server = await bindName(await lockName(dir), owner, dir, kind)
  try {
    if (kind.recordFile) await takeRecord(join(dir, kind.recordFile), owner, dir, kind, log)
  } catch (err) {
    await closeServer(server)
    throw err
  }

  const recordFile = kind.recordFile ? join(dir, kind.recordFile) : undefined
  /** The record as it was when last known to be ours (see the top of the file), and when that was. */
  let known: { identity: string; at: number } | undefined
  let released: Promise<void> | undefined
  return {
    dir,
    owner,
    async verify() {
      if (released) throw dfsError(kind.code, `${kind.what} ${dir} was released by this process`, { dir })
      if (recordFile && known && performance.now() - known.at < FULL_CHECK_MS) {
        const seen = await stat(recordFile, { bigint: true }).catch(() => undefined)
        if (seen && identityOf(seen) === known.identity) return
      }
      const now = await stat(dir).catch(() => undefined)
      if (!now || now.dev !== dev || now.ino !== ino) {
        throw dfsError(kind.code, `${kind.what} ${dir} was removed or replaced while this process (${process.pid}) used it; it stops writing there`, { dir })
      }
      if (!recordFile) return
      known = undefined
      const at = performance.now()
      // Taken before the record is read: a change after the stat shows either in what is read or as
      // a mismatch next time, never in neither. (A record written again here is known next time.)
      const seen = await stat(recordFile, { bigint: true }).catch(() => undefined)
      await keepRecord(recordFile, owner, dir, kind, log)
      if (seen) known = { identity: identityOf(seen), at }
    },
    release() {
      released ??= (async () => {
        try {
          if (kind.recordFile) await removeRecordIfOurs(join(dir, kind.recordFile), owner)
        } finally {
          await closeServer(server)
        }
      })()
      return released
    },
  }
}

/**
 * What tells one version of the record from another without reading it: a new file (inode), a
 * rewrite (size, mtime), a rename or link of it (ctime). Kernels since 6.13 give a change right
 * after a stat a fine-grained time, so even two writes within one clock tick differ.
 */
function identityOf(info: BigIntStats): string {
  return `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`
}

/**
 * Throw the kind's error if a live process holds dir now; change nothing on disk (a check made
 * before a command writes anything). The answer can change a moment later: acquire to be sure.
 */
export async function checkFolderUnlocked(dir: string, kind: LockKind): Promise<void> {
  const owner: LockOwner = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString() }
  await closeServer(await bindName(await lockName(dir), owner, dir, kind))
}

/**
 * The abstract socket name for a folder: the same for every path that reaches it (symlinks, bind
 * mounts), and not the same for a later folder that reuses a removed one's inode number.
 */
export async function lockName(dir: string): Promise<string> {
  const { dev, ino, birthtimeNs } = await stat(dir, { bigint: true })
  return `\0dfs-folder-lock/${dev}/${ino}/${birthtimeNs}`
}

async function bindName(name: string, owner: LockOwner, dir: string, kind: LockKind): Promise<Server> {
  // A holder that closes between our bind and our question: bind again. Three rounds is plenty,
  // since each lost round means another process got the lock and still held it a moment ago.
  for (let round = 1; ; round++) {
    const server = createServer((socket) => socket.end(`${JSON.stringify(owner)}\n`))
    const bound = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      server.once('error', resolve)
      server.listen(name, () => resolve(undefined))
    })
    if (!bound) {
      server.on('error', () => {}) // a failed accept must not crash the process that holds the lock
      server.unref() // the lock never keeps a process alive
      return server
    }
    if (bound.code !== 'EADDRINUSE') throw bound
    const holder = await askHolder(name)
    if (holder === 'gone' && round < 3) continue
    // A holder that does not answer (stopped) may still be named by its record.
    const named = holder === 'gone' ? undefined : (holder ?? (kind.recordFile ? await readRecord(join(dir, kind.recordFile)) : undefined))
    throw lockedError(dir, kind, named, holder === undefined)
  }
}

/** The holder's record, 'gone' if it let go meanwhile, undefined if it does not answer (stopped). */
function askHolder(name: string): Promise<LockOwner | 'gone' | undefined> {
  return new Promise((resolve) => {
    let text = ''
    const socket: Socket = connect(name)
    const timer = setTimeout(() => done(undefined), ASK_TIMEOUT_MS)
    const done = (answer: LockOwner | 'gone' | undefined) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(answer)
    }
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (text += chunk))
    socket.on('end', () => done(parseOwner(text)))
    socket.on('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? 'gone' : undefined))
  })
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<LockOwner>
    if (typeof parsed.pid === 'number' && typeof parsed.hostname === 'string' && typeof parsed.startedAt === 'string') {
      return { pid: parsed.pid, hostname: parsed.hostname, startedAt: parsed.startedAt, ...(typeof parsed.token === 'string' ? { token: parsed.token } : {}) }
    }
  } catch {
    // not a record we wrote whole
  }
  return undefined
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}

// ---- the record file ---------------------------------------------------------------------------

/** With the socket held: replace a stale record by ours, or refuse one a live process elsewhere holds. */
async function takeRecord(file: string, owner: LockOwner, dir: string, kind: LockKind, log: (msg: string) => void): Promise<void> {
  const holder = await readRecord(file)
  if (holder) {
    if (await heldElsewhere(holder)) throw lockedError(dir, kind, holder)
    if (holder.pid !== process.pid || holder.hostname !== owner.hostname) {
      log(`${kind.what} ${dir}: taking over a stale lock left by process ${holder.pid} (started ${holder.startedAt}), which is no longer running`)
    }
    await unlink(file).catch((err) => {
      if (!isNotFound(err)) throw err
    })
  }
  // Exclusive: a process in another network namespace taking the folder at this instant gets
  // EEXIST, or we do.
  if (!(await createExclusive(file, `${JSON.stringify(owner)}\n`))) throw lockedError(dir, kind, await readRecord(file))
}

/** verify()'s part: the record must still be ours; one someone deleted is written again. */
async function keepRecord(file: string, owner: LockOwner, dir: string, kind: LockKind, log: (msg: string) => void): Promise<void> {
  let holder = await readRecord(file)
  if (!holder) {
    if (await createExclusive(file, `${JSON.stringify(owner)}\n`)) {
      log(`${kind.what} ${dir}: its lock file ${file} was deleted while this process (${process.pid}) holds the folder; wrote it again`)
      return
    }
    holder = await readRecord(file)
  }
  if (holder && holder.token === owner.token && holder.pid === owner.pid) return
  throw dfsError(
    kind.code,
    `${kind.what} ${dir} was taken over by process ${holder?.pid ?? '?'}${holder && holder.hostname !== owner.hostname ? ` on host ${holder.hostname}` : ''} ` +
      `(its lock file no longer names this process, ${process.pid}); this process stops writing there`,
    { dir, pid: holder?.pid, hostname: holder?.hostname },
  )
}

/**
 * Whether a record names a process that may hold the folder although we hold its socket: one on
 * another host (we cannot see it), or a live one in another network namespace (it bound its name
 * in its own). A live process in our namespace without the socket is not a dfs holding the folder:
 * its pid was reused.
 */
async function heldElsewhere(holder: LockOwner): Promise<boolean> {
  if (holder.hostname !== hostname()) return true
  if (holder.pid <= 0 || holder.pid === process.pid) return false
  try {
    process.kill(holder.pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false // gone
  }
  const [theirs, ours] = await Promise.all([readlink(`/proc/${holder.pid}/ns/net`).catch(() => undefined), readlink('/proc/self/ns/net').catch(() => undefined)])
  return theirs === undefined || theirs !== ours
}

/** The record; undefined when there is none. Unreadable content counts as a dead holder's. */
async function readRecord(file: string): Promise<LockOwner | undefined> {
  const text = await readTextIfExists(file)
  if (text === undefined) return undefined
  return parseOwner(text) ?? { pid: 0, hostname: hostname(), startedAt: 'unknown' }
}

/**
 * Create `file` with `content` only if it does not exist. The content is written to a unique temp
 * file first and then hard-linked into place, which fails with EEXIST like O_EXCL does but never
 * shows another process an empty record.
 */
async function createExclusive(file: string, content: string): Promise<boolean> {
  const tmp = `${file}.${randomUUID()}.tmp`
  await writeFile(tmp, content, { flag: 'wx' })
  try {
    await link(tmp, file)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  } finally {
    await unlink(tmp)
  }
}

async function removeRecordIfOurs(file: string, owner: LockOwner): Promise<void> {
  const holder = await readRecord(file)
  if (holder?.token !== owner.token) return
  await unlink(file).catch((err) => {
    if (!isNotFound(err)) throw err
  })
}

function lockedError(dir: string, kind: LockKind, holder: LockOwner | undefined, silent = false) {
  const context = { dir, pid: holder?.pid, hostname: holder?.hostname, startedAt: holder?.startedAt }
  if (silent) {
    const who = holder && holder.pid > 0 ? `process ${holder.pid}` : 'another process'
    return dfsError(kind.code, `${kind.what} ${dir} is in use by ${who}, which does not answer (is it stopped? kill -CONT it, or end it); ${kind.howToStop}`, context)
  }
  if (!holder) {
    return dfsError(kind.code, `${kind.what} ${dir} is in use by another process; ${kind.howToStop}`, context)
  }
  if (holder.hostname !== hostname()) {
    return dfsError(
      kind.code,
      `${kind.what} ${dir} is in use by process ${holder.pid} on host ${holder.hostname}; stop it there first` +
        (kind.recordFile ? ` (only if that host is gone for good, remove ${join(dir, kind.recordFile)})` : ''),
      context,
    )
  }
  return dfsError(kind.code, `${kind.what} ${dir} is in use by process ${holder.pid}; ${kind.howToStop}`, context)
}
