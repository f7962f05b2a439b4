// `dfs meta dump --namenode`: a tool's `dump` request. The answer is the dump's header (captured with
// the namespace in one turn, so it names the seq the namespace is as of), then the pieces in `snap`
// messages, written only as fast as the tool reads them: the NameNode holds the captured inode list
// (references to its frozen inodes) and one message, never the document.

import type { Socket } from 'node:net'
import { isDfsError } from '../errors.js'
import { captureStore } from '../meta/dump.js'
import type { NamespaceState } from '../meta/namespace/types.js'
import type { Settings } from '../meta/metaFormat.js'
import { encodeRaw, send } from '../protocol/wire.js'

const MESSAGE_BYTES = 1024 * 1024

interface DumpableStore {
  readonly dir: string
  readonly clusterId: string
  readonly settings: Settings
  readonly lastSeq: number
  readonly state: NamespaceState
  sync(): Promise<void>
}

export async function streamDump(socket: Socket, id: number, meta: DumpableStore): Promise<void> {
  let captured
  try {
    captured = await captureStore(meta)
  } catch (err) {
    send(socket, { t: 'res', id, ok: false, e: { code: isDfsError(err) ? err.code : 'EIO', message: (err as Error).message } })
    return
  }
  send(socket, { t: 'res', id, ok: true, r: captured.header })
  let batch: string[] = []
  let bytes = 0
  const flush = async (done: boolean) => {
    const more = socket.write(encodeRaw(`{"t":"snap","pieces":[${batch.join(',')}],"done":${done}}`))
    batch = []
    bytes = 0
    if (!more && !done) await drained(socket)
  }
  for (const piece of captured.pieces) {
    if (socket.destroyed) return
    const json = JSON.stringify(piece)
    batch.push(json)
    bytes += json.length
    if (bytes >= MESSAGE_BYTES) await flush(false)
  }
  await flush(true)
}

function drained(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done)
      socket.off('close', done)
      resolve()
    }
    socket.on('drain', done)
    socket.on('close', done)
  })
}
