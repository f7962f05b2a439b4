// A record from a client over the network is checked field by field before it reaches apply: apply
// trusts the types of what it is given (the in-process mount builds records itself), and whatever it
// accepts is journaled and replayed forever.

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

function isRef(v: unknown): boolean {
  const ref = v as Record<string, unknown> | null
  return typeof ref === 'object' && ref !== null && typeof ref.id === 'string' && /^[0-9a-f]{32}$/.test(ref.id)
    && Number.isSafeInteger(ref.len) && typeof ref.sha256 === 'string' && /^[0-9a-f]{64}$/.test(ref.sha256)
    && Array.isArray(ref.nodes) && ref.nodes.every(n => typeof n === 'string') && Object.keys(ref).length === 4
}
