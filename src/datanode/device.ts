// Which filesystem a node folder lives on, as a name comparable across nodes and hosts: this host's
// id and the folder's device number (stat's st_dev). Node folders on one disk share its space, so
// capacity counts each device once (../cluster/capacity.ts). A TCP server reports the same name in
// its USAGE reply, so folders served from one disk by several servers are counted once too.

import { readFile, stat } from 'node:fs/promises'
import { hostname } from 'node:os'

let host: Promise<string> | undefined

/** /etc/machine-id (stable, unique per installation), else the host name. */
function hostId(): Promise<string> {
  host ??= readFile('/etc/machine-id', 'utf8').then(
    (text) => text.trim() || hostname(),
    () => hostname(),
  )
  return host
}

export async function deviceOf(dir: string): Promise<string> {
  const [id, { dev }] = await Promise.all([hostId(), stat(dir)])
  return `${id}:${dev}`
}
