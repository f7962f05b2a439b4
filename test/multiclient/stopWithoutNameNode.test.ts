// A client mount stopped (SIGTERM) while its NameNode is gone, holding bytes a writer has not
// closed yet: they cannot be committed, so they are dropped, and the mount must say which file lost
// them (exit 1, UNSTORED_DROPPED), however its last sync ended (a failed sync used to throw the list
// away). That it waits for the NameNode once, not once per request of each pass, is
// test/client/stopping.test.ts. `dfs unmount` waits for such a stop by default: the daemon's answer
// says how long the stop may take (the rule itself: test/cli/unmountTimeout.test.ts).

import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { callControl } from '../../src/daemon/control.js'
import { daemonFor } from '../../src/daemon/registry.js'
import { startRoles, stopRolesAfterAll } from '../helpers/roles.js'
import { run } from '../helpers/run.js'
import { until } from '../helpers/cli.js'

stopRolesAfterAll()

/** A writer that keeps `path` open after writing `bytes` to it (no close, fsync or fork: nothing makes the mount store them). */
function holdUnflushed(path: string, bytes: number) {
  const child = spawn('python3', ['-c', [
    'import os, sys, time',
    `fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)`,
    `os.write(fd, b"x" * ${bytes})`,
    'print("written", flush=True)',
    'time.sleep(3600)',
  ].join('\n'), path], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const written = new Promise<void>((resolve, reject) => {
    const seen = (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes('written')) resolve()
    }
    child.stdout.on('data', seen)
    child.stderr.on('data', seen)
    child.on('exit', code => reject(new Error(`the writer exited (${code}) before writing: ${output}`)))
  })
  return { written, stop: () => child.kill('SIGKILL') }
}

const count = (text: string, what: string) => text.split('\n').filter(line => line.includes(what)).length

describe('a client stopped while its NameNode is gone', () => {
  it('names the file whose bytes it drops', async () => {
    const roles = await startRoles({ datanodes: 2, clients: 1, replicas: 2, clientArgs: ['--namenode-timeout', '2s'] })
    const [client] = roles.clients
    const writer = holdUnflushed(join(client!.mnt, 'held.txt'), 5000)
    try {
      await writer.written
      await roles.namenode.kill9()
      client!.signal('SIGTERM')
      const status = await client!.exited
      const shown = `${client!.output()}\n${await client!.logTail(6000)}`
      expect(status.code, shown).toBe(1)
      const last = client!.output().trimEnd().split('\n').pop()
      expect(last, shown).toMatch(/^dfs: unmounting \S+ dropped 4\.9 KiB written to 1 file that could not be stored \(.*did not answer within 2 s \(commit\)\): \S+\/held\.txt; .*\[UNSTORED_DROPPED\]$/)
      const log = await client!.log()
      // Its create was never synced either: a NameNode out of reach holds what it answered, so that
      // is a warning (it could not be confirmed), not a loss.
      expect(count(log, 'could not confirm its last changes durable'), shown).toBe(1)
      expect(count(log, 'could not make the metadata durable'), shown).toBe(0)
    } finally {
      writer.stop()
    }
  }, 180_000)

  it('tells dfs unmount how long its stop may wait for the NameNode, so the command outwaits it by default', async () => {
    const roles = await startRoles({ datanodes: 1, clients: 1, replicas: 1, clientArgs: ['--namenode-timeout', '7s'] })
    const [client] = roles.clients
    const daemon = await daemonFor(client!.mnt)
    expect(daemon, 'the client is listed where dfs unmount looks').toBeDefined()
    const answer = await callControl(daemon!.control, 'unmount', { force: false }, 60_000) as { pid: number; stopMayTakeMs?: number }
    expect(answer.pid).toBe(client!.pid)
    // Its kernel requests may wait --namenode-timeout and then some (remoteMount.ts); the stop waits for no more.
    expect(answer.stopMayTakeMs).toBeGreaterThanOrEqual(7_000)
    expect((await client!.exited).code, client!.output()).toBe(0)
  }, 180_000)

  it('says METADATA_UNSYNCED when the NameNode came back without its last changes', async () => {
    const roles = await startRoles({ datanodes: 1, clients: 1, replicas: 1, clientArgs: ['--namenode-timeout', '60s'] })
    const [client] = roles.clients
    const nn = roles.namenode
    expect((await run('mkdir', [join(client!.mnt, 'before')])).code).toBe(0)
    // Durable at the NameNode (an fsync of the folder: `sync -f` does not reach a FUSE file system).
    expect((await run('python3', ['-c', 'import os, sys; os.fsync(os.open(sys.argv[1], os.O_RDONLY))', join(client!.mnt, 'before')])).code).toBe(0)
    // The NameNode's folder as it is now, put back after more changes: a restore from an old backup.
    expect((await run('cp', ['-a', nn.meta, `${nn.meta}.copy`])).code).toBe(0)
    for (const name of ['a', 'b', 'c']) expect((await run('mkdir', [join(client!.mnt, name)])).code).toBe(0)
    await nn.kill9()
    expect((await run('rm', ['-rf', nn.meta])).code).toBe(0)
    expect((await run('mv', [`${nn.meta}.copy`, nn.meta])).code).toBe(0)
    await nn.restart()
    await until(async () => (await client!.log()).includes('the next fsync fails'), 120_000)
    client!.signal('SIGTERM')
    const status = await client!.exited
    const shown = `${client!.output()}\n${await client!.logTail(5000)}`
    expect(status.code, shown).toBe(1)
    // The mkdirs are answered ahead of the NameNode (the client holds the sole writer's lease), so the
    // last may not have reached it before the kill: the old one journaled records 2-4, or 2-3 (and
    // the client then also says the create of c is lost).
    expect(client!.output().trimEnd().split('\n').pop(), shown).toMatch(/could not make the metadata durable \(.*records 2.[34]\b.*\).*\[METADATA_UNSYNCED\]$/)
  }, 300_000)
})

