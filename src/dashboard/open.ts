// The dashboard of one NameNode host as dfs namenode and the embedded mount start it: the server
// (server.ts) with the host's status, file placement and metrics. Where the other parts of the
// dashboard plug in: file placement is the info part's filePlacement() (src/namenode/filePlacement.ts)
// and /metrics the metrics part's createMetrics() (src/dashboard/metrics.ts).

import type { Server } from 'node:http'
import type { Log } from '../log/Log.js'
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
  // MERGE (issue 10): with the info part's NameNodeHost.placement() and inodeAtPath()
  // (../meta/namespace/lookup.js):
  //   placement: path => opts.host.placement(inodeAtPath(opts.host.cluster.meta.state, path), path),
  // and with the metrics part's createMetrics() (./metrics.js), closed when the dashboard closes:
  //   metrics: createMetrics(…),
  // Until then /api/file and /metrics answer 501 (test/dashboard/page.test.ts's file view needs the first).
  return startDashboard({
    host: opts.host,
    listen: opts.http.listen,
    ...(opts.http.token ? { token: opts.http.token } : {}),
    log: opts.log,
    status: opts.status,
    ...(opts.bound ? { bound: opts.bound } : {}),
  })
}
