// Opening a cluster: the metadata folder, the DataNodes it records, and the chunk store over them.
//
// The first mount records the cluster's settings (chunk size, replica count, nodes) in the metadata
// folder; later mounts read them, so a flag that contradicts them is an error, never a silent change.
// Every node folder is checked before anything is written, so a bad flag changes nothing.

import { stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { ChunkStore } from '../chunks/ChunkStore.js'
import { NodeRegistry } from '../chunks/NodeRegistry.js'
import type { DataNode } from '../datanode/DataNode.js'
import { LocalFolderNode } from '../datanode/LocalFolderNode.js'
import { TcpDataNode } from '../datanode/tcp/TcpDataNode.js'
import { dfsError } from '../errors.js'
import type { CapacityReport } from '../fs/ports.js'
import type { ApplyResult } from '../meta/namespace/apply.js'
import { namespaceMachine } from '../meta/namespace/machine.js'
import type { NamespaceRecord } from '../meta/namespace/records.js'
import type { NamespaceState } from '../meta/namespace/types.js'
import { readFormat } from '../meta/metaFormat.js'
import { MetaStore } from '../meta/MetaStore.js'
import { readSecretFile } from '../datanode/tcp/secret.js'
import { type NodeAccess, checkNode, isServerAddress, normalizeAddress, openNode } from './nodes.js'
import { type ClusterSettings, DEFAULT_CHUNK_SIZE, DEFAULT_REPLICAS, parseSettings } from './settings.js'
import { levelled } from '../log/Log.js'

export type NamespaceMetaStore = MetaStore<NamespaceState, NamespaceRecord, ApplyResult>

export interface ClusterFlags {
  meta: string
  /** Node folders and tcp:// DataNode servers; required on first mount, optional later (new ones join). */
  nodes?: string[]
  /** File holding the cluster secret shared with the DataNode servers (required when any node is tcp://). */
  secretFile?: string
  replicas?: number
  chunkSize?: number
  /** Bytes of verified chunks kept in memory. */
  cacheBytes: number
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
  meta: NamespaceMetaStore
  registry: NodeRegistry
  chunks: ChunkStore
  close(): Promise<void>
}

export interface OpenOptions {
  /** Create the cluster if the metadata folder holds none yet (mount); otherwise that is an error (fsck). */
  create?: boolean
  /** Look without changing anything (fsck without --repair). */
  readOnly?: boolean
  /** Open what can be opened and report the rest (fsck must work when a node folder is gone). */
  skipUnavailable?: boolean
}

export async function openCluster(flags: ClusterFlags, options: OpenOptions = {}): Promise<Cluster> {
  const metaDir = resolve(flags.meta)
  const access = { secret: flags.secretFile === undefined ? undefined : await readSecretFile(flags.secretFile) }
  const format = await readFormat(metaDir).catch(err => {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') {
      throw dfsError('META_FOREIGN', `metadata folder ${flags.meta} is not a directory`, { meta: flags.meta })
    }
    throw err
  })
  if (!format && (!options.create || options.readOnly)) {
    throw dfsError('META_FOREIGN', `${flags.meta} holds no dfs cluster (no format.json); pass the --meta folder given to dfs mount`, { meta: flags.meta })
  }
  const plan = format
    ? await planExisting(parseSettings(format.settings, metaDir), format.clusterId, flags, access, options.skipUnavailable ?? false)
    : await planNew(flags, access)

  const machine = namespaceMachine({ uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, createdAt: plan.settings.createdAt })
  const meta: NamespaceMetaStore = await MetaStore.open(metaDir, machine, {
    create: { settings: { ...plan.settings } },
    readOnly: options.readOnly,
    log: flags.log,
    onError: err => levelled(flags.log).error(`metadata journal failed: ${err.message}`),
  })
  const nodes: DataNode[] = []
  try {
    // Nodes that cannot be opened keep their place in the settings: they may come back.
    const settings: ClusterSettings = { ...plan.settings, nodes: plan.settings.nodes.filter(n => plan.unavailable.some(u => u.address === n.address)) }
    for (const address of plan.addresses) {
      const recorded = plan.settings.nodes.find(n => n.address === address)
      const node = await openNode(address, {
        clusterId: meta.clusterId, create: !options.readOnly, ...access, log: flags.log,
        ...(recorded && isServerAddress(address) ? { recordedId: recorded.nodeId } : {}),
      })
      nodes.push(node)
      if (recorded && recorded.nodeId !== node.nodeId) {
        levelled(flags.log).warn(`node ${address} was wiped: it joins as a new node, and the copies it held count as lost`)
      }
      settings.nodes.push({ nodeId: node.nodeId, address })
    }
    if (!options.readOnly && JSON.stringify(settings) !== JSON.stringify(plan.settings)) await meta.updateSettings({ ...settings })

    const registry = new NodeRegistry()
    for (const node of nodes) {
      registry.add(node)
      // A dropped connection is news at once, not at the next missed heartbeat.
      if (node instanceof TcpDataNode) node.on('disconnect', err => registry.markSuspect(node.nodeId, err.message))
    }
    const chunks = new ChunkStore({ registry, replicas: settings.replicas, cacheBytes: flags.cacheBytes, log: levelled(flags.log) })
    return {
      metaDir, settings, meta, registry, chunks, unavailable: plan.unavailable,
      capacity: () => capacityOf(nodes, settings.replicas),
      async close() {
        await meta.close({ checkpoint: !options.readOnly })
        await Promise.allSettled(nodes.map(node => node.close()))
      },
    }
  } catch (err) {
    await meta.close().catch(() => {})
    await Promise.allSettled(nodes.map(node => node.close()))
    throw err
  }
}

interface Plan {
  settings: ClusterSettings
  /** Node folders to open, recorded ones first. */
  addresses: string[]
  unavailable: UnavailableNode[]
}

async function planNew(flags: ClusterFlags, access: NodeAccess): Promise<Plan> {
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
  for (const address of addresses) await checkNode(address, undefined, access)
  return {
    settings: { chunkSize: flags.chunkSize ?? DEFAULT_CHUNK_SIZE, replicas, createdAt: Date.now(), nodes: [] },
    addresses,
    unavailable: [],
  }
}

async function planExisting(settings: ClusterSettings, clusterId: string, flags: ClusterFlags, access: NodeAccess, skipUnavailable: boolean): Promise<Plan> {
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
  const addresses: string[] = []
  const unavailable: UnavailableNode[] = []
  for (const address of [...recorded, ...given.filter(address => !recorded.includes(address))]) {
    try {
      // A recorded server may be down right now: the daemon starts without it and it joins later.
      if (!(isServerAddress(address) && recorded.includes(address))) await checkNode(address, clusterId, access)
      addresses.push(address)
    } catch (err) {
      if (!skipUnavailable) throw err
      const nodeId = settings.nodes.find(n => n.address === address)?.nodeId
      unavailable.push({ address, ...(nodeId ? { nodeId } : {}), error: (err as Error).message })
    }
  }
  // After the folders are checked: a folder of another cluster (the wrong --meta) is the better diagnosis.
  const missing = recorded.filter(address => !given.includes(address))
  if (missing.length > 0) {
    throw dfsError('SETTING_CONFLICT',
      `node ${missing[0]} is part of this cluster but was not passed to --nodes; pass every node (${recorded.join(',')}) or leave --nodes out`,
      { missing })
  }
  return { settings, addresses, unavailable }
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
 * Usable capacity after replication. Folders on one disk share its space, so each device counts once.
 */
async function capacityOf(nodes: DataNode[], replicas: number): Promise<{ total: number; available: number }> {
  const devices = new Map<string, { total: number; available: number }>()
  await Promise.all(nodes.map(async node => {
    try {
      const usage = await node.usage()
      const device = node instanceof LocalFolderNode ? String((await stat(node.dir)).dev) : node.address
      devices.set(device, { total: usage.capacity, available: usage.available })
    } catch {
      // An unreachable node contributes no space.
    }
  }))
  let total = 0
  let available = 0
  for (const device of devices.values()) {
    total += device.total
    available += device.available
  }
  return { total: Math.floor(total / replicas), available: Math.floor(available / replicas) }
}
