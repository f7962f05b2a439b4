// The FUSE edge's one translation: any error becomes a negative errno for the kernel.

import { constants } from 'node:os'
import { posixCodeOf } from '../errors.js'

const ERRNO = constants.errno as Record<string, number>

/** Negative errno for an error thrown by the file system core (unknown errors are EIO). */
export function toErrno(err: unknown): number {
  const code = posixCodeOf(err)
  return -(ERRNO[code] ?? ERRNO.EIO)
}
