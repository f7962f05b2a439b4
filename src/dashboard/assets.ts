// The page's files: a fixed list, read once at start, so no request path ever reaches the disk.
// They ship in the package (web/, listed in package.json "files") and are found relative to this
// module, which sits at the same depth in src/ (tests) and dist/ (a checkout, an installed package).
// Chart.js comes from its own package in node_modules: no CDN, nothing fetched at run time.

import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface Asset {
  type: string
  body: Buffer
}

export const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url))

/** Chart.js's UMD build (a plain script that defines window.Chart); its exports map hides the path, so go from its main file. */
export function chartJsFile(): string {
  const main = createRequire(import.meta.url).resolve('chart.js')
  return join(dirname(main), 'chart.umd.min.js')
}

const JS = 'text/javascript; charset=utf-8'

/** URL path -> the file it serves. */
function files(): Record<string, { file: string; type: string }> {
  return {
    '/': { file: join(WEB_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
    '/app.js': { file: join(WEB_DIR, 'app.js'), type: JS },
    '/style.css': { file: join(WEB_DIR, 'style.css'), type: 'text/css; charset=utf-8' },
    '/favicon.svg': { file: join(WEB_DIR, 'favicon.svg'), type: 'image/svg+xml' },
    '/chart.umd.min.js': { file: chartJsFile(), type: JS },
  }
}

export async function loadAssets(): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>()
  for (const [path, { file, type }] of Object.entries(files())) assets.set(path, { type, body: await readFile(file) })
  return assets
}
