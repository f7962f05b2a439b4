// libfuse 2's hidden files, undone at the FUSE edge so the core sees POSIX.
//
// libfuse 2 does not pass on the unlink of an open file (or a rename over one). It renames the file
// to `.fuse_hidden<16 hex>` in the same folder, so that it can still name it, and unlinks that name at
// the last close; meanwhile the hidden name would show in listings and keep the folder from being
// removed (ENOTEMPTY). (Its hard_remove option would break fstat instead.) On a local disk the name
// is gone at once and the file lives on, nameless, until closed. So that rename is taken as the
// unlink it stands for, and libfuse reaches the file under the hidden name only, as a detached name
// (FileSystem's DetachedNames): the namespace holds no such entry, fstat shows nlink 0, the folder
// may be removed. Only libfuse renames an open regular file to a free name of that form.
//
// The core knows nothing of this: it offers detached names, `locate`, `isOpen` and `restoreTimes`;
// this file decides what libfuse's calls mean. fuseOperations sends getattr, unlink and rename here.

import { posix } from 'node:path'
import type { DetachedNames, FileSystem } from '../fs/FileSystem.js'
import type { Stat } from '../fs/stat.js'

/** The name libfuse 2 gives an open file it was asked to unlink or rename over: ".fuse_hidden%08x%08x" (libfuse 2.9). */
export const FUSE_HIDDEN = /^\.fuse_hidden[0-9a-f]{16}$/

const S_IFMT = 0o170000
const S_IFREG = 0o100000

interface Hide {
  parent: number
  name: string
  ino: number
  inodeCtime: number
  dirMtime: number
  dirCtime: number
}

/** The three operations libfuse's hiding goes through, in front of a FileSystem. */
export class LibfuseHiddenFiles implements DetachedNames {
  /** Open files libfuse hid: `${folder ino}/${hidden name}` -> inode. */
  readonly #hidden = new Map<string, number>()
  /** The last hide: where the name was and what it changed, in case it must be undone (see #unhide). */
  #lastHide?: Hide

  constructor(private readonly fs: FileSystem) {
    fs.useDetachedNames(this)
  }

  lookup(parent: number, name: string): number | undefined {
    return this.#hidden.get(`${parent}/${name}`)
  }

  forget(ino: number): void {
    for (const [key, hidden] of this.#hidden) if (hidden === ino) this.#hidden.delete(key)
  }

  /** Hidden names currently held (for tests and logs). */
  get size(): number {
    return this.#hidden.size
  }

  async getattr(path: string) {
    return (await this.getattrCommitted(path)).stat
  }

  /** getattr, and whether the answer follows from the committed namespace alone (FileSystem.getattrCommitted). */
  getattrCommitted(path: string): Promise<{ stat: Stat; committed: boolean }> {
    // A lookup between a hide and a rename means they came from separate calls (see #unhide).
    this.#lastHide = undefined
    const answer = this.fs.getattrCommitted(path)
    // The kernel asks several times per file created: only a hidden name costs an await.
    if (!this.#isHidden(path)) return answer
    // libfuse takes one off the nlink it reports for a file it hid, counting the hidden name as a
    // link; here it is none, so one is added for libfuse to take off again. (A hidden name is not
    // the namespace's: its answer is never remembered.)
    return answer.then(({ stat }) => ({ stat: { ...stat, nlink: stat.nlink + 1 }, committed: false }))
  }

  async unlink(path: string): Promise<void> {
    // libfuse removing a hidden file's name at its last close: the name was gone already.
    if (FUSE_HIDDEN.test(posix.basename(path))) {
      const at = this.fs.locate(path)
      if (at && this.#hidden.delete(`${at.parent}/${at.name}`)) return
    }
    return this.fs.unlink(path)
  }

  async rename(from: string, to: string): Promise<void> {
    if ((await this.#hide(from, to)) || (await this.#unhide(from, to))) return
    return this.fs.rename(from, to)
  }

  #isHidden(path: string): boolean {
    if (!FUSE_HIDDEN.test(posix.basename(path))) return false
    const at = this.fs.locate(path)
    return at !== undefined && at.ino === undefined && this.#hidden.has(`${at.parent}/${at.name}`)
  }

  /** libfuse hiding an open file: the rename is the unlink it stands for; the hidden name stays reachable. */
  async #hide(from: string, to: string): Promise<boolean> {
    if (!FUSE_HIDDEN.test(posix.basename(to))) return false
    const source = this.fs.locate(from)
    const target = this.fs.locate(to)
    if (!source || !target || target.ino !== undefined || source.ino === undefined) return false
    const ino = source.ino
    const stat = await this.fs.getattr(from)
    if ((stat.mode & S_IFMT) !== S_IFREG || !this.fs.isOpen(ino)) return false
    const dir = await this.fs.getattr(posix.dirname(from))
    await this.fs.unlink(from) // open, so the core keeps it until its last close
    this.#hidden.set(`${target.parent}/${target.name}`, ino)
    this.#lastHide = { parent: source.parent, name: source.name, ino, inodeCtime: stat.ctime, dirMtime: dir.mtime, dirCtime: dir.ctime }
    return true
  }

  /**
   * rename(a, b) where b is another name of a's file does nothing on Linux. libfuse, when b is open,
   * first hides b (above), then renames a to the name b had. Seen right after that hide, the rename
   * puts the hidden name back as it was (times too) and leaves a where it is: nothing happened.
   * "Right after": libfuse asks nothing in between, while a program's own unlink(b) then rename(a, b)
   * makes the kernel look b up first (getattr clears #lastHide), so that rename is done as asked.
   */
  async #unhide(from: string, to: string): Promise<boolean> {
    const hide = this.#lastHide
    if (!hide) return false
    const source = this.fs.locate(from)
    const target = this.fs.locate(to)
    if (!source || !target || hide.parent !== target.parent || hide.name !== target.name) return false
    if (source.ino !== hide.ino || target.ino !== undefined) return false
    this.#lastHide = undefined
    await this.fs.link(from, to)
    await this.fs.restoreTimes(to, { ctime: hide.inodeCtime })
    await this.fs.restoreTimes(posix.dirname(to), { mtime: hide.dirMtime, ctime: hide.dirCtime })
    return true
  }
}
