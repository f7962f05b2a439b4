// A record from a client over the network is checked field by field before it reaches apply: apply
// trusts the types of what it is given (the in-process mount builds records itself), and whatever it
// accepts is journaled and replayed forever.

import { MAX_COPIES, MAX_K, MAX_M, shardLength } from '../chunks/layout.js'
import { dfsError } from '../errors.js'
import type { ClientRecord } from './api.js'
import { CLIENT_OPS } from './api.js'

type Kind = 'int' | 'str' | 'bool' | 'ref' | 'strOrNull' | 'refOrNull'
const FIELDS: Record<ClientRecord['op'], Record<string, Kind | `${Kind}?`>> = {
  mknod: { parent: 'int', name: 'str', mode: 'int', uid: 'int', gid: 'int', rdev: 'int?', target: 'str?', time: 'int' },
  link: { parent: 'int', name: 'str', ino: 'int', time: 'int' },
  unlink: { parent: 'int', name: 'str', dir: 'bool', time: 'int' },
  rename: { parent: 'int', name: 'str', newParent: 'int', newName: 'str', time: 'int' },
  setattr: { ino: 'int', mode: 'int?', uid: 'int?', gid: 'int?', atime: 'int?', mtime: 'int?', ctime: 'int' },
  chunk: { ino: 'int', index: 'int', ref: 'refOrNull', size: 'int', mtime: 'int', ctime: 'int', base: 'strOrNull?', grow: 'bool?' },
  truncate: { ino: 'int', size: 'int', keep: 'int', mtime: 'int', ctime: 'int', grow: 'bool?', base: 'strOrNull?' },
  xattr: { ino: 'int', name: 'str', value: 'strOrNull', flags: 'int', time: 'int' },
}

export function checkClientRecord(value: unknown): ClientRecord {
  const record = value as Record<string, unknown> | null
  if (typeof record !== 'object' || record === null || !CLIENT_OPS.has(record.op as string)) {
    throw dfsError('PROTOCOL_ERROR', `a client cannot commit a "${String(record?.op)}" record`, {})
  }
  const fields = FIELDS[record.op as ClientRecord['op']]
  for (const key of Object.keys(record)) {
    if (key !== 'op' && !(key in fields)) throw dfsError('PROTOCOL_ERROR', `a ${record.op} record has no field "${key}"`, {})
  }
  for (const [key, spec] of Object.entries(fields)) {
    const optional = spec.endsWith('?')
    const kind = spec.replace('?', '') as Kind
    const v = record[key]
    if (v === undefined && optional) continue
    if (!fits(kind, v)) throw dfsError('PROTOCOL_ERROR', `field "${key}" of a ${record.op} record is not a ${kind}`, {})
  }
  return record as unknown as ClientRecord
}

function fits(kind: Kind, v: unknown): boolean {
  switch (kind) {
    case 'int': return Number.isSafeInteger(v)
    case 'str': return typeof v === 'string'
    case 'bool': return typeof v === 'boolean'
    case 'strOrNull': return v === null || typeof v === 'string'
    case 'refOrNull': return v === null || isRef(v)
    case 'ref': return isRef(v)
  }
}

/**
 * A chunk ref as a client may commit it: replicated (id, len, sha256, nodes; `copies` when its
 * directory's policy says so), or erasure-coded (`ec`: k and m within the codec's limits, k + m
 * shards of shardLength(len, k) bytes each, each on at most one node, no two on the same node, and
 * no copies of the chunk itself). Whatever passes here is what every service walks (layout.ts).
 */
function isRef(v: unknown): boolean {
  const ref = v as Record<string, unknown> | null
  if (!isPlainRef(ref, ['copies', 'ec'])) return false
  if (ref.copies !== undefined && (ref.ec !== undefined || !isCount(ref.copies, 1, MAX_COPIES))) return false
  return ref.ec === undefined || isStripe(ref.ec, ref.len as number, ref.nodes as unknown[])
}

/** id, len, sha256 and nodes well formed; no keys but those and `optional`. */
function isPlainRef(ref: Record<string, unknown> | null, optional: readonly string[]): ref is Record<string, unknown> {
  return typeof ref === 'object' && ref !== null && typeof ref.id === 'string' && /^[0-9a-f]{32}$/.test(ref.id)
    && Number.isSafeInteger(ref.len) && (ref.len as number) >= 0 && typeof ref.sha256 === 'string' && /^[0-9a-f]{64}$/.test(ref.sha256)
    && Array.isArray(ref.nodes) && ref.nodes.every(n => typeof n === 'string')
    && Object.keys(ref).every(key => BASE_KEYS.includes(key) || (optional.includes(key) && ref[key] !== undefined))
}

const BASE_KEYS = ['id', 'len', 'sha256', 'nodes']

function isCount(v: unknown, min: number, max: number): boolean {
  return Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max
}

function isStripe(v: unknown, len: number, nodes: readonly unknown[]): boolean {
  const ec = v as Record<string, unknown> | null
  if (typeof ec !== 'object' || ec === null || nodes.length !== 0) return false
  if (Object.keys(ec).some(key => key !== 'k' && key !== 'm' && key !== 'shards')) return false
  if (!isCount(ec.k, 1, MAX_K) || !isCount(ec.m, 1, MAX_M)) return false
  const k = ec.k as number
  const shards = ec.shards
  if (!Array.isArray(shards) || shards.length !== k + (ec.m as number)) return false
  const shardLen = shardLength(len, k)
  const ids = new Set<string>()
  const holders = new Set<string>()
  for (const shard of shards as (Record<string, unknown> | null)[]) {
    if (!isPlainRef(shard, []) || shard.len !== shardLen) return false
    const shardNodes = shard.nodes as string[]
    if (shardNodes.length > 1 || ids.has(shard.id as string)) return false
    ids.add(shard.id as string)
    for (const nodeId of shardNodes) {
      if (holders.has(nodeId)) return false // two shards of one stripe on one node: one loss costs both
      holders.add(nodeId)
    }
  }
  return true
}
