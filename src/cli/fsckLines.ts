// How `dfs fsck` names one chunk with a problem, on one line: a replicated chunk by its good copies
// and the bad ones' nodes; a stripe by its layout, how many shards are intact (and how many a read
// needs when it is lost), and each bad shard's index and node.

import type { ChunkProblem } from '../cluster/fsck.js'
import { oneLine } from '../util/oneLine.js'

export function problemLine(p: Omit<ChunkProblem, 'ref'>): string {
  const where = `${oneLine(p.path)} chunk ${p.index} (${p.chunk})`
  if (!p.shards) {
    const bad = p.bad.map(b => `${b.node}: ${b.why}`).join('; ')
    return `${where}: ${p.good.length} good copies${bad ? `; ${bad}` : ''}`
  }
  const k = /^ec:(\d+)\+/.exec(p.layout)?.[1]
  const total = p.shards.length
  const state = k !== undefined && p.intact < Number(k) ? `lost, ${k} needed to read` : p.intact < total ? 'degraded, readable' : 'all intact'
  const bad = p.bad.map(b => `shard ${b.shard} on ${b.node}: ${b.why}`).join('; ')
  return `${where}: ${p.layout} stripe, ${p.intact} of ${total} shards intact (${state})${bad ? `; ${bad}` : ''}`
}
