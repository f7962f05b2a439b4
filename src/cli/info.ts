// dfs info <path> [--json]: where the chunks of a file in a mount are (as mfsfileinfo, or
// `hdfs fsck <path> -files -blocks -locations`): inode, size, chunk size, and per chunk its id,
// offset, length, SHA-256 and each copy's node, the node's state, the copy's state and when the
// scrubber last verified it. Asked of the daemon serving the mount, over its control socket (it
// resolves the path as the mount does and asks its NameNode session).
// dfs info --namenode tcp://… --secret-file <f> /path/in/namespace: the same, from a NameNode.

import { lstat, readlink } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { Command } from 'commander'
import type { ChunkPlacement, CopyPlacement, FilePlacement } from '../protocol/placement.js'
import { dfsError, isDfsError } from '../errors.js'
import { dfsMountContaining } from '../fuse/mountpoint.js'
import { formatSize } from '../util/size.js'
import { oneLine } from '../util/oneLine.js'
import { NAMENODE_OPTION, SECRET_OPTION, type TargetFlags, withTarget } from './controlTarget.js'
import { findDaemon } from './status.js'
import { callControl } from '../daemon/control.js'

export function infoCommand(): Command {
  return new Command('info')
    .description('show where the chunks of a file are: each chunk\'s id, length and SHA-256, the nodes holding its copies and how each copy stands')
    .argument('<path>', 'a file in a dfs mount (with --namenode: a path in the namespace, /dir/file)')
    .option('--json', 'print the placement as JSON (the value of the xattr user.dfs.placement)')
    .option(...NAMENODE_OPTION)
    .option(...SECRET_OPTION)
    .action(async (path: string, flags: { json?: boolean } & TargetFlags) => {
      const placement = await placementOf(path, flags)
      if (flags.json) console.log(JSON.stringify(placement, null, 2))
      else console.log(formatPlacement(placement))
    })
}

async function placementOf(path: string, flags: TargetFlags): Promise<FilePlacement> {
  if (flags.namenode !== undefined) {
    return await withTarget(undefined, flags, target => target.call('info', { path })) as FilePlacement
  }
  if (flags.secretFile !== undefined) throw dfsError('BAD_ARGUMENT', '--secret-file goes with --namenode tcp://host:port; a file in a local mount needs no secret (drop it, or add --namenode)')
  // Symlinks followed, as getfattr and cat do (the file a symlink names, even in another mount).
  // Not resolve(): "link/.." is where the link's target's parent is, as the kernel sees it.
  const abs = await followed(path, path.startsWith('/') ? path : `${process.cwd()}/${path}`)
  const mount = await dfsMountContaining(abs)
  if (!mount) throw dfsError('NOT_MOUNTED', `${path} is not in a dfs mount; give a file inside a mounted dfs folder, or a namespace path with --namenode tcp://host:port`, { path })
  const daemon = await findDaemon(mount.mountpoint)
  const inMount = `/${relative(mount.mountpoint, abs)}`
  try {
    const placement = await callControl(daemon.control, 'info', { path: inMount }) as FilePlacement
    return { ...placement, path: abs }
  } catch (err) {
    // The daemon names the path as the mount sees it; say it as the user gave it.
    if (isDfsError(err, 'ENOENT') || isDfsError(err, 'ENOTDIR')) throw dfsError(err.code, `${path}: ${err.code === 'ENOENT' ? 'no such file or directory' : 'a component is not a directory'}`, { path }, err)
    throw err
  }
}

/**
 * `abs` with its symlinks resolved, as realpath does (and getfattr, cat), a component at a time, and
 * never looking inside a dfs mount before its daemon is known to run: a lookup there waits for a
 * stopped daemon forever, where findDaemon says it is stopped. A symlink that leads nowhere
 * (dangling, or a cycle) is that error, as getfattr says it: the link itself is not the file asked
 * about. Anything else unresolvable (a missing name, a stale mount) stays as given, for the daemon,
 * or findDaemon, to name.
 */
export async function followed(path: string, abs: string): Promise<string> {
  const rest = abs.split('/').filter(part => part !== '')
  const checked = new Set<string>()
  let at = '/'
  /** The last symlink's target, and how many of `rest`'s names come after it (are not its). */
  let link: { target: string; after: number } | undefined
  for (let links = 0; rest.length > 0;) {
    const name = rest.shift()!
    if (name === '.') continue
    if (name === '..') {
      at = dirname(at)
      continue
    }
    const next = join(at, name)
    const mount = await dfsMountContaining(next)
    if (mount && !checked.has(mount.mountpoint)) {
      await findDaemon(mount.mountpoint)
      checked.add(mount.mountpoint)
    }
    const stat = await lstat(next).catch((err: NodeJS.ErrnoException) => err)
    if (stat instanceof Error) {
      if (stat.code === 'ENOENT' && link && rest.length >= link.after) throw dfsError('ENOENT', `${path}: a symbolic link to ${link.target}, which does not exist`, { path })
      return join(next, ...rest)
    }
    if (!stat.isSymbolicLink()) {
      at = next
      continue
    }
    // Linux's limit on symlinks followed in one path.
    if (++links > 40) throw dfsError('ELOOP', `${path}: too many levels of symbolic links (a symlink cycle); fix the link, or give the file it should name`, { path })
    const target = await readlink(next)
    link = { target, after: rest.length }
    rest.unshift(...target.split('/').filter(part => part !== ''))
    if (target.startsWith('/')) at = '/'
  }
  return at
}

export function formatPlacement(p: FilePlacement, now = Date.now()): string {
  // A line per file, chunk and copy, whatever a name holds (a newline, an escape sequence).
  const path = oneLine(p.path)
  if (p.type !== 'file') {
    const what = p.type === 'dir' ? 'a directory' : p.type === 'symlink' ? 'a symbolic link' : 'a special file'
    return `${path}: inode ${p.ino}, ${what}: no chunks (only regular files have chunks)`
  }
  const holes = Math.ceil(p.size / p.chunkSize) - p.chunks.length
  const lines = [
    `${path}: inode ${p.ino}, ${p.size} bytes (${formatSize(p.size)}), ${p.chunks.length} chunk${p.chunks.length === 1 ? '' : 's'} of ${formatSize(p.chunkSize)}` +
    `${holes > 0 ? ` and ${holes} hole${holes === 1 ? '' : 's'} (never written, read as zeros)` : ''}, ${p.replicas} replicas${layoutsInUse(p)}`,
  ]
  const verified = (copy: CopyPlacement) => (copy.verifiedAt === undefined ? 'not verified yet' : `verified ${ago(now - copy.verifiedAt)}`)
  const copyLine = (copy: CopyPlacement) => `${copy.state.padEnd(11)}  node ${copy.nodeId} (${copy.node}) ${oneLine(copy.address)}, ${verified(copy)}`
  for (const c of p.chunks) {
    // A chunk stored otherwise than the file's R copies says how (a stripe, or its own copy count).
    const layout = c.layout && c.layout !== `replicas:${p.replicas}` ? `, ${c.layout}` : ''
    lines.push(`chunk ${c.index}: offset ${c.offset}, ${c.length} bytes, id ${c.id}, sha256 ${c.sha256}${layout}`)
    if (c.shards) {
      // Each shard on its own line: its node (as a copy's), then its own id and SHA-256.
      for (const shard of c.shards) {
        const own = `id ${shard.id}, ${shard.length} bytes, sha256 ${shard.sha256}`
        const copies = c.copies.filter(copy => copy.shard === shard.index)
        if (copies.length === 0) lines.push(`  shard ${shard.index}  ${'lost'.padEnd(11)}  no node holds it (the healer rebuilds it); ${own}`)
        for (const copy of copies) lines.push(`  shard ${shard.index}  ${copyLine(copy)}; ${own}`)
      }
      continue
    }
    for (const copy of c.copies) lines.push(`  ${copyLine(copy)}`)
    if (c.copies.length === 0) lines.push('  no copies listed')
  }
  lines.push(summary(p.chunks, p.replicas))
  return lines.join('\n')
}

/** The layouts of the file's chunks, when any is not the file's R copies: ", stored as ec:2+1 (3 chunks), replicas:2 (1 chunk)". */
function layoutsInUse(p: FilePlacement): string {
  const counts = new Map<string, number>()
  for (const c of p.chunks) counts.set(c.layout ?? `replicas:${p.replicas}`, (counts.get(c.layout ?? `replicas:${p.replicas}`) ?? 0) + 1)
  if ([...counts.keys()].every(layout => layout === `replicas:${p.replicas}`)) return ''
  return `, stored as ${[...counts].map(([layout, n]) => `${layout} (${n} chunk${n === 1 ? '' : 's'})`).join(', ')}`
}

function summary(chunks: ChunkPlacement[], replicas: number): string {
  if (chunks.length === 0) return 'no chunks: the file is empty or all holes'
  const wanted = (c: ChunkPlacement) => c.wanted ?? replicas
  const short = chunks.filter(c => c.intact < wanted(c))
  const none = short.filter(c => c.intact < (c.needed ?? 1)).length
  if (chunks.every(c => !c.shards && wanted(c) === replicas)) {
    if (short.length === 0) return `every chunk has ${replicas} intact copies`
    return `${short.length} of ${chunks.length} chunks have fewer than ${replicas} intact copies` +
      `${none > 0 ? ` (${none} with none on a live node: reads of them fail now)` : ''}; the healer restores them (dfs status)`
  }
  if (short.length === 0) return 'every chunk has all its intact copies or shards'
  return `${short.length} of ${chunks.length} chunks are short of their intact copies or shards` +
    `${none > 0 ? ` (${none} with fewer than a read needs on live nodes: reads of them fail now)` : ''}; the healer restores them (dfs status)`
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  return s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`
}
