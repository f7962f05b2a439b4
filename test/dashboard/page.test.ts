// The dashboard in a browser, on a real cluster of processes: a `dfs namenode --http 127.0.0.1:0`,
// three `dfs datanode` servers and a client mount; headless Chromium (playwright-core) opens the page.
// It loads with no console error and shows three alive nodes; a file written through the mount shows
// each chunk on two nodes; a DataNode killed by pid shows dead, live, without a reload.
// Screenshots go to test-output/dashboard/ (ignored by git); DFS_UPDATE_SCREENSHOT=1 also writes
// docs/dashboard.png, the README's.
//
// Also: --http on a non-loopback address without a token is refused before anything is opened; with
// --http-token-file (here on loopback, which must enforce it too) a request needs the token.

import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from '../../src/util/freePort.js'
import { startRoles, stopRolesAfterAll } from '../helpers/roles.js'
import { closeBrowsersAfterAll, openPage, shot } from '../helpers/browser.js'
import { sh } from '../helpers/run.js'
import { dfs } from '../helpers/cli.js'
import { REPO_ROOT } from '../helpers/mount.js'
import { tempDirForTest } from '../helpers/tmp.js'
import { startDfs, stopAllDfs } from '../helpers/mount.js'

stopRolesAfterAll()
closeBrowsersAfterAll()
afterAll(stopAllDfs)

// Short detection times, so "dead" comes soon; the test still only waits for it, with a long deadline.
const LIVENESS = ['--heartbeat', '250ms', '--suspect-after', '1s', '--dead-after', '3s']
const DEADLINE = { timeout: 120_000 }

describe('the dashboard page', () => {
  it('shows the cluster live: three alive nodes, a file on two nodes per chunk, a killed node dead', async () => {
    // A fixed port: the NameNode restarts on it at the end, and the page must find it again.
    const c = await startRoles({ datanodes: 3, clients: 1, chunkSize: '1M', namenodeArgs: [...LIVENESS, '--http', `127.0.0.1:${await freePort()}`] })
    const url = (await c.namenode.waitForOutput(/dashboard on (http:\/\/\S+)/, { since: 0 }))[1]!
    console.log(`dashboard: ${url}`)
    const { page, errors } = await openPage(url)

    await page.waitForFunction(() => document.querySelectorAll('#nodes tr[data-state="alive"]').length === 3, null, DEADLINE)
    await page.waitForSelector('#conn[data-state="live"]', DEADLINE)
    await shot(page, 'three-alive')

    const [client] = c.clients
    const file = join(client!.mnt, 'photo.bin')
    await c.ok(await sh(`set -e; mkdir -p ${client!.mnt}/albums; head -c 3000000 /dev/urandom | dd of=${file} bs=1M conv=fsync status=none`), 'writing a file')

    // /metrics is served beside the page (the metrics part's registry).
    const metrics = await fetch(`${url}metrics`)
    expect(metrics.status, `GET /metrics: ${await metrics.clone().text()}`).toBe(200)
    expect(await metrics.text()).toMatch(/^dfs_\w+/m)
    const probe = await fetch(`${url}api/file?path=/photo.bin`)
    expect(probe.status, `GET /api/file: ${await probe.text()} (src/dashboard/open.ts wires the info part's placement)`).toBe(200)
    // The file view: browse to it (the listing was loaded before it existed), open it.
    await page.click('#crumbs a')
    await page.click('#files tr[data-path="/photo.bin"] a', DEADLINE)
    await page.waitForFunction(() => document.querySelectorAll('#chunks tr[data-chunk]').length === 3, null, DEADLINE)
    expect(await page.textContent('#placement')).not.toContain('null')
    const copies = await page.$$eval('#chunks tr[data-chunk]', rows => rows.map(r => r.querySelectorAll('.copy[data-state="ok"]').length))
    expect(copies).toEqual([2, 2, 2])
    await shot(page, 'file-view')

    // Kill a DataNode: the page marks it dead by itself (no reload), within the detection time.
    const victim = c.datanodes[2]!
    await victim.kill9()
    await page.waitForSelector(`#nodes tr[data-node-id="${victim.nodeId}"][data-state="dead"]`, DEADLINE)
    expect(await page.$$eval('#nodes tr[data-state="alive"]', rows => rows.length)).toBe(2)
    // The heartbeat monitor's event (src/cluster/liveness/) reaches the Events panel live.
    await page.waitForSelector(`#events li[data-kind="node-dead"]`, DEADLINE)
    await page.click('#files tr[data-path="/photo.bin"] a')
    await page.waitForSelector(`#chunks .copy[data-node-id="${victim.nodeId}"][data-state="unreachable"], #chunks tr[data-chunk]:not(:has(.copy[data-node-id="${victim.nodeId}"]))`, DEADLINE)
    const path = await shot(page, 'node-dead')
    if (process.env.DFS_UPDATE_SCREENSHOT === '1') {
      await page.setViewportSize({ width: 1200, height: 800 })
      await page.screenshot({ path: join(REPO_ROOT, 'docs', 'dashboard.png'), fullPage: true })
    }
    console.log(`screenshots: ${path} and beside it`)
    expect(errors).toEqual([])

    // The NameNode restarts: the page reconnects by itself and shows the new one.
    await c.namenode.kill9()
    await page.waitForSelector('#conn[data-state="reconnecting"]', DEADLINE)
    await c.namenode.restart()
    try {
      await page.waitForSelector(`#summary[data-pid="${c.namenode.pid}"]`, DEADLINE)
      await page.waitForSelector('#conn[data-state="live"]', DEADLINE)
    } catch (err) {
      // Seen once in a loaded suite run (not reproduced alone): say what the page and the NameNode had.
      const seen = await page.evaluate(() => ({ pid: document.querySelector('#summary')?.getAttribute('data-pid'), conn: document.querySelector('#conn')?.getAttribute('data-state') }))
      throw new Error(`the page did not show the restarted NameNode (pid ${c.namenode.pid}): it shows pid ${seen.pid}, connection ${seen.conn}; page errors: ${JSON.stringify(errors)}\nNameNode output (tail):\n${c.namenode.output().slice(-3000)}\n${(err as Error).message}`)
    }
  })
})

describe('--http binding', () => {
  it('refuses a non-loopback address without a token, before anything is opened', async () => {
    const dir = tempDirForTest('dfs-http-')
    const meta = join(dir.path, 'meta')
    for (const d of ['meta', 'n1', 'n2']) mkdirSync(join(dir.path, d))
    writeFileSync(join(dir.path, 'secret'), 'secret\n', { mode: 0o600 })
    const r = await dfs(...['namenode', '--meta', meta, '--nodes', `${join(dir.path, 'n1')},${join(dir.path, 'n2')}`, '--listen', '127.0.0.1:0',
      '--secret-file', join(dir.path, 'secret'), '--http', '0.0.0.0:0'])
    expect(r.code).not.toBe(0)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/--http 0\.0\.0\.0:0 is not a loopback address.*--http-token-file.*\[HTTP_NOT_LOOPBACK\]/)
    expect(readdirSync(meta)).toEqual([])
    expect(readdirSync(join(dir.path, 'n1'))).toEqual([])

    // The embedded mount keeps the same rule, in the foreground and in the background.
    mkdirSync(join(dir.path, 'mnt'))
    for (const fg of [['--foreground'], []]) {
      const m = await dfs('mount', join(dir.path, 'mnt'), '--meta', meta, '--nodes', `${join(dir.path, 'n1')},${join(dir.path, 'n2')}`, '--http', '[::]:8080', ...fg)
      expect(m.code).not.toBe(0)
      expect(m.stderr.trim().split('\n')).toHaveLength(1)
      expect(m.stderr).toMatch(/\[HTTP_NOT_LOOPBACK\]/)
      expect(readdirSync(meta)).toEqual([])
      expect(readdirSync(join(dir.path, 'mnt'))).toEqual([])
    }
  })

  it('with --http-token-file, a request needs the token (401 without, 200 with)', async () => {
    const dir = tempDirForTest('dfs-http-token-')
    const tokenFile = join(dir.path, 'token')
    writeFileSync(tokenFile, 'a dashboard token\n', { mode: 0o600 })
    const c = await startRoles({ datanodes: 2, clients: 0, namenodeArgs: ['--http', '127.0.0.1:0', '--http-token-file', tokenFile] })
    const line = await c.namenode.waitForOutput(/dashboard on (http:\/\/\S+) \(token required/, { since: 0 })
    const url = `${line[1]}api/status`
    const without = await fetch(url)
    expect(without.status).toBe(401)
    expect((await without.text()).trim().split('\n')).toHaveLength(1)
    expect((await fetch(url, { headers: { Authorization: 'Bearer not it' } })).status).toBe(401)
    const withToken = await fetch(url, { headers: { Authorization: 'Bearer a dashboard token' } })
    expect(withToken.status).toBe(200)
    expect((await withToken.json()).nodes).toHaveLength(2)
    // A browser opens ?token= once: the cookie carries it from then on (the live stream included), and the address drops it.
    const { page, errors } = await openPage(`${line[1]}?token=${encodeURIComponent('a dashboard token')}`)
    await page.waitForSelector('#conn[data-state="live"]', DEADLINE)
    await page.waitForFunction(() => document.querySelectorAll('#nodes tr[data-state="alive"]').length === 2, null, DEADLINE)
    expect(page.url()).toBe(line[1])
    expect(errors).toEqual([])
    await c.stop()
  })

  it('the embedded mount serves it too, and says where; a --namenode client refuses --http (the dashboard lives in the NameNode)', async () => {
    const dir = tempDirForTest('dfs-http-mount-')
    for (const d of ['mnt', 'n1', 'n2']) mkdirSync(join(dir.path, d))
    const daemon = await startDfs({ mountpoint: join(dir.path, 'mnt'), nodes: [join(dir.path, 'n1'), join(dir.path, 'n2')], meta: join(dir.path, 'meta'), extraArgs: ['--http', '127.0.0.1:0'] })
    const url = /^dfs: mounted .*dashboard on (http:\/\/\S+)\)$/m.exec(daemon.stdout())?.[1]
    expect(url, daemon.output()).toBeDefined()
    const status = await (await fetch(`${url}api/status`)).json()
    expect(status).toMatchObject({ mountpoint: join(dir.path, 'mnt'), dashboard: url })
    const shown = await dfs('status', join(dir.path, 'mnt'))
    expect(shown.stdout).toContain(`dashboard: ${url}`)
    await daemon.stop()

    writeFileSync(join(dir.path, 'secret'), 'secret\n', { mode: 0o600 })
    const r = await dfs('mount', join(dir.path, 'mnt'), '--namenode', 'tcp://127.0.0.1:9', '--secret-file', join(dir.path, 'secret'), '--http', '127.0.0.1:0')
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/--http is for the NameNode, where the dashboard lives: give it to dfs namenode.*\[BAD_ARGUMENT\]/)
  })
})
