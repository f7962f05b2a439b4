// A link to a token-guarded dashboard from another site (a wiki, Grafana, a chat) opens it for a
// browser that has the cookie: the dashboard changes nothing on any request, so its cookie goes
// with top-level navigations from elsewhere (SameSite=Lax). With SameSite=Strict such a link was
// answered 401 "a token is required" although the browser had opened ?token= already.

import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NameNodeHost } from '../../src/namenode/openNameNode.js'
import { openTestHost } from '../namenode/fixtures.js'
import { type Dashboard, startDashboard } from '../../src/dashboard/server.js'
import { closeBrowsersAfterAll, openPage } from '../helpers/browser.js'
import { makeTempDir } from '../helpers/tmp.js'

closeBrowsersAfterAll()

const DEADLINE = { timeout: 60_000 }
const dir = makeTempDir('dfs-cross-site-')
let host: NameNodeHost
let dash: Dashboard
let elsewhere: Server

beforeAll(async () => {
  host = await openTestHost(dir.path)
  dash = await startDashboard({ host, listen: '127.0.0.1:0', token: 'cross-site-token', log: () => {}, status: () => host.status('t') })
  // Another site: `localhost` is a different site from `127.0.0.1` to a browser.
  elsewhere = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' })
    res.end(`<!doctype html><a id="go" href="${dash.url}">the dashboard</a>`)
  })
  await new Promise<void>(resolve => elsewhere.listen(0, '127.0.0.1', resolve))
})

afterAll(async () => {
  await new Promise(resolve => elsewhere?.close(resolve))
  await dash?.close()
  await host?.close()
  await dir.cleanup()
})

describe('a link from another site', () => {
  it('opens the dashboard for a browser that has its cookie', async () => {
    const { page } = await openPage(`${dash.url}?token=cross-site-token`)
    await page.waitForSelector('#conn[data-state="live"]', DEADLINE)
    await page.goto(`http://localhost:${(elsewhere.address() as { port: number }).port}/`)
    const [answer] = await Promise.all([page.waitForNavigation(DEADLINE), page.click('#go')])
    expect(answer?.status()).toBe(200)
    await page.waitForSelector('#conn[data-state="live"]', DEADLINE)
  })
})
