// The patched fuse-native binding (native-notes/patches/): it is the addon loaded, utimens gets the
// real mtime, the caller's uid/gid reach dfs, so new files belong to whoever made them, and what the
// binding answers from remembered attributes is never stale.

import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REPO_ROOT, makeCluster, stopAllAfterAll, type Cluster } from '../helpers/mount.js'
import { sh } from '../helpers/run.js'

stopAllAfterAll()

let cluster: Cluster
const nobody = (script: string) => sh(`setpriv --reuid=65534 --regid=65534 --clear-groups sh -c '${script}'`)
const stat = async (format: string, path: string) => (await sh(`stat -c '${format}' ${path}`)).stdout.trim()

beforeAll(async () => {
  cluster = makeCluster(3, 'dfs-binding-')
  await cluster.start({ chunkSize: '64k' })
  // mkdtemp makes the folder 0700: let the unprivileged user reach the mount inside it.
  expect((await sh(`chmod 755 ${cluster.root} && chmod 1777 ${cluster.mnt}`)).code).toBe(0)
})
afterAll(async () => cluster?.cleanup())

describe('the patched fuse-native binding', () => {
  it('is the addon node loads: built from the patched source, not the prebuild', () => {
    const require = createRequire(`${REPO_ROOT}/node_modules/fuse-native/index.js`)
    const loaded: string = require('node-gyp-build').path(`${REPO_ROOT}/node_modules/fuse-native`)
    expect(loaded).toBe(`${REPO_ROOT}/node_modules/fuse-native/build/Release/fuse.node`)
  })

  it('hands utimens the modification time it was given', async () => {
    const f = `${cluster.mnt}/times`
    expect((await sh(`touch ${f} && touch -d '2001-02-03 04:05:06' ${f}`)).code).toBe(0)
    expect(await stat('%y', f)).toMatch(/^2001-02-03 04:05:06/)
    const set = await sh(`python3 -c "import os; os.utime('${f}', (1000000000, 1200000000))"`)
    expect(set.code, set.stderr).toBe(0)
    expect(await stat('%X %Y', f)).toBe('1000000000 1200000000')
  })

  it('makes files, folders, links and special files belong to the user who created them', async () => {
    const made = await nobody(`cd ${cluster.mnt} && echo hi > mine && mkdir dir && ln -s mine link && mkfifo fifo`)
    expect(made.code, made.stderr).toBe(0)
    for (const name of ['mine', 'dir', 'fifo']) expect(await stat('%u:%g', `${cluster.mnt}/${name}`)).toBe('65534:65534')
    expect((await sh(`stat -c %u:%g ${cluster.mnt}/link`)).stdout.trim()).toBe('65534:65534')
  })

  it('gives new entries of a setgid folder its group, and its new folders the setgid bit', async () => {
    expect((await sh(`mkdir ${cluster.mnt}/shared && chgrp 100 ${cluster.mnt}/shared && chmod 2777 ${cluster.mnt}/shared`)).code).toBe(0)
    expect((await nobody(`mkdir ${cluster.mnt}/shared/sub && touch ${cluster.mnt}/shared/file`)).code).toBe(0)
    expect(await stat('%u:%g', `${cluster.mnt}/shared/file`)).toBe('65534:100')
    expect(await stat('%u:%g %A', `${cluster.mnt}/shared/sub`)).toMatch(/^65534:100 drwxr-s/)
  })

  it('answers from remembered attributes only what is still true: hard links, O_APPEND, chmod, listings', async () => {
    // The binding remembers getattr answers and listed entries until the next change
    // (src/fuse/bindingAnswers.ts); each step asks through the other name after a change made through one.
    const r = await sh(`cd ${cluster.mnt} && mkdir links && cd links && echo hello > a && ln a b &&
      ls -l > /dev/null && stat -c '%n %s %h' a b && echo more >> b && stat -c '%n %s' a &&
      chmod 600 a && ls -l b | cut -c1-10 && echo third >> a && cat b && rm a && ls -l | grep -c ' b$' && stat -c '%n %h' b`)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe('a 6 2\nb 6 2\na 11\n-rw-------\nhello\nmore\nthird\n1\nb 1\n')
  })

  it('lets the kernel enforce permissions on those owners (default_permissions)', async () => {
    expect((await sh(`touch ${cluster.mnt}/roots && chmod 644 ${cluster.mnt}/roots`)).code).toBe(0)
    const write = await nobody(`echo x >> ${cluster.mnt}/roots`)
    expect(write.code).not.toBe(0)
    expect(write.stderr).toMatch(/Permission denied/)
    const unlink = await nobody(`rm -f ${cluster.mnt}/roots`) // sticky folder: not the owner
    expect(unlink.stderr).toMatch(/Operation not permitted/)
    expect((await nobody(`rm ${cluster.mnt}/mine`)).code).toBe(0) // the owner may
  })
})
