// A client's view of the DataNodes: the nodes its NameNode names, opened from this host, with the
// health the NameNode reports. The client reads and writes chunk bytes with them directly (user data
// never goes through the NameNode); it does not watch them itself: the NameNode's heartbeats do, and
// a node that fails this client is only backed off here until the NameNode says more.

import { NodeRegistry } from '../chunks/NodeRegistry.js'
import type { ChunkId, DataNode, NodeUsage } from '../datanode/DataNode.js'
import { LocalFolderNode } from '../datanode/LocalFolderNode.js'
import { TcpDataNode } from '../datanode/tcp/TcpDataNode.js'
import { dfsError } from '../errors.js'
import { levelled } from '../log/Log.js'
import { isServerAddress } from '../cluster/nodes.js'
import type { NodeInfo } from '../protocol/wire.js'

export interface ClientNodesOptions {
  clusterId: string
  secret: Buffer
  log: (message: string) => void
}

export class ClientNodes {
  readonly registry = new NodeRegistry()
  private readonly opening = new Map<string, Promise<void>>()
  private readonly log

  constructor(private readonly opts: ClientNodesOptions) {
    this.log = levelled(opts.log)
  }

  /** The NameNode's node list: open nodes new to us, then take its view of each one's health. */
  async update(nodes: NodeInfo[]): Promise<void> {
    await Promise.all(nodes.map(info => this.ensure(info)))
    for (const info of nodes) {
      const { registry } = this
      const status = registry.status(info.nodeId)
      if (!status) continue
      if (info.health === 'alive' && status.health !== 'alive') registry.markAlive(info.nodeId)
      if (info.health === 'suspect' && status.health === 'alive') registry.markSuspect(info.nodeId, 'the NameNode finds it slow to answer')
      if (info.health === 'dead' && status.health !== 'dead') registry.markDead(info.nodeId, 'the NameNode finds it dead')
      if (info.full && !status.full) registry.markFull(info.nodeId, 'the NameNode finds it full')
      if (!info.full && status.full) registry.markHasRoom(info.nodeId)
      if (info.draining !== (status.draining === true)) registry.setDraining(info.nodeId, info.draining)
      if (info.available !== undefined) {
        registry.setUsage(info.nodeId, { ...(status.usage ?? { capacity: 0, used: 0, chunks: 0 }), available: info.available } as NodeUsage)
      }
    }
  }

  private ensure(info: NodeInfo): Promise<void> {
    if (this.registry.get(info.nodeId)) return Promise.resolve()
    let opening = this.opening.get(info.nodeId)
    if (!opening) {
      opening = this.open(info).then(node => this.registry.add(node)).finally(() => this.opening.delete(info.nodeId))
      this.opening.set(info.nodeId, opening)
    }
    return opening
  }

  private async open(info: NodeInfo): Promise<DataNode> {
    if (isServerAddress(info.address)) {
      return TcpDataNode.create(info.address, { secret: this.opts.secret, clusterId: this.opts.clusterId, nodeId: info.nodeId })
    }
    try {
      const node = await LocalFolderNode.open(info.address, { clusterId: this.opts.clusterId, create: false, lock: false })
      if (node.nodeId === info.nodeId) return node
      await node.close()
      throw new Error(`it holds node ${node.nodeId}, not ${info.nodeId}`)
    } catch (err) {
      const why = `node ${info.nodeId} is the folder ${info.address} on the NameNode's host, and this client cannot use it (${(err as Error).message}); ` +
        'to mount from other hosts, serve every node with `dfs datanode` and name it tcp://host:port'
      this.log.warn(why)
      return new UnreachableNode(info.nodeId, info.address, why)
    }
  }

  /** Why each node this host cannot use is out of reach (named by the mount's ready line). */
  unreachable(): string[] {
    return this.registry.nodes().flatMap(node => (node instanceof UnreachableNode ? [node.why] : []))
  }

  close(): Promise<void> {
    return this.registry.close()
  }
}

/** A node the NameNode names that this client cannot reach at all: every call says why, plainly. */
class UnreachableNode implements DataNode {
  constructor(readonly nodeId: string, readonly address: string, readonly why: string) {}
  private fail(): never {
    throw dfsError('NODE_UNAVAILABLE', this.why, { nodeId: this.nodeId, address: this.address })
  }
  async put(): Promise<void> { this.fail() }
  async get(_id: ChunkId): Promise<Buffer> { this.fail() }
  async has(): Promise<boolean> { this.fail() }
  async delete(): Promise<void> { this.fail() }
  async list(): Promise<ChunkId[]> { this.fail() }
  async usage(): Promise<NodeUsage> { this.fail() }
  async sync(): Promise<void> { this.fail() }
  async ping(): Promise<void> { this.fail() }
  async close(): Promise<void> {}
}
