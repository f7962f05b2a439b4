import { open } from 'node:fs/promises'

/**
 * fsync a file or a folder by path. A folder's fsync is what makes a rename or a new file name in it
 * durable; Linux allows fsync on a descriptor opened read-only, for files and folders alike.
 */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
