// `npm pack` gives a package that installs and runs: the tarball holds the built CLI (dist/), bin/,
// the fuse-native patch and the script that applies it, and none of src/ or test/; installed from
// the tarball into an empty prefix, `dfs --version` runs from the installed bin, with the patched
// addon (the package's postinstall patches the fuse-native it was installed with).
//
// The install resolves dependencies through npm (--prefer-offline: from the cache npm ci filled where
// it can, the registry for the rest), so it takes tens of seconds; dist/ is the one test/setup built.

import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { REPO_ROOT } from '../helpers/mount.js'
import { run } from '../helpers/run.js'
import { cleanupTempDirsAfterAll, makeTempDir } from '../helpers/tmp.js'

cleanupTempDirsAfterAll()

const npm = (args: string[], cwd = REPO_ROOT) => run('npm', ['--no-audit', '--no-fund', '--no-update-notifier', ...args], { cwd, timeout: 300_000 })
const { version } = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }

describe('npm pack', () => {
  it('packs the built CLI and what setup needs, without sources or tests', async () => {
    // --ignore-scripts: prepack (tsc) would rewrite dist/ under the feet of tests running beside this one.
    const r = await npm(['pack', '--dry-run', '--json', '--ignore-scripts'])
    expect(r.code, r.stderr).toBe(0)
    const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0].files.map(f => f.path)
    for (const needed of ['package.json', 'bin/dfs.js', 'dist/cli/main.js', 'dist/log/openLog.js', 'scripts/patch-fuse-native.sh', 'native-notes/patches/fuse-native-2.2.6.patch',
      'web/index.html', 'web/app.js', 'web/style.css', 'dist/dashboard/server.js']) {
      expect(files).toContain(needed)
    }
    // setup.sh readies a checkout (npm ci, tsc); an installed package has neither to do.
    expect(files.filter(f => /^(src|test)\//.test(f) || f.endsWith('.map') || f === 'scripts/setup.sh')).toEqual([])
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    expect(pkg.scripts.prepack).toMatch(/tsc -p tsconfig\.json/)
  })

  it('installs from the tarball into an empty prefix and `dfs --version` runs', async () => {
    const dir = makeTempDir('dfs-pack-').path
    const packed = await npm(['pack', '--ignore-scripts', '--pack-destination', dir])
    expect(packed.code, packed.stderr).toBe(0)
    const tarball = (await readdir(dir)).find(name => name.endsWith('.tgz'))
    expect(tarball).toBe(`dfs-${version}.tgz`)

    const prefix = join(dir, 'prefix')
    const installed = await npm(['install', '--prefer-offline', '--prefix', prefix, join(dir, tarball as string)], dir)
    expect(installed.code, installed.stderr).toBe(0)
    const bin = join(prefix, 'node_modules', '.bin', 'dfs')
    const r = await run(bin, ['--version'], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe(`${version}\n`)
    // The postinstall patched and rebuilt the addon the installed dfs loads (this machine has the
    // build tools setup.sh asks for).
    const stamp = await readFile(join(prefix, 'node_modules', 'fuse-native', 'build', 'Release', '.dfs-patch'), 'utf8').catch(() => '')
    expect(stamp.trim(), `no patch stamp; npm said: ${installed.stderr}`).toMatch(/^[0-9a-f]{64}$/)
    // The dashboard's page and Chart.js are found from the installed module (web/ beside dist/, chart.js in node_modules).
    const assets = join(prefix, 'node_modules', 'dfs', 'dist', 'dashboard', 'assets.js')
    const served = await run(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(assets)}); console.log([...(await m.loadAssets()).keys()].join(' '))`], { cwd: dir })
    expect(served.code, served.stderr).toBe(0)
    expect(served.stdout.trim().split(' ')).toEqual(expect.arrayContaining(['/', '/app.js', '/chart.umd.min.js']))
  }, 300_000)
})
