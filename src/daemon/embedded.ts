// The embedded backend (`dfs mount --meta … --nodes …`, `npm run demo`): the NameNode runs inside the
// mount daemon, and the file system talks to it with plain calls (InProcessSession) and writes chunks
// through the NameNode's own chunk store. One process, no socket, no copy of the namespace.
// With --http it serves the dashboard too (the NameNode is here).

import type { ClusterFlags } from '../cluster/openCluster.js'
import { NameNodeHost } from '../namenode/openNameNode.js'
import { formatSize } from '../util/size.js'
import type { MountBackend } from './backend.js'
import type { ServiceOptions } from '../namenode/ClusterServices.js'
import { type HttpFlags, httpSettings } from '../dashboard/httpFlags.js'
import { type Dashboard, bindDashboard } from '../dashboard/server.js'
import { openDashboard } from '../dashboard/open.js'

export async function embeddedBackend(opts: ClusterFlags & ServiceOptions & { http?: HttpFlags; mountpoint?: string }): Promise<MountBackend> {
  // The token is read and the address bound before the cluster is opened: either failing changes nothing.
  const http = opts.http ? await httpSettings(opts.http) : undefined
  const bound = http ? await bindDashboard(http.listen) : undefined
  let host: NameNodeHost
  let dashboard: Dashboard | undefined
  try {
    // Its services start once the mount serves (serving()): at a million files their first scans
    // took the cores the mount's last steps need.
    host = await NameNodeHost.open({ ...opts, reopenGraceMs: 0, deferServices: true })
  } catch (err) {
    bound?.close()
    throw err
  }
  const servedAt = opts.mountpoint ?? opts.meta
  const status = (mountpoint: string) => ({ ...host.status(mountpoint), ...(dashboard ? { dashboard: dashboard.url } : {}) })
  if (http) {
    try {
      dashboard = await openDashboard({ host, http, status: () => status(servedAt), log: opts.log, bound: bound! })
    } catch (err) {
      await host.close()
      throw err
    }
  }
  const { cluster } = host
  const { settings } = cluster
  const session = host.inProcessSession()
  return {
    session,
    chunks: cluster.chunks,
    chunkSize: settings.chunkSize,
    shared: false,
    onNamespaceChange: listener => cluster.meta.onCommitted(record => listener(record)),
    summary: `${settings.nodes.length} nodes, ${settings.replicas} replicas, ${formatSize(settings.chunkSize)} chunks, metadata in ${cluster.metaDir}` +
      (dashboard ? `, dashboard on ${dashboard.url}${http?.token ? ' (token required)' : ''}` : ''),
    metaLabel: cluster.metaDir,
    status: async mountpoint => status(mountpoint),
    handlers: () => host.clusterHandlers(),
    serving: () => host.startServices(),
    async close() {
      await dashboard?.close()
      await session.close()
      await host.close()
    },
  }
}
