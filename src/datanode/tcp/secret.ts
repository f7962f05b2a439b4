// The cluster secret: any bytes, shared by every DataNode server and the daemons that use them, kept
// in a file (--secret-file). A trailing newline is not part of it, so `echo`ed and generated files
// (`head -c 32 /dev/urandom | base64`) both work. Like ssh with a private key, a file that group or
// others may read or write is refused: whoever reads it can join the cluster.

import { open } from 'node:fs/promises'
import { DfsError, dfsError } from '../../errors.js'
import { errnoOf } from '../../util/osError.js'

const MAKE_ONE = 'create one with: (umask 077; head -c 32 /dev/urandom | base64 > <file>)'

/** The secret in a file; BAD_ARGUMENT (naming the flag) when it cannot be read or is empty, SECRET_FILE_UNSAFE when others may read it. */
export async function readSecretFile(path: string, flag = '--secret-file'): Promise<Buffer> {
  let bytes: Buffer
  try {
    // One open for both the mode and the bytes: the file checked is the file read.
    const file = await open(path, 'r')
    try {
      const info = await file.stat()
      if (!info.isDirectory()) checkPrivate(path, flag, info.mode) // a folder: readFile says EISDIR
      bytes = await file.readFile()
    } finally {
      await file.close()
    }
  } catch (err) {
    if (err instanceof DfsError) throw err
    const errno = errnoOf(err) ?? String(err)
    const why = errno === 'ENOENT' ? 'does not exist' : errno === 'EACCES' ? 'is not readable' : errno === 'EISDIR' ? 'is a folder' : `cannot be read (${errno})`
    throw dfsError('BAD_ARGUMENT', `${flag} ${path} ${why}; ${MAKE_ONE}`, { secretFile: path, errno }, err)
  }
  const secret = trimNewlines(bytes)
  if (secret.length === 0) {
    throw dfsError('BAD_ARGUMENT', `${flag} ${path} is empty; ${MAKE_ONE}`, { secretFile: path })
  }
  return secret
}

function checkPrivate(path: string, flag: string, mode: number): void {
  if ((mode & 0o077) === 0) return
  const octal = (mode & 0o777).toString(8).padStart(3, '0')
  throw dfsError('SECRET_FILE_UNSAFE', `${flag} ${path} is open to other users (mode ${octal}); make it private: chmod 600 ${path}`, { secretFile: path, mode: octal })
}

/** A secret given in code (string or bytes) as bytes; an empty one is refused. */
export function secretBytes(secret: Buffer | string): Buffer {
  const bytes = typeof secret === 'string' ? Buffer.from(secret) : secret
  if (!Buffer.isBuffer(bytes) || bytes.length === 0) {
    throw dfsError('BAD_ARGUMENT', 'the cluster secret is empty; pass the secret every DataNode of the cluster shares', {})
  }
  return bytes
}

function trimNewlines(bytes: Buffer): Buffer {
  let end = bytes.length
  while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end -= 1
  return bytes.subarray(0, end)
}
