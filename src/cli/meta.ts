// dfs meta dump (--meta <dir> | --namenode tcp://… --secret-file f) > ns.json: the whole namespace as
// one JSON document (meta/dump.ts), streamed to stdout.
// dfs meta load --meta <empty dir> [--from ns.json] (< ns.json): a metadata folder made of a dump,
// checked whole before anything is written (meta/loadDump.ts).

import { createReadStream } from 'node:fs'
import { resolve } from 'node:path'
import { Command } from 'commander'
import { connectTool } from '../client/callNameNode.js'
import { parseSettings } from '../cluster/settings.js'
import { readSecretFile } from '../datanode/tcp/secret.js'
import { dfsError } from '../errors.js'
import { captureStore, linesOf, readDump, streamSink, writeDump } from '../meta/dump.js'
import { checkLoadTarget, loadDumpInto } from '../meta/loadDump.js'
import { inspectMetaFolder } from '../meta/metaFormat.js'
import { MetaStore } from '../meta/MetaStore.js'
import { namespaceMachine } from '../meta/namespace/machine.js'
import { releaseHint } from '../meta/orphanHold.js'
import { namenodeAddresses } from './mount.js'

export function metaCommand(): Command {
  const meta = new Command('meta').description('dump a cluster\'s namespace as JSON, or make a metadata folder of such a dump')
  meta.addCommand(new Command('dump').exitOverride()
    .description('write the whole namespace (inodes, names, links, xattrs, owners, times, chunk maps) with the cluster id, settings, seq and epoch claim as one JSON document to stdout')
    .option('--meta <dir>', 'a metadata folder, read without locking it (works while a NameNode runs on it)')
    .option('--namenode <address>', 'instead of --meta: the NameNode at tcp://host:port (then standbys, comma-separated) sends its live namespace')
    .option('--secret-file <file>', 'with --namenode: the cluster secret')
    .action(async (flags: { meta?: string; namenode?: string; secretFile?: string }) => {
      await dump(flags)
    }))
  meta.addCommand(new Command('load').exitOverride()
    .description('make a new metadata folder of a dump (read from stdin, or --from); the first NameNode on it claims the DataNodes with a new epoch')
    .requiredOption('--meta <dir>', 'the metadata folder to make: missing or empty')
    .option('--from <file>', 'read the dump from this file instead of stdin')
    .action(async (flags: { meta: string; from?: string }) => {
      await load(flags)
    }))
  return meta
}

async function dump(flags: { meta?: string; namenode?: string; secretFile?: string }): Promise<void> {
  const sink = streamSink(process.stdout)
  if (flags.namenode !== undefined) {
    if (flags.meta !== undefined) throw dfsError('BAD_ARGUMENT', 'give --meta <dir> or --namenode tcp://host:port, not both', {})
    if (flags.secretFile === undefined) throw dfsError('BAD_ARGUMENT', '--namenode needs --secret-file: the cluster secret the NameNode and its clients share', {})
    const addresses = namenodeAddresses(flags.namenode, '--namenode')
    const tool = await connectTool(addresses, await readSecretFile(flags.secretFile))
    try {
      const { header, pieces } = await tool.dump()
      await writeDump(header, pieces, sink)
    } finally {
      tool.close()
    }
    return
  }
  if (flags.meta === undefined) throw dfsError('BAD_ARGUMENT', 'say which namespace to dump: --meta <dir> (a metadata folder) or --namenode tcp://host:port --secret-file <f> (a running NameNode)', {})
  if (flags.secretFile !== undefined) throw dfsError('BAD_ARGUMENT', '--secret-file goes with --namenode; --meta reads the folder directly (drop it)', {})
  const dir = resolve(flags.meta)
  const format = await inspectMetaFolder(dir)
  if (!format) throw dfsError('META_FOREIGN', `${flags.meta} holds no dfs cluster (no format.json); pass the --meta folder given to dfs mount or dfs namenode`, { meta: flags.meta })
  const settings = parseSettings(format.settings, dir)
  const machine = namespaceMachine({ uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, createdAt: settings.createdAt })
  const store = await MetaStore.open(dir, machine, { readOnly: true })
  try {
    const { header, pieces } = await captureStore(store)
    await writeDump(header, pieces, sink)
  } finally {
    await store.close()
  }
}

async function load(flags: { meta: string; from?: string }): Promise<void> {
  const dir = resolve(flags.meta)
  await checkLoadTarget(dir) // before reading a possibly large input
  if (flags.from === undefined && process.stdin.isTTY) {
    throw dfsError('BAD_ARGUMENT', `pipe the dump in (dfs meta load --meta ${flags.meta} < ns.json) or name it with --from <file>`, {})
  }
  const source = flags.from ?? 'stdin'
  const input = flags.from === undefined ? process.stdin : createReadStream(flags.from)
  const opened = new Promise<void>((resolveOpen, reject) => {
    if (flags.from === undefined) return resolveOpen()
    input.once('error', (err: NodeJS.ErrnoException) => reject(dfsError(err.code === 'ENOENT' ? 'ENOENT' : 'EIO', `cannot read ${flags.from}: ${err.message}`, { file: flags.from }, err)))
    input.once('open', () => resolveOpen())
  })
  await opened
  const loaded = await readDump(linesOf(input), source)
  await loadDumpInto(dir, loaded, { source })
  const { header } = loaded
  console.log(`dfs meta load: made metadata folder ${dir} of cluster ${header.clusterId} as of record ${header.lastSeq} (${loaded.inodes} inodes, ${loaded.entries} names)`)
  if (header.epoch) {
    console.log(`  next: the first NameNode (or mount) on this folder claims the DataNodes with epoch ${header.epoch.epoch + 1}, from the dump's claim (epoch ${header.epoch.epoch});`)
    console.log('  from then on the folder the dump was taken from is behind the cluster (fenced: it can read but never delete); stop its NameNode first, or the claim is refused while it holds the nodes (EPOCH_HELD)')
    console.log(`  if another NameNode claimed the nodes after the dump was taken (epoch above ${header.epoch.epoch}), the claim is refused (EPOCH_BEHIND): load a newer dump`)
  } else {
    console.log('  the dump\'s folder had never claimed the DataNodes: the first NameNode on this folder claims them with epoch 1 (refused, EPOCH_BEHIND, if another folder already did)')
  }
  console.log(`  what changed after record ${header.lastSeq} is not in this folder; chunks only that newer metadata referenced are held, not deleted as orphans, ${releaseHint(dir)}`)
}
