// The cluster's capacity, in one place for `dfs status` and statfs (df on the mount): node folders
// on one disk share its space, so each device (NodeUsage.device) counts once. A node that does not
// name its device (an older TCP server) counts on its own.

import type { NodeUsage } from '../datanode/DataNode.js'

export interface ClusterCapacity {
  /** Bytes of the devices the nodes store on, each device once. */
  capacity: number
  available: number
  /** What files can take with R copies of each chunk: what df shows for the mount. */
  usableCapacity: number
  usableAvailable: number
  devices: number
}

export function clusterCapacity(nodes: readonly { address: string; usage?: NodeUsage }[], replicas: number): ClusterCapacity {
  const devices = new Map<string, NodeUsage>()
  for (const { address, usage } of nodes) {
    if (usage) devices.set(usage.device ?? `node ${address}`, usage)
  }
  let capacity = 0
  let available = 0
  for (const usage of devices.values()) {
    capacity += usage.capacity
    available += usage.available
  }
  return {
    capacity, available, devices: devices.size,
    usableCapacity: Math.floor(capacity / replicas), usableAvailable: Math.floor(available / replicas),
  }
}
