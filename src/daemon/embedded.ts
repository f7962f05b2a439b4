// The embedded backend (`dfs mount --meta … --nodes …`, `npm run demo`): the NameNode runs inside the
// mount daemon, and the file system talks to it with plain calls (InProcessSession) and writes chunks
// through the NameNode's own chunk store. One process, no socket, no copy of the namespace.

import type { ClusterFlags } from '../cluster/openCluster.js'
import { NameNodeHost } from '../namenode/openNameNode.js'
import { formatSize } from '../util/size.js'
import type { MountBackend } from './backend.js'
import type { ServiceOptions } from '../namenode/ClusterServices.js'

export async function embeddedBackend(opts: ClusterFlags & ServiceOptions): Promise<MountBackend> {
  const host = await NameNodeHost.open({ ...opts, reopenGraceMs: 0 })
  const { cluster } = host
  const { settings } = cluster
  const session = host.inProcessSession()
  return {
    session,
    chunks: cluster.chunks,
    chunkSize: settings.chunkSize,
    shared: false,
    summary: `${settings.nodes.length} nodes, ${settings.replicas} replicas, ${formatSize(settings.chunkSize)} chunks, metadata in ${cluster.metaDir}`,
    metaLabel: cluster.metaDir,
    status: async mountpoint => host.status(mountpoint),
    handlers: () => host.clusterHandlers(),
    async close() {
      await session.close()
      await host.close()
    },
  }
}
