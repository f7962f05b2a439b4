// File calls on plain descriptors, one promise each, for the hottest small-file path (a chunk's put).
// node:fs/promises builds a FileHandle (an EventEmitter) per open and several promises per call (a
// close alone makes five): counted, that was most of the promises a small file's create made.

import { close, fdatasync, open, rename, write } from 'node:fs'

export function openFd(path: string, flags: string | number): Promise<number> {
  return new Promise((resolve, reject) => open(path, flags, 0o666, (err, fd) => (err ? reject(err) : resolve(fd))))
}

/** Write all of data at the start of the file (write(2) may write less than asked). */
export async function writeAllFd(fd: number, data: Buffer): Promise<void> {
  for (let done = 0; done < data.length;) done += await writeFd(fd, data, done)
}

function writeFd(fd: number, data: Buffer, at: number): Promise<number> {
  return new Promise((resolve, reject) => write(fd, data, at, data.length - at, at, (err, n) => (err ? reject(err) : resolve(n))))
}

export function renamePath(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => rename(from, to, (err) => (err ? reject(err) : resolve())))
}

export function datasyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())))
}

/** Close in the background: nothing waits, and a failed close of a file already written changes nothing. */
export function closeFdQuietly(fd: number): void {
  close(fd, () => {})
}
