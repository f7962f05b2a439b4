// Comparing folders the user named: two spellings (a symlink, `a/../b`) of one folder are one folder,
// and a folder that does not exist yet is compared where it would be created.

import { realpath } from 'node:fs/promises'
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path'
import { isNotFound } from './osError.js'

/** The path with every symlink in its existing part resolved; the missing rest is kept as written. */
export async function canonicalPath(path: string): Promise<string> {
  const abs = resolve(path)
  try {
    return await realpath(abs)
  } catch (err) {
    const parent = dirname(abs)
    if (!isNotFound(err) || parent === abs) return abs
    return join(await canonicalPath(parent), basename(abs))
  }
}

/** How two canonical paths relate: the same folder, one inside the other, or apart. */
export function relation(a: string, b: string): 'same' | 'inside' | 'contains' | 'apart' {
  if (a === b) return 'same'
  if (isWithin(a, b)) return 'inside'
  if (isWithin(b, a)) return 'contains'
  return 'apart'
}

function isWithin(child: string, parent: string): boolean {
  const rel = relative(parent, child)
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel)
}
