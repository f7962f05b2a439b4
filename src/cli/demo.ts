// dfs demo [dir]: a three-node cluster in one folder (node_1..node_3, meta, mnt), mounted in the
// foreground until Ctrl-C. Running it again reuses the cluster; a deleted node folder rejoins empty.

import { mkdir } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join, relative, resolve } from 'node:path'
import { Command } from 'commander'
import { MOUNT_DEFAULTS, daemonOptions, runForeground } from './mount.js'

export function demoCommand(): Command {
  return new Command('demo')
    .description('bring up a three-node demo cluster in <dir> and mount it at <dir>/mnt (Ctrl-C unmounts)')
    .argument('[dir]', 'folder for the demo cluster', 'demo')
    .option('--http <host:port>', 'where the web dashboard is served (default 127.0.0.1:8080, or a free port when that is taken)')
    .action(async (dir: string, flags: { http?: string }) => {
      const root = resolve(dir)
      const nodes = ['node_1', 'node_2', 'node_3'].map(n => join(root, n))
      for (const folder of [...nodes, join(root, 'meta'), join(root, 'mnt')]) await mkdir(folder, { recursive: true })
      const mnt = join(root, 'mnt')
      const http = flags.http ?? (await isFree('127.0.0.1', 8080) ? '127.0.0.1:8080' : '127.0.0.1:0')
      const options = daemonOptions(mnt, { ...MOUNT_DEFAULTS, meta: join(root, 'meta'), nodes: nodes.join(','), http })
      await runForeground(options, () => printTryThis(root))
    })
}

function printTryThis(root: string): void {
  const at = relative(process.cwd(), root) || '.'
  console.log(`
Three DataNodes (${at}/node_1, node_2, node_3) keep 2 copies of every 4 MiB chunk; the namespace
journal is in ${at}/meta. In another terminal, try:

  cp -r /usr/share/doc ${at}/mnt/ && du -sh ${at}/mnt/doc
  dd if=/dev/urandom of=${at}/mnt/big bs=1M count=64 && sha256sum ${at}/mnt/big
  rm -rf ${at}/node_1                   # lose a node while mounted
  sha256sum ${at}/mnt/big               # still the same bytes, read from the other copies
  diff -r --no-dereference /usr/share/doc ${at}/mnt/doc && echo identical
  node bin/dfs.js status                # node_1 dead after 10 s; the healer then restores 2 copies
  node bin/dfs.js info ${at}/mnt/big     # where each chunk of the file lives now, and its SHA-256

Watch it happen live in a browser: the dashboard's address is on the "mounted" line above.

Press Ctrl-C here to unmount (running the demo again brings node_1 back as a fresh, empty node).
`)
}

/** The demo's dashboard goes to a stable address when it is free, else to any free port: the demo comes up either way. */
function isFree(host: string, port: number): Promise<boolean> {
  return new Promise(resolve => {
    const probe = createServer()
    probe.once('error', () => resolve(false))
    probe.listen(port, host, () => probe.close(() => resolve(true)))
  })
}
