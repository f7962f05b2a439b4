// The dashboard of one NameNode host as dfs namenode and the embedded mount start it: the server
// (server.ts) with the host's status, its files' placement and its /metrics (metrics.ts).

import type { Server } from 'node:http'
import type { Log } from '../log/Log.js'
import { createMetrics } from './metrics.js'
import type { NameNodeHost } from '../namenode/openNameNode.js'
import type { ClusterStatus } from '../namenode/status.js'
import type { HttpSettings } from './httpFlags.js'
import { type Dashboard, startDashboard } from './server.js'

export interface OpenDashboardOptions {
  host: NameNodeHost
  http: HttpSettings
  /** The ClusterStatus `dfs status` shows for this NameNode. */
  status: () => ClusterStatus | Promise<ClusterStatus>
  log: Log | ((message: string) => void)
  /** From bindDashboard(), before the cluster was opened. */
  bound?: Server
}

export async function openDashboard(opts: OpenDashboardOptions): Promise<Dashboard> {
  const metrics = createMetrics(opts.host)
  try {
    const dashboard = await startDashboard({
      host: opts.host,
      listen: opts.http.listen,
      ...(opts.http.token ? { token: opts.http.token } : {}),
      log: opts.log,
      status: opts.status,
      placement: (path, range) => opts.host.placementAt(path, range),
      metrics,
      ...(opts.bound ? { bound: opts.bound } : {}),
    })
    return {
      ...dashboard,
      async close() {
        await dashboard.close()
        metrics.close()
      },
    }
  } catch (err) {
    metrics.close()
    throw err
  }
}
