// The cluster secret: any bytes, shared by every DataNode server and the daemons that use them, kept
// in a file (--secret-file). A trailing newline is not part of it, so `echo`ed and generated files
// (head -c 32 /dev/urandom | base64 > secret) both work.

import { readFile } from 'node:fs/promises'
import { dfsError } from '../../errors.js'
import { errnoOf } from '../../util/osError.js'

const MAKE_ONE = 'create one with: head -c 32 /dev/urandom | base64 > <file>'

/** The secret in a file; BAD_ARGUMENT (naming the flag) when it cannot be read or is empty. */
export async function readSecretFile(path: string, flag = '--secret-file'): Promise<Buffer> {
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (err) {
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
