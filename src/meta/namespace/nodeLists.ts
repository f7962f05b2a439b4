// The node list of a chunk reference, shared: a million references name a handful of distinct node
// sets, so every reference to the same set holds the same frozen array (and the same id strings)
// instead of an array and strings of its own. Half of what a small file's chunk costs in memory.

const MAX_LISTS = 4096
const RECENT = 8
const lists = new Map<string, readonly string[]>()
/** The lists handed out last: most lookups are one of them, found without building a key. */
const recent: (readonly string[])[] = []

/** The one frozen array equal to `nodes`. */
export function sharedNodeList(nodes: readonly string[]): readonly string[] {
  for (const list of recent) if (sameList(list, nodes)) return list
  const key = nodes.join('\0')
  let list = lists.get(key)
  if (list === undefined) {
    // A cluster with so many distinct sets gains little from sharing: start over rather than grow.
    if (lists.size >= MAX_LISTS) lists.clear()
    list = Object.freeze([...nodes])
    lists.set(key, list)
  }
  recent.unshift(list)
  if (recent.length > RECENT) recent.pop()
  return list
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
