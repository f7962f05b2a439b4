// Erasure-coded chunk refs (a stripe of shards) and per-ref `copies` in the namespace: the `replicas`
// record with `shard` moves one shard, frozen all the way down; both survive the journal and a
// checkpoint; and what a client may commit is checked (protocol/checkRecord.ts).

import { describe, expect, it } from 'vitest'
import type { ChunkRef } from '../../src/chunks/ChunkRef.js'
import { shardLength } from '../../src/chunks/layout.js'
import { isDfsError } from '../../src/errors.js'
import { sharedNodeList } from '../../src/meta/namespace/nodeLists.js'
import type { Inode } from '../../src/meta/namespace/types.js'
import { checkClientRecord } from '../../src/protocol/checkRecord.js'
import { tempDir } from './kv.js'
import { type NamespaceStore, openNamespace } from './namespaceFolder.js'

let counter = 0
const hex = (n: number, len: number) => n.toString(16).padStart(len, '0')
const newId = () => hex(0xec000 + ++counter, 32)

/** A stripe ref of made-up bytes: k + m shards, shard i on node `n<i>`. */
function stripeRef(len: number, k: number, m: number): ChunkRef {
  const shardLen = shardLength(len, k)
  const shards = Array.from({ length: k + m }, (_, i) => ({ id: newId(), len: shardLen, sha256: hex(counter, 64), nodes: [`n${i}`] }))
  return { id: newId(), len, sha256: hex(counter, 64), nodes: [], ec: { k, m, shards } }
}

const t = 1_700_000_100_000

function fileWith(store: NamespaceStore, name: string, refs: ChunkRef[]): number {
  const ino = (store.commit({ op: 'mknod', parent: 1, name, mode: 0o100644, uid: 0, gid: 0, time: t }) as Inode).ino
  refs.forEach((ref, index) => store.commit({ op: 'chunk', ino, index, ref, size: (index + 1) * 4096, mtime: t, ctime: t }))
  return ino
}

const chunkOf = (store: NamespaceStore, ino: number, index: number) => store.state.inodes.get(ino)!.chunks![index]!

function expectDeepFrozen(ref: ChunkRef): void {
  expect(Object.isFrozen(ref)).toBe(true)
  expect(Object.isFrozen(ref.nodes)).toBe(true)
  if (!ref.ec) return
  expect(Object.isFrozen(ref.ec)).toBe(true)
  expect(Object.isFrozen(ref.ec.shards)).toBe(true)
  for (const shard of ref.ec.shards) {
    expect(Object.isFrozen(shard)).toBe(true)
    expect(shard.nodes).toBe(sharedNodeList(shard.nodes)) // the shared list, not one of its own
  }
}

describe('the replicas record with a shard', () => {
  it('moves that shard of the stripe and no other, leaving a frozen ref', async () => {
    const store = await openNamespace(await tempDir())
    const ref = stripeRef(4096, 2, 1)
    const ino = fileWith(store, 'ec', [ref])
    expectDeepFrozen(chunkOf(store, ino, 0))

    store.commit({ op: 'replicas', ino, index: 0, id: ref.id, shard: 1, nodes: ['n9'] })
    const after = chunkOf(store, ino, 0)
    expect(after.ec!.shards.map((s) => s.nodes)).toEqual([['n0'], ['n9'], ['n2']])
    expect(after.ec!.shards.map((s) => s.id)).toEqual(ref.ec!.shards.map((s) => s.id))
    expect(after.sha256).toBe(ref.sha256)
    expectDeepFrozen(after)

    store.commit({ op: 'replicas', ino, index: 0, id: ref.id, shard: 2, nodes: [] }) // lost, not rebuilt yet
    expect(chunkOf(store, ino, 0).ec!.shards[2]!.nodes).toEqual([])
    await store.close()
  })

  it('is refused when the file moved on, for a shard the stripe lacks, and without a shard on a stripe', async () => {
    const store = await openNamespace(await tempDir())
    const ref = stripeRef(4096, 2, 1)
    const ino = fileWith(store, 'ec', [ref])
    const refused = (record: object) => {
      const err = (() => { try { store.commit(record as never) } catch (e) { return e } })()
      expect(isDfsError(err, 'EINVAL'), String(err)).toBe(true)
    }
    refused({ op: 'replicas', ino, index: 0, id: ref.id, shard: 3, nodes: ['n9'] })
    refused({ op: 'replicas', ino, index: 0, id: ref.id, shard: -1, nodes: ['n9'] })
    refused({ op: 'replicas', ino, index: 0, id: ref.id, nodes: ['n9'] }) // a stripe has no copies
    const plain = { id: newId(), len: 10, sha256: hex(1, 64), nodes: ['n1'] }
    store.commit({ op: 'chunk', ino, index: 1, ref: plain, size: 4106, mtime: t, ctime: t })
    refused({ op: 'replicas', ino, index: 1, id: plain.id, shard: 0, nodes: ['n9'] }) // a replicated chunk has no shards
    store.commit({ op: 'chunk', ino, index: 0, ref: stripeRef(4096, 2, 1), size: 4106, mtime: t, ctime: t })
    refused({ op: 'replicas', ino, index: 0, id: ref.id, shard: 0, nodes: ['n9'] }) // moved on
    expect(chunkOf(store, ino, 1)).toEqual(plain)
    await store.close()
  })
})

describe('stripes and copies survive a restart', () => {
  for (const how of ['journal', 'checkpoint'] as const) {
    it(`through the ${how}`, async () => {
      const dir = await tempDir()
      const store = await openNamespace(dir)
      const ec = stripeRef(10_000, 4, 2)
      const copies: ChunkRef = { id: newId(), len: 4096, sha256: hex(7, 64), nodes: ['n1', 'n2', 'n3'], copies: 3 }
      const ino = fileWith(store, 'mixed', [ec, copies])
      store.commit({ op: 'replicas', ino, index: 0, id: ec.id, shard: 4, nodes: ['n7'] })
      const before = store.state.inodes.get(ino)!.chunks
      await store.close(how === 'checkpoint' ? { checkpoint: true } : {})

      const again = await openNamespace(dir)
      const chunks = again.state.inodes.get(ino)!.chunks!
      expect(chunks).toEqual(before)
      expect(chunks[0]!.ec!.shards[4]!.nodes).toEqual(['n7'])
      expect(chunks[1]!.copies).toBe(3)
      for (const ref of chunks) expectDeepFrozen(ref!)
      await again.close()
    })
  }
})

describe('a chunk ref a client commits', () => {
  const record = (ref: unknown) => ({ op: 'chunk', ino: 2, index: 0, ref, size: 1, mtime: t, ctime: t })
  const accepted = (ref: unknown) => expect(() => checkClientRecord(record(ref))).not.toThrow()
  const refused = (ref: unknown) => {
    const err = (() => { try { checkClientRecord(record(ref)) } catch (e) { return e } })()
    expect(isDfsError(err, 'PROTOCOL_ERROR'), `accepted ${JSON.stringify(ref)}`).toBe(true)
  }
  const withShards = (ref: ChunkRef, change: (shards: Record<string, unknown>[]) => void) => {
    const shards = ref.ec!.shards.map((s) => ({ ...s, nodes: [...s.nodes] })) as Record<string, unknown>[]
    change(shards)
    return { ...ref, ec: { ...ref.ec!, shards } }
  }

  it('may be a stripe of k + m shards of equal length, each on one node at most, no two on one node', () => {
    const ref = stripeRef(10_000, 4, 2)
    accepted(ref)
    accepted(withShards(ref, (s) => (s[5]!.nodes = []))) // a shard not stored (fewer than k + m nodes took one)
    accepted(stripeRef(1, 1, 1)) // a short tail: one shard of 8 bytes
    refused({ ...ref, nodes: ['n1'] }) // copies of a stripe
    refused({ ...ref, copies: 2 })
    refused({ ...ref, ec: { ...ref.ec, k: 0 } })
    refused({ ...ref, ec: { ...ref.ec, k: 25 } })
    refused({ ...ref, ec: { ...ref.ec, m: 7 } })
    refused({ ...ref, ec: { ...ref.ec, m: 0 } })
    refused({ ...ref, ec: { ...ref.ec, k: 3 } }) // k + m shards
    refused({ ...ref, ec: { ...ref.ec, extra: 1 } })
    refused({ ...ref, len: 20_000 }) // the shards' length no longer shardLength(len, k)
    refused(withShards(ref, (s) => (s[1]!.len = 2512)))
    refused(withShards(ref, (s) => (s[1]!.id = 'not an id')))
    refused(withShards(ref, (s) => (s[1]!.id = s[0]!.id)))
    refused(withShards(ref, (s) => (s[1]!.sha256 = 'x')))
    refused(withShards(ref, (s) => (s[1]!.nodes = ['n1', 'n7']))) // one node each
    refused(withShards(ref, (s) => (s[1]!.nodes = ['n0']))) // the node of shard 0 too
    refused(withShards(ref, (s) => (s[1]!.copies = 2)))
    refused(withShards(ref, (s) => (s[1]!.ec = ref.ec)))
  })

  it('may say how many copies it wants', () => {
    const ref = { id: newId(), len: 4096, sha256: hex(3, 64), nodes: ['n1', 'n2', 'n3'] }
    accepted(ref)
    accepted({ ...ref, copies: 3 })
    accepted({ ...ref, copies: 1 })
    refused({ ...ref, copies: 0 })
    refused({ ...ref, copies: 17 })
    refused({ ...ref, copies: 2.5 })
    refused({ ...ref, other: 1 })
    refused({ ...ref, len: -1 })
  })
})
