// dfs policy apply <dir> [--no-wait] [--json]: have the NameNode convert the files already under a
// directory to the storage policy in force for their directory (copies <-> erasure-coded stripes),
// and show its progress until it is done (as dfs balance). The work happens at the NameNode (the
// embedded one in the mount daemon, or a dfs namenode); this command only starts it, follows it
// (policy-apply-status, every 250 ms) or cancels it. Ctrl-C stops watching, not the conversion.
// dfs policy apply --cancel [dir]: stop the conversion running; every chunk is converted or untouched.
// Each also with --namenode tcp://… --secret-file <f> and a path in the namespace.
//
// Exported as a subcommand for `dfs policy` (policy.ts) to add.

import { relative } from 'node:path'
import { Command } from 'commander'
import { type ConversionStatus } from '../cluster/convert/conversionStatus.js'
import { dfsError, isDfsError } from '../errors.js'
import { dfsMountContaining } from '../fuse/mountpoint.js'
import { formatSize } from '../util/size.js'
import { oneLine } from '../util/oneLine.js'
import { type ControlTarget, NAMENODE_OPTION, SECRET_OPTION, type TargetFlags, openTarget } from './controlTarget.js'
import { followed } from './info.js'
import { Progress, type ProgressState } from './progress.js'

const POLL_MS = 250
/** Cancelling waits for the chunks in flight to end. */
const CANCEL_TIMEOUT_MS = 120_000

interface ApplyFlags extends TargetFlags {
  /** commander's --no-wait: false when given. */
  wait?: boolean
  cancel?: boolean
  json?: boolean
}

export function applyCommand(): Command {
  return new Command('apply')
    .description('convert the files already under a directory to the storage policy in force for their directory, in the background at the NameNode, with a progress bar')
    .argument('[dir]', 'a directory in a dfs mount (with --namenode: a path in the namespace, /dir); with --cancel, any path in the mount')
    .option('--no-wait', 'start the conversion and return at once (dfs status shows its progress)')
    .option('--cancel', 'stop the conversion running: each chunk is either converted or left as it was, every byte kept')
    .option('--json', 'print the final (or, with --no-wait, the first) status as JSON, and no progress bar')
    .option(...NAMENODE_OPTION)
    .option(...SECRET_OPTION)
    .action(async (dir: string | undefined, flags: ApplyFlags) => {
      if (flags.cancel) {
        if (flags.wait === false) throw dfsError('BAD_ARGUMENT', 'give --cancel or --no-wait, not both')
        return await withDirTarget(dir, flags, (target) => cancelConversion(target, flags))
      }
      if (dir === undefined) throw dfsError('BAD_ARGUMENT', 'name the directory whose files to convert: dfs policy apply <dir> (or --cancel to stop one)')
      const result = await withDirTarget(dir, flags, async (target, path) => {
        const started = (await target.call('policy-apply', { path }).catch((err) => { throw userError(err, dir) })) as ConversionStatus
        if (flags.wait === false) {
          if (flags.json) console.log(JSON.stringify(started, null, 2))
          else console.log(`dfs: converting the files under ${oneLine(dir)} to ${started.policy} (subdirectories with a policy of their own: to theirs) in the background; ` +
            `dfs status ${target.cli} shows its progress, dfs policy apply --cancel ${target.cli} stops it`)
          return undefined
        }
        const s = await followConversion(target, started, dir, flags)
        if (flags.json) console.log(JSON.stringify(s, null, 2))
        else console.log(formatResult(s, dir))
        return s
      })
      if (result) failIfUnfinished(result)
    })
}

/**
 * The target for a directory given on the command line, and its path as the NameNode names it: with
 * --namenode the path as given (in the namespace); else the daemon serving the mount it is in, and
 * the path from that mount's root (the namespace's root). Without a directory: the one daemon running.
 */
async function withDirTarget<T>(dir: string | undefined, flags: TargetFlags, fn: (target: ControlTarget, path: string) => Promise<T>): Promise<T> {
  let mountpoint: string | undefined
  let path = dir ?? '/'
  if (flags.namenode === undefined && dir !== undefined) {
    if (flags.secretFile !== undefined) throw dfsError('BAD_ARGUMENT', '--secret-file goes with --namenode tcp://host:port; a directory in a local mount needs no secret (drop it, or add --namenode)')
    // Symlinks followed, as cd does.
    const abs = await followed(dir, dir.startsWith('/') ? dir : `${process.cwd()}/${dir}`)
    const mount = await dfsMountContaining(abs)
    if (!mount) throw dfsError('NOT_MOUNTED', `${dir} is not in a dfs mount; give a directory inside a mounted dfs folder, or a namespace path with --namenode tcp://host:port`, { path: dir })
    mountpoint = mount.mountpoint
    path = `/${relative(mount.mountpoint, abs)}`
  }
  const target = await openTarget(mountpoint, flags)
  try {
    return await fn(target, path)
  } finally {
    target.close()
  }
}

/** The NameNode names the path as it sees it; say it as the user gave it, with the fix. */
function userError(err: unknown, dir: string): unknown {
  if (!isDfsError(err)) return err
  switch (err.code) {
    case 'ENOENT': return dfsError(err.code, `${dir}: no such file or directory`, { path: dir }, err)
    case 'ENOTDIR': return dfsError(err.code, `${dir} is not a directory: dfs policy apply converts the files under a directory; give the folder`, { path: dir }, err)
    case 'POLICY_TOO_WIDE': return dfsError(err.code, `${dir}: ${err.message}`, { path: dir }, err)
    default: return err
  }
}

/** Poll until the conversion ends, with a progress bar on stderr (none with --json). */
export async function followConversion(target: ControlTarget, started: ConversionStatus, dir: string, flags: { json?: boolean } = {}): Promise<ConversionStatus> {
  const progress = new Progress({ label: `policy apply ${oneLine(dir)}`, quiet: flags.json })
  const onInterrupt = () => {
    progress.interrupt()
    process.stderr.write(`dfs: stopped watching; the conversion goes on in ${target.namenode ? 'the NameNode' : 'the daemon'} (dfs status ${target.cli} shows it; ` +
      `dfs policy apply --cancel ${target.cli} stops it)\n`)
    process.exit(130)
  }
  process.once('SIGINT', onInterrupt)
  try {
    let s = started
    while (s.state === 'running') {
      progress.update(conversionProgress(s))
      await new Promise((resolve) => setTimeout(resolve, POLL_MS))
      const now = (await target.call('policy-apply-status')) as ConversionStatus | null
      if (!now || now.id !== started.id) {
        progress.interrupt()
        throw dfsError('EIO', `${target.what} no longer knows this conversion (was it restarted?); run dfs policy apply ${oneLine(dir)} again`, { target: target.cli })
      }
      s = now
    }
    progress.finish(conversionProgress(s))
    return s
  } finally {
    process.off('SIGINT', onInterrupt)
  }
}

/** The bar follows chunks handled of chunks found; the detail: `1/2 files  3/6 chunks  1.0 MiB/2.0 MiB  5.0 MiB/s`. */
export function conversionProgress(s: ConversionStatus): ProgressState {
  if (s.state === 'running' && s.phase === 'counting') {
    return { value: 0, total: 0, detail: `counting: ${s.filesTotal} files, ${s.chunksTotal} chunks (${formatSize(s.bytesTotal)}) to convert so far` }
  }
  const parts = [
    `${s.filesDone}/${s.filesTotal} files`,
    `${s.chunksDone}/${s.chunksTotal} chunks`,
    `${formatSize(s.bytesDone)}/${formatSize(s.bytesTotal)}`,
    `${formatSize(s.bytesPerSec)}/s`,
  ]
  if (s.skippedChunks) parts.push(`${s.skippedChunks} skipped`)
  if (s.failedChunks) parts.push(`${s.failedChunks} failed`)
  if (s.state !== 'running') parts.push(s.state)
  const handled = s.chunksDone + s.skippedChunks + s.failedChunks
  // Nothing to convert: a finished job is all done.
  const nothing = s.chunksTotal === 0 && s.state !== 'running'
  return { value: nothing ? 1 : handled, total: nothing ? 1 : s.chunksTotal, detail: parts.join('  ') }
}

async function cancelConversion(target: ControlTarget, flags: { json?: boolean }): Promise<void> {
  const s = (await target.call('policy-apply-cancel', {}, CANCEL_TIMEOUT_MS)) as ConversionStatus
  if (flags.json) return console.log(JSON.stringify(s, null, 2))
  console.log(`dfs: policy apply of ${oneLine(s.path)} cancelled: converted ${s.chunksDone} of ${s.chunksTotal} chunks (${formatSize(s.bytesDone)}); ` +
    'the others keep their layout, every byte is kept; run it again to finish')
}

function formatResult(s: ConversionStatus, dir: string): string {
  if (s.chunksTotal === 0) return `dfs: every file under ${oneLine(dir)} is already stored as its directory's policy (${s.policy} at ${oneLine(dir)}): nothing to convert`
  const lines = [
    `dfs: converted ${s.chunksDone} of ${s.chunksTotal} chunks (${formatSize(s.bytesDone)}) of ${s.filesTotal} file${s.filesTotal === 1 ? '' : 's'} under ${oneLine(dir)} to ${s.policy} ` +
      `in ${(s.elapsedMs / 1000).toFixed(1)} s` + (s.skippedChunks ? `, ${s.skippedChunks} skipped (rewritten meanwhile)` : '') + (s.failedChunks ? `, ${s.failedChunks} failed` : ''),
  ]
  if (s.storedBefore > 0) lines.push(`stored on nodes: ${formatSize(s.storedBefore)} before, ${formatSize(s.storedAfter)} now (${(s.storedAfter / s.bytesDone).toFixed(2)}x the data)`)
  return lines.join('\n')
}

function failIfUnfinished(s: ConversionStatus): void {
  if (s.state === 'failed') throw dfsError('EIO', `policy apply of ${s.path} failed: ${s.error ?? 'see the daemon log'}`, { path: s.path })
  if (s.state === 'stopped') throw dfsError('EIO', `policy apply of ${s.path} stopped: the NameNode is shutting down; run it again once it is back`, { path: s.path })
  // Not a failure (exit status 3, see errorOutput.ts): someone stopped it on purpose.
  if (s.state === 'cancelled') {
    throw dfsError('JOB_CANCELLED', `policy apply of ${s.path} cancelled (dfs policy apply --cancel) after ${s.chunksDone} of ${s.chunksTotal} chunks; every byte is kept, run it again to finish`, { path: s.path })
  }
  if (s.failedChunks > 0) {
    throw dfsError('EIO', `${s.failedChunks} chunk${s.failedChunks === 1 ? '' : 's'} under ${s.path} could not be converted (they keep their layout and every byte; the daemon log says why); run dfs policy apply again`, { path: s.path })
  }
}
