#!/usr/bin/env node
// The compiled CLI lives in dist/; `npm run setup` (or any README command) builds it.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const main = new URL('../dist/cli/main.js', import.meta.url)
if (!existsSync(fileURLToPath(main))) {
  console.error('dfs: not built yet (dist/ is missing); run `npm run setup` in the dfs folder first')
  process.exit(1)
}
await import(main.href)
