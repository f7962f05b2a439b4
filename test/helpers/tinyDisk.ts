// A node folder on a really full disk: a tiny tmpfs mounted on it (root only, as the FUSE tests are).
// Tests unmount every one they made in afterEach, before removing the folders under them:
//
//   mountTinyDisk(dir, '256k')            // in the test
//   afterEach(() => unmountTinyDisks())   // then the temp folders go

import { execFileSync } from 'node:child_process'

const mounted: string[] = []

export function mountTinyDisk(dir: string, size: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir])
  mounted.push(dir)
}

export function unmountTinyDisks(): void {
  for (const dir of mounted.splice(0)) execFileSync('umount', ['-l', dir])
}
