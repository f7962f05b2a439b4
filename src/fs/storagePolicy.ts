// Which layout a client writes a file's new chunks in: the storage policy in force for the directory
// the file was opened or created in (meta/namespace/policy.ts: its own user.dfs.policy, else the
// nearest ancestor's, else the cluster's R copies). Said once here for FileSystem and OpenFile.

import { type Layout, sameLayout } from '../chunks/layout.js'
import { policyInForce } from '../meta/namespace/policy.js'
import type { NamespaceState } from '../meta/namespace/types.js'

/**
 * The layout to pass to ChunkIO.write for a file in directory `dirIno`; undefined when it is the
 * cluster's own R copies (ChunkIO's default: such a ref records no layout of its own, as before
 * policies existed).
 */
export function layoutToWrite(state: NamespaceState, dirIno: number, clusterReplicas: number): Layout | undefined {
  const { layout } = policyInForce(state, dirIno, clusterReplicas)
  return sameLayout(layout, { kind: 'replicas', copies: clusterReplicas }) ? undefined : layout
}
