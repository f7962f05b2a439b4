// One vocabulary of error codes for all of dfs. Every error a user or the kernel can see is a
// DfsError with one of these codes and the context that explains it (path, node, chunk, file).
// POSIX-named codes are file system semantics and map to the errno of the same name at the FUSE
// edge; dfs-specific codes describe cluster and storage failures and say which errno they become.
// Every code is documented in docs/errors.md (a test keeps the two in step), and every code is raised
// somewhere in src/ or reserved with a reason (test/errorsRaised.test.ts).

export const POSIX_CODES = [
  'EPERM', 'ENOENT', 'EIO', 'EBADF', 'EACCES', 'EEXIST', 'EXDEV', 'ENOTDIR', 'EISDIR', 'EINVAL',
  'ENOSPC', 'EROFS', 'ERANGE', 'ENAMETOOLONG', 'ENOTEMPTY', 'ELOOP', 'ENODATA',
  'ENOTSUP', 'E2BIG', 'ETIMEDOUT',
] as const
export type PosixCode = (typeof POSIX_CODES)[number]

/** dfs-specific codes and the errno each one becomes when it reaches a file system caller. */
export const DFS_CODES = {
  // storage
  CHUNK_MISSING: 'EIO', // a replica does not have the chunk file
  CHUNK_CORRUPT: 'EIO', // a replica's bytes do not match the recorded SHA-256
  CHUNK_UNREADABLE: 'EIO', // no replica of a chunk could be read intact
  CHUNK_ID_INVALID: 'EINVAL', // a chunk id that is not 32 lowercase hex digits
  CHUNK_HASH_MISMATCH: 'EIO', // a put whose bytes do not match the SHA-256 it carries (refused)
  NODE_UNAVAILABLE: 'EIO', // a DataNode's folder or server cannot be reached
  NODE_FULL: 'ENOSPC', // a DataNode has no room for a chunk
  NO_NODES: 'EIO', // no live DataNode to write to
  // metadata
  JOURNAL_CORRUPT: 'EIO', // a journal record in the middle fails its checksum
  CHECKPOINT_CORRUPT: 'EIO',
  FORMAT_CORRUPT: 'EIO', // format.json damaged or missing while its copy is intact
  META_LOCKED: 'EIO', // another daemon holds the metadata folder
  NODE_LOCKED: 'EIO', // another process serves or mounts this node folder
  META_FOREIGN: 'EIO', // a metadata or node folder that belongs to another cluster
  META_TOO_NEW: 'EIO', // a metadata format newer than this dfs understands
  EPOCH_BEHIND: 'EIO', // a metadata folder behind the cluster's NameNode epoch (a copy or a restored backup)
  EPOCH_HELD: 'EIO', // a DataNode held by another running NameNode (its metadata folder copied)
  FENCED: 'EIO', // a delete from a process that does not hold the node's current NameNode epoch
  // user input
  BAD_ARGUMENT: 'EINVAL', // a malformed flag value (size, address, number)
  SETTING_CONFLICT: 'EINVAL', // a flag that contradicts the cluster's recorded settings
  MOUNTPOINT_INVALID: 'EINVAL', // missing, not a directory, not empty, already mounted
  NODE_FOLDER_INVALID: 'EINVAL', // missing, not writable, not a dfs node folder
  NOT_ENOUGH_NODES: 'EINVAL', // fewer nodes than --replicas
  NOT_MOUNTED: 'EINVAL',
  ALREADY_RUNNING: 'EINVAL', // a dfs balance or drain was asked for while one runs
  FOLDERS_OVERLAP: 'EINVAL', // a node folder, the metadata folder and the mount point not apart
  NODE_ID_DUPLICATE: 'EINVAL', // two nodes with one node id (a copied node folder)
  SECRET_FILE_UNSAFE: 'EACCES', // a secret file that group or others may read or write
  // mount lifecycle
  MOUNT_BUSY: 'EINVAL', // dfs unmount while processes have files open (or their cwd) in the mount
  DAEMON_NOT_ANSWERING: 'EIO', // the daemon serving a mount is stopped or hung
  NOT_RUNNING: 'EINVAL', // dfs balance/drain --cancel with no such job running, drain --undo of a node not drained
  DAEMON_NOT_LISTED: 'EINVAL', // dfs unmount of a live mount whose daemon the caller's runtime folder does not list
  JOB_CANCELLED: 'EIO', // the dfs balance/drain being followed was cancelled (dfs balance/drain --cancel); exit status 3
  UNSTORED_DROPPED: 'EIO', // the daemon stopped with written bytes it could not store (no node took them, or the NameNode did not take their commit); they were dropped
  METADATA_UNSYNCED: 'EIO', // the daemon stopped without making the namespace durable (the journal or the NameNode's sync failed)
  // NameNode and clients
  CREATE_AHEAD_REFUSED: 'EIO', // the NameNode did not take a create its client had answered ahead (the client's copy had fallen behind)
  NAMENODE_UNAVAILABLE: 'EIO', // a client waited for its NameNode longer than it may (or was refused by it)
  PROTOCOL_ERROR: 'EIO', // a peer sent a message the NameNode protocol does not allow
  CHUNK_CONFLICT: 'EIO', // a chunk commit whose base version another client replaced meanwhile (the writer rebases and retries)
  STANDBY_TAKEN: 'EIO', // a second standby asked to follow a NameNode that has one
  // dump, load, backups
  DUMP_INVALID: 'EINVAL', // dfs meta load (or a backup fsck falls back on) given something that is not a whole, unedited namespace dump
  DUMP_TARGET_NOT_EMPTY: 'EINVAL', // dfs meta load into a folder that is not missing or empty
  NOT_PRIMARY: 'EIO', // a NameNode that is not the cluster's primary (a standby, one a newer NameNode superseded) refused a client: it tries its next address
  // standby and failover
  STANDBY_FOLDER: 'EINVAL', // a standby's metadata folder opened for writing other than by dfs namenode --promote
  SUPERSEDED: 'EROFS', // a NameNode whose DataNodes were claimed by a newer one (a promoted standby): it stops serving changes
  // storage policies (erasure coding)
  POLICY_INVALID: 'EINVAL', // a storage policy that is not replicas:<R> or ec:<k>+<m> within the limits
  POLICY_TOO_WIDE: 'EINVAL', // a storage policy that needs more DataNodes than the cluster has
  // dashboard
  HTTP_NOT_LOOPBACK: 'EINVAL', // --http on an address other than loopback without --http-token-file (refused before anything is opened)
} as const satisfies Record<string, PosixCode>
export type DfsCode = keyof typeof DFS_CODES

export type ErrorCode = PosixCode | DfsCode

export class DfsError extends Error {
  readonly code: ErrorCode
  readonly context: Record<string, unknown>

  constructor(code: ErrorCode, message: string, context: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'DfsError'
    this.code = code
    this.context = context
  }
}

const POSIX_SET: ReadonlySet<string> = new Set(POSIX_CODES)

/**
 * Create a DfsError: `dfsError('ENOENT', 'no such file', { path })`. POSIX-coded errors are ordinary
 * answers to the kernel (a lookup of a name that is not there is the commonest FUSE reply), so they
 * skip the stack trace, which costs more than the rest of such a request.
 */
export function dfsError(code: ErrorCode, message: string, context: Record<string, unknown> = {}, cause?: unknown): DfsError {
  const options = cause === undefined ? undefined : { cause }
  if (!POSIX_SET.has(code)) return new DfsError(code, message, context, options)
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return new DfsError(code, message, context, options)
  } finally {
    Error.stackTraceLimit = limit
  }
}

export function isDfsError(err: unknown, code?: ErrorCode): err is DfsError {
  return err instanceof DfsError && (code === undefined || err.code === code)
}

/** The POSIX errno name an error becomes at a file system edge. Unknown errors are EIO. */
export function posixCodeOf(err: unknown): PosixCode {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code !== 'string') return 'EIO'
  if ((POSIX_CODES as readonly string[]).includes(code)) return code as PosixCode
  if (Object.hasOwn(DFS_CODES, code)) return DFS_CODES[code as DfsCode]
  return 'EIO'
}
