// Opening a cluster: the metadata folder, the DataNodes it records, and the chunk store over them.
//
// The first mount records the cluster's settings (chunk size, replica count, nodes) in the metadata
// folder; later mounts read them, so a flag that contradicts them is an error, never a silent change.
// Everything is checked before anything is written (planCluster, then openPlanned), so a command
// refused for any reason changes nothing on disk.

import { resolve } from 'node:path'
import { ChunkStore } from '../chunks/ChunkStore.js'
import { NodeRegistry } from '../chunks/NodeRegistry.js'
import type { DataNode } from '../datanode/DataNode.js'
import { TcpDataNode } from '../datanode/tcp/TcpDataNode.js'
import { dfsError } from '../errors.js'
import type { CapacityReport } from '../fs/ports.js'
import { clusterCapacity } from './capacity.js'
import type { ApplyResult } from '../meta/namespace/apply.js'
import { namespaceMachine } from '../meta/namespace/machine.js'
import type { NamespaceRecord } from '../meta/namespace/records.js'
import type { NamespaceState } from '../meta/namespace/types.js'
import { inspectMetaFolder } from '../meta/metaFormat.js'
import { MetaStore } from '../meta/MetaStore.js'
import { checkMetaUnlocked } from '../meta/lock.js'
import { checkNodeFolderUnlocked } from '../datanode/nodeLock.js'
import { readSecretFile } from '../datanode/tcp/secret.js'
import { checkFoldersApart } from './layout.js'
import { type NodeAccess, checkNode, isServerAddress, normalizeAddress, openNode } from './nodes.js'
import { type ClusterSettings, DEFAULT_CHUNK_SIZE, DEFAULT_REPLICAS, parseSettings } from './settings.js'
import { levelled } from '../log/Log.js'
import { type ClaimTarget, checkClaims, claimCluster, deadlineOf, type Fence, type Takeover } from './fencing.js'
import { folderClaimCheck } from '../datanode/claimFile.js'
import { lastSeqOnDisk } from '../meta/lastSeqOnDisk.js'
import { checkNotStandby, checkPromotable } from '../meta/standbyGuard.js'
import { clearStandbyMark } from '../meta/standbyMark.js'
import type { DfsError } from '../errors.js'

export type NamespaceMetaStore = MetaStore<NamespaceState, NamespaceRecord, ApplyResult>

export interface ClusterFlags {
  meta: string
  /** Where the cluster will be mounted, if it will: it must be apart from every folder of the cluster. */
  mountpoint?: string
  /** Node folders and tcp:// DataNode servers; required on first mount, optional later (new ones join). */
  nodes?: string[]
  /** File holding the cluster secret shared with the DataNode servers (required when any node is tcp://). */
  secretFile?: string
  replicas?: number
  chunkSize?: number
  /** Bytes of verified chunks kept in memory. */
  cacheBytes: number
  /** A write or sync with fewer copies fails (`--min-copies`); 1..replicas, default 1. */
  minCopies?: number
  log: (message: string) => void
}

export interface UnavailableNode {
  address: string
  nodeId?: string
  error: string
}

export interface Cluster extends CapacityReport {
  metaDir: string
  settings: ClusterSettings
  /** Recorded nodes that could not be opened (only with skipUnavailable, for fsck). */
  unavailable: UnavailableNode[]
  /** Resolves once a newer NameNode claimed the nodes away from this one (fencing.ts); never when read-only. */
  superseded: Promise<DfsError>
  /** Before acknowledging a sync: still the cluster's NameNode (fencing.ts confirm()); rejects with SUPERSEDED. */
  confirmClaim(): Promise<void>
  meta: NamespaceMetaStore
  registry: NodeRegistry
  chunks: ChunkStore
  /** This process's claim on the DataNodes (none when opened read-only). */
  fence?: Fence
  close(): Promise<void>
}

export interface OpenOptions {
  /** Create the cluster if the metadata folder holds none yet (mount); otherwise that is an error (fsck). */
  create?: boolean
  /** Look without changing anything (fsck without --repair). */
  readOnly?: boolean
  /** Open what can be opened and report the rest (fsck must work when a node folder is gone). */
  skipUnavailable?: boolean
  /** Open a standby's folder as the primary (dfs namenode --promote): the only open a standby's folder allows. */
  promote?: Takeover
  /** When the store checkpoints by itself (MetaStore's option; the scale bench builds a namespace with none until close). */
  checkpointEvery?: { records?: number; bytes?: number }
}

export async function openCluster(flags: ClusterFlags, options: OpenOptions = {}): Promise<Cluster> {
  const plan = await planCluster(flags, options)
  return await openPlanned(plan, flags, options)
}

/** What opening will do, found by looking only: every check that can refuse the command is here. */
interface Plan {
  metaDir: string
  access: NodeAccess
  settings: ClusterSettings
  /** Nodes to open, recorded ones first. */
  addresses: string[]
  unavailable: UnavailableNode[]
  /** The primary a promoted standby's folder followed. */
  standbyOf?: string
  /** The cluster's id, when the folder holds one already. */
  clusterId?: string
}

async function planCluster(flags: ClusterFlags, options: OpenOptions): Promise<Plan> {
  const metaDir = resolve(flags.meta)
  const access = { secret: flags.secretFile === undefined ? undefined : await readSecretFile(flags.secretFile) }
  // A standby's folder opens for writing only by promotion, and a promotion needs a standby's folder.
  const standbyOf = options.promote ? await checkPromotable(metaDir, flags.meta) : undefined
  const format = await inspectMetaFolder(metaDir)
  if (!format && (!options.create || options.readOnly)) {
    throw dfsError('META_FOREIGN', `${flags.meta} holds no dfs cluster (no format.json); pass the --meta folder given to dfs mount`, { meta: flags.meta })
  }
  // A folder a running daemon holds is the first thing to say: its nodes are in use by that daemon too.
  if (format && !options.readOnly && !options.promote) {
    await checkNotStandby(metaDir, flags.meta)
    await checkMetaUnlocked(metaDir)
  }
  const chosen = format ? chooseExisting(parseSettings(format.settings, metaDir), flags) : chooseNew(flags)
  await checkFoldersApart({ nodes: chosen.addresses.filter(address => !isServerAddress(address)), meta: metaDir, mountpoint: flags.mountpoint })
  if (flags.minCopies !== undefined && flags.minCopies > chosen.settings.replicas) {
    throw dfsError('BAD_ARGUMENT', `--min-copies ${flags.minCopies} is more than the cluster's ${chosen.settings.replicas} replicas; pass a number from 1 to ${chosen.settings.replicas}`,
      { minCopies: flags.minCopies, replicas: chosen.settings.replicas })
  }

  const ids = new Map<string, string>()
  const unavailable: UnavailableNode[] = []
  const addresses: string[] = []
  for (const address of chosen.addresses) {
    const recordedId = chosen.settings.nodes.find(n => n.address === address)?.nodeId
    try {
      // A recorded server may be down right now: the daemon starts without it and it joins later.
      const id = recordedId && isServerAddress(address) ? recordedId : await checkNode(address, format?.clusterId, access)
      if (id) ids.set(address, id)
      addresses.push(address)
    } catch (err) {
      if (!options.skipUnavailable) throw err
      if (recordedId) ids.set(address, recordedId)
      unavailable.push({ address, ...(recordedId ? { nodeId: recordedId } : {}), error: (err as Error).message })
    }
  }
  // After the nodes are checked: a folder of another cluster (the wrong --meta) is the better diagnosis.
  if (chosen.missing.length > 0) {
    const recorded = chosen.settings.nodes.map(n => n.address).filter(address => chosen.addresses.includes(address) || chosen.missing.includes(address))
    throw dfsError('SETTING_CONFLICT',
      `node ${chosen.missing[0]} is part of this cluster but was not passed to --nodes; pass every node (${recorded.join(',')}) or leave --nodes out`,
      { missing: chosen.missing })
  }
  checkDistinctIds(ids, chosen.settings)
  // A node folder another process serves (dfs datanode) or mounts is refused before the first write.
  if (!options.readOnly) for (const address of addresses) if (!isServerAddress(address)) await checkNodeFolderUnlocked(address)
  return {
    metaDir, access, settings: chosen.settings, addresses, unavailable,
    ...(standbyOf ? { standbyOf } : {}), ...(format ? { clusterId: format.clusterId } : {}),
  }
}

/** Open what the plan found: the first write to the metadata folder or any node happens here. */
async function openPlanned(plan: Plan, flags: ClusterFlags, options: OpenOptions): Promise<Cluster> {
  const { metaDir, access } = plan
  // One wait for the old primary's hold, however many rounds ask: --promote-wait bounds them all.
  if (options.promote) options = { ...options, promote: { ...options.promote, deadline: deadlineOf(options.promote) } }
  if (!options.readOnly) await checkClaimsFirst(plan, flags, options)
  const machine = namespaceMachine({ uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, createdAt: plan.settings.createdAt })
  const meta: NamespaceMetaStore = await MetaStore.open(metaDir, machine, {
    create: { settings: { ...plan.settings } },
    readOnly: options.readOnly,
    ...(options.checkpointEvery ? { checkpointEvery: options.checkpointEvery } : {}),
    log: flags.log,
    onError: err => levelled(flags.log).error(`metadata journal failed: ${err.message}`),
  })
  const nodes: DataNode[] = []
  let fence: Fence | undefined
  try {
    // Nodes that cannot be opened keep their place in the settings: they may come back.
    const settings: ClusterSettings = { ...plan.settings, nodes: plan.settings.nodes.filter(n => plan.unavailable.some(u => u.address === n.address)) }
    const registry = new NodeRegistry()
    for (const address of plan.addresses) {
      const recorded = plan.settings.nodes.find(n => n.address === address)
      const node = await openNode(address, {
        clusterId: meta.clusterId, create: !options.readOnly, ...access, log: flags.log,
        ...(recorded && isServerAddress(address) ? { recordedId: recorded.nodeId } : {}),
      })
      nodes.push(node)
      if (recorded && recorded.nodeId !== node.nodeId) {
        levelled(flags.log).warn(`node ${address} was wiped: it joins as a new, empty node; the copies it held are gone, and the healer restores any chunk left with fewer copies than wanted`)
      }
      registry.add(node)
      // A node being drained stays so across a restart (the rebalancer keeps it out of the write pool).
      const draining = recorded?.draining && recorded.nodeId === node.nodeId
        ? { draining: true, ...(recorded.drainPaused ? { drainPaused: true } : {}) }
        : {}
      settings.nodes.push({ nodeId: node.nodeId, address, ...draining })
    }
    // Fencing: only the process that opened the cluster last may delete on its nodes (fencing.ts).
    if (!options.readOnly) fence = await claimCluster(meta, nodes, { log: flags.log, ...(options.promote ? { takeover: options.promote } : {}) })
    if (plan.standbyOf !== undefined) {
      // The nodes are ours now: the folder is a primary's (a crash before this promotes again, from this claim).
      await clearStandbyMark(metaDir)
      levelled(flags.log).warn(`promoted: metadata folder ${metaDir}, until now a standby of ${plan.standbyOf}, holds the cluster at epoch ${fence!.claim.epoch}; the old primary is fenced (refused by the DataNodes if it runs on or comes back)`)
    }
    if (!options.readOnly && JSON.stringify(settings) !== JSON.stringify(plan.settings)) await meta.updateSettings({ ...settings })

    for (const node of nodes) {
      // A dropped connection is news at once, not at the next missed heartbeat.
      if (node instanceof TcpDataNode) node.on('disconnect', err => registry.markSuspect(node.nodeId, err.message))
    }
    const chunks = new ChunkStore({ registry, replicas: settings.replicas, minCopies: flags.minCopies, cacheBytes: flags.cacheBytes, log: levelled(flags.log) })
    return {
      metaDir, settings, meta, registry, chunks, unavailable: plan.unavailable, ...(fence ? { fence } : {}),
      superseded: fence?.superseded ?? new Promise<DfsError>(() => {}),
      confirmClaim: () => fence?.confirm() ?? Promise.resolve(),
      capacity: () => capacityOf(nodes, settings.replicas),
      async close() {
        try {
          await meta.close({ checkpoint: !options.readOnly })
          await fence?.close()
        } finally {
          await Promise.allSettled(nodes.map(node => node.close()))
        }
      },
    }
  } catch (err) {
    await fence?.close().catch(() => {})
    await meta.close().catch(() => {})
    await Promise.allSettled(nodes.map(node => node.close()))
    throw err
  }
}

/**
 * Fencing's refusals (a folder behind the nodes, a node another NameNode holds, a promotion that
 * would lose records) before the store is opened for writing, which writes (its lock, a journal
 * segment): a refused open changes nothing. Only recorded nodes can hold a claim against it.
 */
async function checkClaimsFirst(plan: Plan, flags: ClusterFlags, options: OpenOptions): Promise<void> {
  const clusterId = plan.clusterId
  if (clusterId === undefined) return // a new cluster: no claim yet
  const lastSeq = await lastSeqOnDisk(plan.metaDir)
  if (lastSeq === undefined) return // damaged: the store's open explains it
  const servers: DataNode[] = []
  try {
    // At once: a server that is down costs one connect timeout, not one each.
    const targets = await Promise.all(plan.addresses.map(async (address): Promise<ClaimTarget | undefined> => {
      const recorded = plan.settings.nodes.find(n => n.address === address)
      if (!recorded) return undefined
      if (!isServerAddress(address)) return folderClaimCheck(address) // its claim file only: no scan of its chunks
      const server = await openNode(address, { clusterId, create: false, ...plan.access, log: () => {}, recordedId: recorded.nodeId })
      servers.push(server)
      return server
    }))
    await checkClaims({ dir: plan.metaDir, lastSeq }, targets.filter(t => t !== undefined), { log: flags.log, ...(options.promote ? { takeover: options.promote } : {}) })
  } finally {
    await Promise.allSettled(servers.map(node => node.close()))
  }
}

interface Chosen {
  settings: ClusterSettings
  /** Nodes to check and open, recorded ones first. */
  addresses: string[]
  /** Recorded nodes left out of --nodes (an error, reported once the others are checked). */
  missing: string[]
}

function chooseNew(flags: ClusterFlags): Chosen {
  if (!flags.nodes?.length) {
    throw dfsError('BAD_ARGUMENT', `${flags.meta} holds no cluster yet: pass --nodes <dir,dir,...> to create one`, { meta: flags.meta })
  }
  const replicas = flags.replicas ?? DEFAULT_REPLICAS
  const addresses = distinctAddresses(flags.nodes)
  if (addresses.length < replicas) {
    throw dfsError('NOT_ENOUGH_NODES',
      `${addresses.length} node folder${addresses.length === 1 ? '' : 's'} cannot hold ${replicas} replicas; pass at least ${replicas} folders to --nodes or lower --replicas`,
      { nodes: addresses.length, replicas })
  }
  return {
    settings: { chunkSize: flags.chunkSize ?? DEFAULT_CHUNK_SIZE, replicas, createdAt: Date.now(), nodes: [] },
    addresses,
    missing: [],
  }
}

function chooseExisting(settings: ClusterSettings, flags: ClusterFlags): Chosen {
  if (flags.replicas !== undefined && flags.replicas !== settings.replicas) {
    throw dfsError('SETTING_CONFLICT',
      `this cluster keeps ${settings.replicas} replicas (set when it was created); drop --replicas or pass --replicas ${settings.replicas}`,
      { recorded: settings.replicas, given: flags.replicas })
  }
  if (flags.chunkSize !== undefined && flags.chunkSize !== settings.chunkSize) {
    throw dfsError('SETTING_CONFLICT',
      `this cluster uses ${settings.chunkSize}-byte chunks (set when it was created); drop --chunk-size or pass --chunk-size ${settings.chunkSize}`,
      { recorded: settings.chunkSize, given: flags.chunkSize })
  }
  // A node `dfs drain` emptied leaves the cluster at the first mount that does not name it.
  const drained = settings.nodes.filter(n => n.drained).map(n => n.address)
  const given = flags.nodes ? distinctAddresses(flags.nodes) : settings.nodes.filter(n => !n.drained).map(n => n.address)
  for (const address of drained.filter(address => !given.includes(address))) flags.log(`node ${address} was drained and is not in --nodes: it leaves the cluster`)
  const recorded = settings.nodes.map(n => n.address).filter(address => given.includes(address) || !drained.includes(address))
  return {
    settings,
    addresses: [...recorded.filter(address => given.includes(address)), ...given.filter(address => !recorded.includes(address))],
    missing: recorded.filter(address => !given.includes(address)),
  }
}

function distinctAddresses(addresses: string[]): string[] {
  const normalized = addresses.map(normalizeAddress)
  const duplicate = normalized.find((address, i) => normalized.indexOf(address) !== i)
  if (duplicate) {
    throw dfsError('BAD_ARGUMENT', `node ${duplicate} is given twice; every node needs its own folder or server`, { node: duplicate })
  }
  return normalized
}

/**
 * Two nodes with one id are one node folder seen twice: a copy (`cp -a node_3 node_4`), or two
 * servers over copies of one folder. The cluster would count every chunk of it twice.
 */
function checkDistinctIds(ids: Map<string, string>, settings: ClusterSettings): void {
  const byId = new Map<string, string>()
  for (const [address, id] of ids) {
    const first = byId.get(id)
    if (first === undefined) {
      byId.set(id, address)
      continue
    }
    // Name the copy: the one the cluster has not recorded under this id.
    const isOriginal = (a: string) => settings.nodes.some(n => n.address === a && n.nodeId === id)
    const [original, copy] = isOriginal(address) && !isOriginal(first) ? [address, first] : [first, address]
    throw dfsError('NODE_ID_DUPLICATE',
      `node ${copy} has the same node id (${id}) as node ${original}: it is a copy of that folder; ${isServerAddress(copy) ? `empty the folder that server serves` : `empty ${copy}`} to make it a new node, or leave it out of --nodes`,
      { node: copy, other: original, nodeId: id })
  }
}

/** Usable capacity after replication, each device once (capacity.ts). An unreachable node contributes no space. */
async function capacityOf(nodes: DataNode[], replicas: number): Promise<{ total: number; available: number }> {
  const usages = await Promise.all(nodes.map(async node => ({ address: node.address, usage: await node.usage().catch(() => undefined) })))
  const { usableCapacity, usableAvailable } = clusterCapacity(usages, replicas)
  return { total: usableCapacity, available: usableAvailable }
}
