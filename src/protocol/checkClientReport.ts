// A client's report (who it is, its counters: clientStats.ts) from over the network, checked before
// the NameNode keeps it: every field's type, and how much of it there may be. A report is kept until
// the client leaves, so a hostile or broken client must not make the NameNode hold more than a
// bounded amount per session, nor plant keys such as "__proto__" in objects the NameNode spreads.

import { dfsError } from '../errors.js'
import type { ClientReport } from './api.js'
import { LATENCY_BOUNDS_SECONDS, type ClientCounters, type NodeIo, type OpHistogram } from './clientStats.js'

/** FUSE has about 40 ops; room to spare, and no more. */
export const MAX_REPORT_OPS = 64
/** DataNodes one client reports I/O with. */
export const MAX_REPORT_NODES = 1024
const MAX_NODE_ID = 128
const MAX_HOST = 255
const MAX_MOUNTPOINT = 4096
const OP_NAME = /^[a-z][a-z0-9]{0,31}$/

export function checkClientReport(value: unknown): ClientReport {
  const report = object(value, 'a client report')
  return { about: checkAbout(report.about), counters: checkCounters(report.counters) }
}

function checkAbout(value: unknown): ClientReport['about'] {
  const about = object(value, 'about')
  const host = about.host
  const mountpoint = about.mountpoint
  if (typeof host !== 'string' || host.length === 0 || host.length > MAX_HOST) refuse(`about.host must be a host name of 1 to ${MAX_HOST} characters`)
  if (typeof mountpoint !== 'string' || mountpoint.length === 0 || mountpoint.length > MAX_MOUNTPOINT) refuse(`about.mountpoint must be a path of 1 to ${MAX_MOUNTPOINT} characters`)
  return { host, mountpoint, pid: count(about.pid, 'about.pid'), startedAt: count(about.startedAt, 'about.startedAt') }
}

function checkCounters(value: unknown): ClientCounters {
  const counters = object(value, 'counters')
  const ops = object(counters.ops, 'counters.ops')
  const nodes = object(counters.nodes, 'counters.nodes')
  const opNames = Object.keys(ops)
  const nodeIds = Object.keys(nodes)
  if (opNames.length > MAX_REPORT_OPS) refuse(`a client report may name at most ${MAX_REPORT_OPS} ops, not ${opNames.length}`)
  if (nodeIds.length > MAX_REPORT_NODES) refuse(`a client report may name at most ${MAX_REPORT_NODES} nodes, not ${nodeIds.length}`)
  const outOps: Record<string, OpHistogram> = Object.create(null)
  for (const op of opNames) {
    if (!OP_NAME.test(op)) refuse(`"${op.slice(0, 40)}" is not a FUSE op name`)
    outOps[op] = checkHistogram(ops[op], op)
  }
  const outNodes: Record<string, NodeIo> = Object.create(null)
  for (const nodeId of nodeIds) {
    if (nodeId.length === 0 || nodeId.length > MAX_NODE_ID) refuse(`a node id must have 1 to ${MAX_NODE_ID} characters`)
    const io = object(nodes[nodeId], `counters.nodes[${nodeId}]`)
    outNodes[nodeId] = {
      readBytes: count(io.readBytes, 'readBytes'), writeBytes: count(io.writeBytes, 'writeBytes'),
      reads: count(io.reads, 'reads'), writes: count(io.writes, 'writes'),
    }
  }
  return { ops: outOps, nodes: outNodes, failovers: count(counters.failovers, 'counters.failovers') }
}

function checkHistogram(value: unknown, op: string): OpHistogram {
  const h = object(value, `counters.ops.${op}`)
  if (!Array.isArray(h.counts) || h.counts.length !== LATENCY_BOUNDS_SECONDS.length + 1) {
    refuse(`counters.ops.${op}.counts must list ${LATENCY_BOUNDS_SECONDS.length + 1} bucket counts`)
  }
  const sum = h.sum
  if (typeof sum !== 'number' || !Number.isFinite(sum) || sum < 0) refuse(`counters.ops.${op}.sum must be a number of seconds`)
  return { counts: (h.counts as unknown[]).map(c => count(c, `counters.ops.${op}.counts`)), sum, count: count(h.count, `counters.ops.${op}.count`) }
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) refuse(`${what} must be an object`)
  return value as Record<string, unknown>
}

function count(value: unknown, what: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) refuse(`${what} must be a whole number >= 0`)
  return value as number
}

function refuse(message: string): never {
  throw dfsError('PROTOCOL_ERROR', message, {})
}
