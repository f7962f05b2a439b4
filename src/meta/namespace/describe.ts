// Journal records in the user's words, for `dfs fsck --meta` to say what a damaged journal's
// records did: "create file /docs/a.txt", "write /docs/a.txt chunk 3". Records name inodes by
// number; this keeps a name for every inode (built once from the state, then followed through the
// records it is shown), so paths come out as they were when each record was written.

import type { RecordDescriber } from '../inspect.js'
import type { NamespaceRecord } from './records.js'
import { type NamespaceState, ROOT_INO, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from './types.js'

interface Name {
  parent: number
  name: string
}

export function namespaceDescriber(): RecordDescriber<NamespaceState, NamespaceRecord> {
  let names: Map<number, Name> | undefined
  let pending: { ino: number; name: Name } | undefined // what the record being described will name

  const index = (state: NamespaceState): Map<number, Name> => {
    if (names) return names
    names = new Map()
    for (const [parent, entries] of state.children) {
      for (const [name, ino] of entries) if (!names.has(ino)) names.set(ino, { parent, name })
    }
    return names
  }
  const pathOf = (state: NamespaceState, ino: number): string => {
    if (ino === ROOT_INO) return '/'
    const parts: string[] = []
    const seen = new Set<number>()
    for (let at = ino; at !== ROOT_INO; ) {
      const entry = index(state).get(at)
      if (!entry || seen.has(at)) return parts.length === 0 ? `inode ${ino}` : `(inode ${at})/${parts.join('/')}`
      seen.add(at)
      parts.unshift(entry.name)
      at = entry.parent
    }
    return `/${parts.join('/')}`
  }
  // A parent whose name is not known shows as "(inode 22)/f1", like a path cut short above it.
  const child = (state: NamespaceState, parent: number, name: string) => {
    if (parent === ROOT_INO) return `/${name}`
    const dir = pathOf(state, parent)
    return `${dir.startsWith('inode') ? `(${dir})` : dir}/${name}`
  }

  const describeRecord = (state: NamespaceState, rec: NamespaceRecord): { what: string; paths: string[] } => {
    switch (rec.op) {
      case 'mknod': {
        const path = child(state, rec.parent, rec.name)
        pending = { ino: state.nextIno, name: { parent: rec.parent, name: rec.name } }
        return { what: `create ${kindOf(rec.mode)} ${path}`, paths: [path] }
      }
      case 'link': {
        const from = pathOf(state, rec.ino)
        const to = child(state, rec.parent, rec.name)
        return { what: `hard-link ${from} as ${to}`, paths: [from, to] }
      }
      case 'unlink': {
        const path = child(state, rec.parent, rec.name)
        return { what: `${rec.dir ? 'remove directory' : 'remove'} ${path}`, paths: [path] }
      }
      case 'rename': {
        const from = child(state, rec.parent, rec.name)
        const to = child(state, rec.newParent, rec.newName)
        const moved = state.children.get(rec.parent)?.get(rec.name)
        if (moved !== undefined) pending = { ino: moved, name: { parent: rec.newParent, name: rec.newName } }
        return { what: `rename ${from} to ${to}`, paths: [from, to] }
      }
      case 'forget': {
        const path = pathOf(state, rec.ino)
        return { what: `drop ${path.startsWith('inode') ? path : `inode ${rec.ino} (last named ${path})`}`, paths: path.startsWith('inode') ? [] : [path] }
      }
      case 'setattr': {
        const path = pathOf(state, rec.ino)
        const fields = (['mode', 'uid', 'gid', 'atime', 'mtime'] as const).filter((f) => rec[f] !== undefined)
        return { what: `change ${fields.length ? fields.join(', ') : 'ctime'} of ${path}`, paths: [path] }
      }
      case 'chunk': {
        const path = pathOf(state, rec.ino)
        return { what: `write ${path} chunk ${rec.index} (file size ${rec.size})`, paths: [path] }
      }
      case 'truncate': {
        const path = pathOf(state, rec.ino)
        return { what: `truncate ${path} to ${rec.size} bytes`, paths: [path] }
      }
      case 'replicas': {
        const path = pathOf(state, rec.ino)
        return { what: `record where ${path} chunk ${rec.index} is stored`, paths: [path] }
      }
      case 'xattr': {
        const path = pathOf(state, rec.ino)
        return { what: `${rec.value === null ? 'remove' : 'set'} extended attribute ${rec.name} of ${path}`, paths: [path] }
      }
      default:
        return { what: `${(rec as { op: string }).op} (an operation this dfs does not know)`, paths: [] }
    }
  }

  return {
    describe(state, rec) {
      pending = undefined
      // A damaged record read as far as it goes may lack a field (it would read "remove /undefined"):
      // throwing makes inspect.ts say which operation it was and that fields are missing.
      const missing = (FIELDS[rec.op] ?? []).filter((f) => typeof (rec as unknown as Record<string, unknown>)[f] !== (NAME_FIELDS.has(f) ? 'string' : 'number'))
      if (missing.length) throw new Error(`${rec.op} without ${missing.join(', ')}`)
      const described = describeRecord(state, rec)
      // Only whole paths are listed for the user to look at, not "(inode 22)/f1".
      return { what: described.what, paths: described.paths.filter((p) => p.startsWith('/')) }
    },
    applied(state) {
      if (pending && state.inodes.has(pending.ino)) index(state).set(pending.ino, pending.name)
      pending = undefined
    },
  }
}

/** The fields each operation needs to be described. */
const FIELDS: Record<string, string[]> = {
  mknod: ['parent', 'name', 'mode'],
  link: ['parent', 'name', 'ino'],
  unlink: ['parent', 'name'],
  rename: ['parent', 'name', 'newParent', 'newName'],
  forget: ['ino'],
  setattr: ['ino'],
  chunk: ['ino', 'index', 'size'],
  truncate: ['ino', 'size'],
  replicas: ['ino', 'index'],
  xattr: ['ino', 'name'],
}
const NAME_FIELDS = new Set(['name', 'newName'])

function kindOf(mode: number): string {
  switch (mode & S_IFMT) {
    case S_IFREG: return 'file'
    case S_IFDIR: return 'directory'
    case S_IFLNK: return 'symlink'
    default: return 'special file'
  }
}
