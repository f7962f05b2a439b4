// Headless Chromium for the dashboard tests: Debian's `chromium` (scripts/setup.sh installs it
// before npm test) driven by playwright-core, which downloads no browser. DFS_CHROMIUM names
// another binary. Every page records its console errors and uncaught exceptions; closeBrowsers()
// ends what was launched, pass or fail.
//
//   const { page, errors } = await openPage(url)      // errors: string[], filled as they happen
//   await shot(page, 'three-alive')                    // test-output/dashboard/three-alive.png
import { existsSync, mkdirSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { type Browser, type Page, chromium } from 'playwright-core'
import { afterAll } from 'vitest'
import { REPO_ROOT } from './mount.js'

/** Where screenshots go (ignored by git). */
export const SHOT_DIR = join(REPO_ROOT, 'test-output', 'dashboard')

export function chromiumPath(): string {
  if (process.env.DFS_CHROMIUM) return process.env.DFS_CHROMIUM
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of ['chromium', 'chromium-browser']) if (dir && existsSync(join(dir, name))) return join(dir, name)
  }
  if (existsSync('/usr/bin/chromium')) return '/usr/bin/chromium'
  throw new Error('Chromium not found: sudo apt-get install -y chromium (npm test runs scripts/setup.sh, which does), or set DFS_CHROMIUM')
}

const browsers = new Set<Browser>()

export async function openPage(url: string, viewport = { width: 1280, height: 1400 }): Promise<{ page: Page; errors: string[] }> {
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'], headless: true })
  browsers.add(browser)
  const page = await browser.newPage({ viewport })
  const errors: string[] = []
  page.on('console', m => { if (m.type() === 'error') errors.push(`console: ${m.text()}`) })
  page.on('pageerror', e => errors.push(`page error: ${e.message}`))
  await page.goto(url)
  return { page, errors }
}

export async function shot(page: Page, name: string, path = join(SHOT_DIR, `${name}.png`)): Promise<string> {
  mkdirSync(join(path, '..'), { recursive: true })
  await page.screenshot({ path, fullPage: true })
  return path
}

export async function closeBrowsers(): Promise<void> {
  for (const b of [...browsers]) {
    browsers.delete(b)
    await b.close().catch(() => {})
  }
}

export function closeBrowsersAfterAll(): void {
  afterAll(closeBrowsers)
}
