// A cluster's nodes by address: a local folder (any path) or a DataNode server (tcp://host:port).
// Both are checked before anything is written (a bad flag changes nothing), then opened.

import { resolve } from 'node:path'
import type { DataNode } from '../datanode/DataNode.js'
import { checkNodeFolder } from '../datanode/identity.js'
import { LocalFolderNode } from '../datanode/LocalFolderNode.js'
import { TcpDataNode } from '../datanode/tcp/TcpDataNode.js'
import { dfsError } from '../errors.js'
import { levelled } from '../log/Log.js'

const TCP = /^tcp:\/\/([^:/]+|\[[0-9a-f:]+\]):(\d{1,5})$/i
// host:port with the tcp:// forgotten. A folder by such a name is still reachable as ./name.
const BARE_HOST_PORT = /^([a-z0-9][a-z0-9.-]*|\[[0-9a-f:]+\]):\d{1,5}$/i
const OTHER_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i

export const isServerAddress = (address: string) => address.startsWith('tcp://')

/** The address as recorded: tcp:// addresses as given, folders as absolute paths. */
export function normalizeAddress(address: string): string {
  if (isServerAddress(address)) {
    const match = TCP.exec(address)
    if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) {
      throw dfsError('BAD_ARGUMENT', `node address ${address} is not tcp://host:port (e.g. tcp://127.0.0.1:7001)`, { address })
    }
    return address
  }
  // Taken as a folder, these would be refused with "mkdir -p 127.0.0.1:7001": the wrong fix.
  if (BARE_HOST_PORT.test(address)) {
    throw dfsError('BAD_ARGUMENT', `node ${address} looks like a DataNode server without tcp://: write tcp://${address} (or ./${address} for a folder by that name)`, { address })
  }
  if (OTHER_SCHEME.test(address)) {
    throw dfsError('BAD_ARGUMENT', `node address ${address} is neither a folder nor tcp://host:port; write DataNode servers as tcp://host:port (e.g. tcp://127.0.0.1:7001)`, { address })
  }
  return resolve(address)
}

export interface NodeAccess {
  /** The cluster secret, needed for tcp:// nodes. */
  secret?: Buffer
}

function secretFor(address: string, access: NodeAccess): Buffer {
  if (!access.secret) {
    throw dfsError('BAD_ARGUMENT', `node ${address} is a DataNode server: pass --secret-file with the cluster secret its servers use`, { address })
  }
  return access.secret
}

/**
 * Check, changing nothing, that address can serve cluster clusterId (undefined: a cluster being
 * created, so the node must belong to none yet). Returns the node's id, or undefined for an empty
 * folder (it gets one when it is initialised).
 */
export async function checkNode(address: string, clusterId: string | undefined, access: NodeAccess): Promise<string | undefined> {
  if (!isServerAddress(address)) return (await checkNodeFolder(address, { clusterId }))?.nodeId
  const node = await TcpDataNode.connect(address, { secret: secretFor(address, access) })
  try {
    if (node.clusterId !== '' && node.clusterId !== clusterId) {
      const expected = clusterId ?? 'the new cluster being created'
      throw dfsError('META_FOREIGN', `DataNode ${address} belongs to cluster ${node.clusterId}, not ${expected}; pass the --meta folder of that cluster, or a server with an empty folder`, { address })
    }
    return node.nodeId
  } finally {
    await node.close()
  }
}

export interface OpenNodeOptions extends NodeAccess {
  clusterId: string
  /** Initialise an empty node (a local folder; a server adopts the cluster at its first handshake). */
  create: boolean
  /** The id the cluster recorded for this address, if any. */
  recordedId?: string
  log: (message: string) => void
}

/**
 * Open a node. A recorded server that does not answer now is not an error: the daemon starts with
 * it suspect and it joins when it answers (heartbeats). A new one must answer, to learn its id.
 */
export async function openNode(address: string, opts: OpenNodeOptions): Promise<DataNode> {
  // A process that may write the folder holds its lock, so a dfs datanode serving it meanwhile is refused, and the other way round.
  if (!isServerAddress(address)) return LocalFolderNode.open(address, { clusterId: opts.clusterId, create: opts.create, lock: opts.create })
  const secret = secretFor(address, opts)
  try {
    return await TcpDataNode.connect(address, {
      secret, clusterId: opts.clusterId, ...(opts.recordedId ? { nodeId: opts.recordedId } : {}),
    })
  } catch (err) {
    if (!opts.recordedId || (err as { code?: string }).code !== 'NODE_UNAVAILABLE') throw err
    levelled(opts.log).warn(`DataNode ${address} does not answer (${(err as Error).message}); it joins when it does`)
    return TcpDataNode.create(address, { secret, clusterId: opts.clusterId, nodeId: opts.recordedId })
  }
}
