// The namespace in its checkpoint form, sent over a NameNode connection: to a client mounting, and
// to a standby starting over. Serialised piece by piece in one turn, so no record falls between
// the snapshot and the records that follow it.

import type { Socket } from 'node:net'
import type { NamespaceMetaStore } from '../cluster/openCluster.js'
import { encodeRaw } from '../protocol/wire.js'

/** Bytes of namespace pieces per snapshot message (a message may exceed it by one piece). */
const SNAPSHOT_MESSAGE_BYTES = 1024 * 1024

/** The namespace in its checkpoint form, cut into messages of about SNAPSHOT_MESSAGE_BYTES each. */
export function sendSnapshot(socket: Socket, meta: NamespaceMetaStore): void {
  let batch: string[] = []
  let bytes = 0
  const flush = (done: boolean) => {
    socket.write(encodeRaw(`{"t":"snap","pieces":[${batch.join(',')}],"done":${done}}`))
    batch = []
    bytes = 0
  }
  for (const piece of meta.stateMachine.snapshot(meta.state)) {
    const json = JSON.stringify(piece)
    batch.push(json)
    bytes += json.length
    if (bytes >= SNAPSHOT_MESSAGE_BYTES) flush(false)
  }
  flush(true)
}
