// The dashboard of one NameNode host as dfs namenode and the embedded mount start it: the server
// (server.ts) with the host's status, and what the other parts of issue 10 provide: file placement
// (the info part's NameNodeHost.placement()) and /metrics (the metrics part's createMetrics()).

import type { Server } from 'node:http'
import type { Log } from '../log/Log.js'
import type { FilePlacement } from '../namenode/filePlacement.js'
import type { NameNodeHost } from '../namenode/openNameNode.js'
import type { ClusterStatus } from '../namenode/status.js'
import type { HttpSettings } from './httpFlags.js'
import { type Dashboard, type MetricsEndpoint, startDashboard } from './server.js'

export interface OpenDashboardOptions {
  host: NameNodeHost
  http: HttpSettings
  /** The ClusterStatus `dfs status` shows for this NameNode. */
  status: () => ClusterStatus | Promise<ClusterStatus>
  log: Log | ((message: string) => void)
  /** From bindDashboard(), before the cluster was opened. */
  bound?: Server
}

interface Extras {
  placement?: (path: string) => FilePlacement
  metrics?: MetricsEndpoint & { close(): void }
}

/**
 * MERGE (issue 10), once the info and metrics parts are in (both are on main):
 *   return { placement: path => host.placementAt(path), metrics: createMetrics(host) }   // createMetrics from ./metrics.js
 * Until then /api/file and /metrics answer 501 (test/dashboard/page.test.ts's file view needs placement).
 */
function extras(_host: NameNodeHost): Extras {
  return {}
}

export async function openDashboard(opts: OpenDashboardOptions): Promise<Dashboard> {
  const { placement, metrics } = extras(opts.host)
  try {
    const dashboard = await startDashboard({
      host: opts.host,
      listen: opts.http.listen,
      ...(opts.http.token ? { token: opts.http.token } : {}),
      log: opts.log,
      status: opts.status,
      ...(placement ? { placement } : {}),
      ...(metrics ? { metrics } : {}),
      ...(opts.bound ? { bound: opts.bound } : {}),
    })
    return {
      ...dashboard,
      async close() {
        await dashboard.close()
        metrics?.close()
      },
    }
  } catch (err) {
    metrics?.close()
    throw err
  }
}
