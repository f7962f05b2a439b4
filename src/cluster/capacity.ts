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
  const devices = new Map<string, { usage: NodeUsage; nodes: number }>()
  for (const { address, usage } of nodes) {
    if (!usage) continue
    const key = usage.device ?? `node ${address}`
    const seen = devices.get(key)
    devices.set(key, { usage, nodes: (seen?.nodes ?? 0) + 1 })
  }
  let capacity = 0
  let available = 0
  for (const { usage } of devices.values()) {
    capacity += usage.capacity
    available += usage.available
  }
  const all = [...devices.values()]
  return {
    capacity, available, devices: devices.size,
    usableCapacity: replicatedSpace(all.map(d => ({ bytes: d.usage.capacity, nodes: d.nodes })), replicas),
    usableAvailable: replicatedSpace(all.map(d => ({ bytes: d.usage.available, nodes: d.nodes })), replicas),
  }
}

/**
 * How many bytes of files fit with R copies of each chunk on R distinct nodes, given each device's
 * space and how many nodes store on it (a chunk can put at most min(nodes, R) copies on one device).
 * Not simply the sum ÷ R: a 20 MiB disk beside a 252 GiB one holds only 20 MiB twice. The largest U
 * with Σ min(bytes_d, k_d·U) ≥ R·U; the left side is concave in U, so U is found on the segment where
 * the two sides meet, walking the devices by the point where each fills up.
 */
export function replicatedSpace(devices: readonly { bytes: number; nodes: number }[], replicas: number): number {
  const ds = devices.filter(d => d.bytes > 0 && d.nodes > 0).map(d => ({ bytes: d.bytes, k: Math.min(d.nodes, replicas) }))
    .sort((a, b) => a.bytes / a.k - b.bytes / b.k)
  let full = 0 // bytes of the devices already full at this U
  let slope = ds.reduce((sum, d) => sum + d.k, 0) // bytes per byte of U the devices not yet full take
  for (const d of ds) {
    // Up to where d fills, the devices take full + slope·U bytes, and R copies need R·U: once slope
    // is below R the gap closes, at full / (R − slope), if that comes before d fills.
    if (slope < replicas) {
      const meet = full / (replicas - slope)
      if (meet <= d.bytes / d.k) return Math.floor(meet)
    }
    full += d.bytes
    slope -= d.k
  }
  return Math.floor(full / replicas)
}
