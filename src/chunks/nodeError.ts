// What went wrong on one node, in the shape the chunk layer reports it.

import { DfsError, dfsError, type ErrorCode } from '../errors.js'
import type { DataNode } from '../datanode/DataNode.js'

/** One failed attempt on one node: listed in CHUNK_UNREADABLE / NO_NODES context and in logs. */
export interface NodeAttempt {
  nodeId: string
  address?: string
  code: ErrorCode
  reason: string
}

/**
 * A transport's failure as a DfsError. Transports throw DfsErrors; anything else (a bug, an
 * unexpected exception) is treated as the node being unavailable rather than crashing the caller.
 */
export function asNodeError(err: unknown, node: DataNode | undefined, nodeId: string, op: string): DfsError {
  if (err instanceof DfsError) return err
  const address = node?.address ?? nodeId
  const message = err instanceof Error ? err.message : String(err)
  return dfsError('NODE_UNAVAILABLE', `node ${address}: ${op} failed: ${message}`, { node: address, nodeId }, err)
}

export function notRegistered(nodeId: string): DfsError {
  return dfsError('NODE_UNAVAILABLE', `node ${nodeId} is not registered with this daemon`, { nodeId })
}

export function attemptOf(nodeId: string, node: DataNode | undefined, err: DfsError): NodeAttempt {
  return { nodeId, address: node?.address, code: err.code, reason: err.message }
}
