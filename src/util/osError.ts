// Small helpers for Node's system errors (they carry the errno name in `code`).

/** The errno name (ENOENT, ENOSPC, ...) of a Node system error, if it is one. */
export function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** errnos that mean "no room": a full disk, or a full quota. */
export function isNoSpace(err: unknown): boolean {
  const code = errnoOf(err)
  return code === 'ENOSPC' || code === 'EDQUOT'
}

/** errnos that mean a path (or one of its parent folders) is not there. */
export function isNotFound(err: unknown): boolean {
  const code = errnoOf(err)
  return code === 'ENOENT' || code === 'ENOTDIR'
}
