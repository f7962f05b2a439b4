// `dfs namenode` takes its --listen address before it opens or creates the cluster: an address in
// use fails with one line and leaves nothing behind, on first start too. (It used to create the
// metadata folder and claim every DataNode for the new cluster, then fail on EADDRINUSE; a second
// try with another --meta folder was then refused, META_FOREIGN, by the DataNodes it had claimed.)

import { existsSync } from 'node:fs'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { dfs } from '../helpers/cli.js'
import { startDataNode, stopAllDataNodes } from '../helpers/datanodes.js'
import { tempDirForTest } from '../helpers/tmp.js'

afterAll(stopAllDataNodes)

describe('dfs namenode --listen on an address in use', () => {
  it('fails before creating the cluster: no metadata folder, DataNodes still unclaimed', async () => {
    const root = tempDirForTest('dfs-nn-listen-').path
    const secretFile = join(root, 'secret')
    await mkdir(join(root, 'a'))
    await mkdir(join(root, 'b'))
    await writeFile(secretFile, 'a-secret-shared-by-all-roles-0123456789', { mode: 0o600 })
    const a = await startDataNode({ dir: join(root, 'a'), secretFile })
    const b = await startDataNode({ dir: join(root, 'b'), secretFile })
    const busy: Server = createServer()
    await new Promise<void>(resolve => busy.listen(0, '127.0.0.1', resolve))
    try {
      const port = (busy.address() as { port: number }).port
      const meta = join(root, 'meta')
      const r = await dfs('namenode', '--meta', meta, '--listen', `127.0.0.1:${port}`, '--secret-file', secretFile, '--nodes', `${a.url},${b.url}`)
      expect(r.code).not.toBe(0)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(r.stderr).toMatch(new RegExp(`cannot listen on --listen 127\\.0\\.0\\.1:${port}: port ${port} is in use; pick another port.*\\[BAD_ARGUMENT\\]`))
      expect(existsSync(meta)).toBe(false)
      for (const node of [a, b]) expect(await readdir(node.dir)).not.toContain('dfs-claim.json')
    } finally {
      await new Promise(resolve => busy.close(resolve))
      await a.stop()
      await b.stop()
    }
  })
})
