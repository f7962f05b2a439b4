// dfs unmount <mountpoint>: ask the daemon serving it to stop cleanly; clear a stale mount otherwise.

import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Command } from 'commander'
import { dfsError } from '../errors.js'
import { isAlive, daemonFor, unregisterDaemon } from '../daemon/registry.js'
import { isDfsMount, mountsAt } from '../fuse/mountpoint.js'
import { mountLogFolder } from '../log/where.js'

const run = promisify(execFile)

export function unmountCommand(): Command {
  return new Command('unmount')
    .description('unmount a dfs mount: store everything buffered, checkpoint the metadata, stop the daemon')
    .argument('<mountpoint>', 'where dfs is mounted')
    .option('--timeout <seconds>', 'how long to wait for the daemon to finish', '60')
    .action(async (mountpoint: string, opts: { timeout: string }) => {
      const daemon = await daemonFor(mountpoint)
      if (daemon) {
        process.kill(daemon.pid, 'SIGTERM')
        const deadline = Date.now() + Number(opts.timeout) * 1000
        while (isAlive(daemon.pid)) {
          if (Date.now() > deadline) {
            throw dfsError('EIO', `the dfs daemon (pid ${daemon.pid}) did not stop within ${opts.timeout} s; see its log, ${join(mountLogFolder(mountpoint), 'current.log')}`, { pid: daemon.pid })
          }
          await new Promise(resolve => setTimeout(resolve, 100))
        }
        // The daemon unmounts before it exits; if that failed (it logged why), clear what is left.
        if ((await mountsAt(mountpoint)).some(isDfsMount)) await clearStaleMount(mountpoint)
        console.log(`dfs: unmounted ${mountpoint}`)
        return
      }
      const mounts = await mountsAt(mountpoint)
      if (!mounts.some(isDfsMount)) {
        throw dfsError('NOT_MOUNTED', `nothing from dfs is mounted at ${mountpoint}; \`findmnt -t fuse.dfs\` lists dfs mounts`, { mountpoint })
      }
      await clearStaleMount(mountpoint)
      console.log(`dfs: cleared stale mount at ${mountpoint}`)
    })
}

/** No daemon serves the mount any more (it died, or its unmount failed): a lazy unmount clears it. */
async function clearStaleMount(mountpoint: string): Promise<void> {
  await run('fusermount', ['-uz', mountpoint]).catch(() => run('umount', ['-l', mountpoint]))
  await unregisterDaemon(mountpoint)
}
