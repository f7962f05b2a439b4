// Test fixtures for the metadata store: a toy key/value StateMachine (it validates before it
// mutates, like the namespace does) and temp folders that clean themselves up.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { onTestFinished } from 'vitest'
import { dfsError } from '../../src/errors.js'
import { MetaStore, type MetaStoreOptions } from '../../src/meta/MetaStore.js'
import type { StateMachine } from '../../src/meta/StateMachine.js'

export type KvState = Map<string, string | number>
export type KvRecord =
  | { op: 'set'; key: string; value: string | number }
  | { op: 'del'; key: string }
  | { op: 'incr'; key: string; by: number }

export const kv: StateMachine<KvState, KvRecord, string | number | undefined> = {
  empty: () => new Map(),

  apply(state, record) {
    switch (record.op) {
      case 'set':
        state.set(record.key, record.value)
        return record.value
      case 'del':
        if (!state.has(record.key)) throw dfsError('ENOENT', `no key ${record.key}`, { key: record.key })
        state.delete(record.key)
        return undefined
      case 'incr': {
        const value = state.get(record.key) ?? 0
        if (typeof value !== 'number') throw dfsError('EINVAL', `key ${record.key} is not a number`, { key: record.key })
        state.set(record.key, value + record.by)
        return value + record.by
      }
      default:
        throw dfsError('EINVAL', `unknown op ${(record as { op: string }).op}`)
    }
  },

  // A copy of the entries now; the store serialises it later while the map keeps changing.
  snapshot: (state) => [...state],

  restore: (pieces) => new Map(pieces as Iterable<[string, string | number]>),
}

export type KvStore = MetaStore<KvState, KvRecord, string | number | undefined>

/** A fresh temp folder, removed when the test finishes. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dfs-meta-test-'))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** Open a kv store (creating it unless options say otherwise); closed when the test finishes. */
export async function openKv(dir: string, options: MetaStoreOptions = { create: { settings: { replicas: 2 } } }): Promise<KvStore> {
  const store = await MetaStore.open(dir, kv, options)
  onTestFinished(() => store.close().catch(() => {}))
  return store
}

/** Commit `set k<i> = <i>` for i in [from, to]. */
export function setRange(store: KvStore, from: number, to: number): void {
  for (let i = from; i <= to; i++) store.commit({ op: 'set', key: `k${i}`, value: i })
}
