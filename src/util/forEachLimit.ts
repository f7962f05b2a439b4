// Run an async function over many items with at most `limit` running at once: enough to keep the disk
// busy, few enough never to run out of file descriptors (EMFILE) on a folder with many chunks.

/**
 * Call fn for every item, `limit` at a time. On the first failure no new calls start; the ones
 * already running finish (so no file is left open behind our back), then the first error is thrown.
 */
export async function forEachLimit<T>(items: Iterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const iterator = items[Symbol.iterator]()
  let failed = false
  let firstError: unknown
  const worker = async (): Promise<void> => {
    while (!failed) {
      const next = iterator.next()
      if (next.done) return
      try {
        await fn(next.value)
      } catch (err) {
        if (!failed) firstError = err
        failed = true
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker))
  if (failed) throw firstError
}
