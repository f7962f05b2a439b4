// `dfs fsck --namenode tcp://…`: the check run by the NameNode itself, against its live namespace and
// nodes (src/cluster/fsck.ts with `live`). Like balance and drain, it is a job the command starts and
// then follows (`fsck-status`), so the command shows the same progress bar as the offline check; one
// check runs at a time, and a second command joins the one running.
//
// Read-only. `--repair` is refused online: the NameNode's healer already restores copies and replaces
// bad ones as it finds them, and removing every unreferenced chunk file at once, as the offline repair
// does, would delete the chunks clients are writing right now (the orphan collection waits
// --orphan-grace for exactly that reason).

import { randomUUID } from 'node:crypto'
import { fsck, type FsckProgress, type FsckReport } from '../cluster/fsck.js'
import type { Cluster } from '../cluster/openCluster.js'
import { dfsError } from '../errors.js'

export interface FsckJob {
  id: string
  state: 'running' | 'done' | 'failed'
  startedAt: number
  progress: FsckProgress
  /** Once done: the report, without the chunk refs (the command prints paths, chunk ids and nodes). */
  report?: FsckReport
  error?: string
}

export const ONLINE_REPAIR_REFUSED =
  'dfs fsck --namenode does not repair online: the NameNode\'s healer already restores missing copies and replaces bad ones ' +
  '(dfs status --namenode … shows it), and its orphan collection removes unreferenced chunks after --orphan-grace, ' +
  'where an immediate removal would delete chunks clients are still writing. To repair offline: stop the NameNode, ' +
  'then dfs fsck --meta <dir> --repair'

export class OnlineFsck {
  private job: FsckJob | undefined

  constructor(private readonly cluster: Cluster, private readonly log: (message: string) => void) {}

  /** Start a check, or join the one running. */
  start(args: Record<string, unknown>): FsckJob {
    if (args.repair === true) throw dfsError('BAD_ARGUMENT', ONLINE_REPAIR_REFUSED, { repair: true })
    if (this.job?.state === 'running') return this.job
    const job: FsckJob = { id: randomUUID(), state: 'running', startedAt: Date.now(), progress: { checkedChunks: 0, chunks: 0, checkedBytes: 0, bytes: 0 } }
    this.job = job
    this.log(`fsck: online check ${job.id} started`)
    fsck(this.cluster, { repair: false, live: true, onProgress: p => { job.progress = p } }).then(
      report => {
        job.report = withoutRefs(report)
        job.state = 'done'
        this.log(`fsck: online check ${job.id} done: ${report.lost.length} lost, ${report.underReplicated.length} under-replicated, ` +
          `${report.badReplicas.length} with bad copies, ${report.orphans.length} orphans`)
      },
      err => {
        job.error = (err as Error).message
        job.state = 'failed'
        this.log(`fsck: online check ${job.id} failed: ${job.error}`)
      },
    )
    return job
  }

  /** The job by id (the last one only is kept): null when this NameNode does not know it. */
  status(args: Record<string, unknown>): FsckJob | null {
    return this.job && this.job.id === args.id ? this.job : null
  }
}

/** Chunk refs are what the repair works from; over the wire they only weigh. */
function withoutRefs(report: FsckReport): FsckReport {
  const strip = (list: FsckReport['lost']) => list.map(({ ref: _ref, ...rest }) => rest as FsckReport['lost'][number])
  return { ...report, lost: strip(report.lost), underReplicated: strip(report.underReplicated), badReplicas: strip(report.badReplicas) }
}
