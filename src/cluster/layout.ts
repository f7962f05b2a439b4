// The folders a cluster is opened with must be apart: node folders, the metadata folder and the
// mount point, none the same as another or inside another. A node folder that is the mount point
// is hidden by the mount it serves; the metadata folder used as a node folder gets chunk folders
// beside its journal; a node folder inside another is counted as its chunks' orphans. Checked
// before anything is written, on canonical paths (a symlink is the folder it points to).

import { resolve } from 'node:path'
import { dfsError } from '../errors.js'
import { canonicalPath, relation } from '../util/paths.js'

export interface ClusterFolders {
  /** Node folders (absolute paths; tcp:// servers are not folders here). */
  nodes: string[]
  meta: string
  mountpoint?: string
}

interface Named {
  what: string
  path: string
  canonical: string
}

export async function checkFoldersApart(folders: ClusterFolders): Promise<void> {
  const named: Named[] = []
  const add = async (what: string, path: string) => named.push({ what, path: resolve(path), canonical: await canonicalPath(path) })
  if (folders.mountpoint !== undefined) await add('the mount point', folders.mountpoint)
  await add('the metadata folder', folders.meta)
  for (const node of folders.nodes) await add('node folder', node)

  // Node folders first in each message: they are what the user most likely mistyped.
  for (let i = named.length - 1; i >= 0; i--) {
    for (let j = 0; j < i; j++) {
      const [a, b] = [named[i], named[j]]
      const how = relation(a.canonical, b.canonical)
      if (how === 'apart') continue
      const verb = how === 'same' ? 'is' : how === 'inside' ? 'is inside' : 'contains'
      throw dfsError('FOLDERS_OVERLAP',
        `${a.what} ${a.path} ${verb} ${b.what} ${b.path}; ` +
        'give every node folder, the metadata folder and the mount point a folder of its own, none inside another',
        { [key(a.what)]: a.path, [key(b.what) === key(a.what) ? 'other' : key(b.what)]: b.path })
    }
  }
}

const key = (what: string) => (what === 'node folder' ? 'node' : what === 'the metadata folder' ? 'meta' : 'mountpoint')
