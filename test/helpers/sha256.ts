import { createHash } from 'node:crypto'

/** The SHA-256 (lowercase hex) a put of these bytes carries. */
export function sha256Of(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}
