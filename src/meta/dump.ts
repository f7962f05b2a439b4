// The namespace dump: one JSON document that holds a whole metadata folder's worth of namespace
// (every inode with its chunk map and hashes, xattrs, owners, modes and times, every directory
// entry, hence hard links and symlinks), plus what makes a folder of it: the cluster id, format.json's
// settings, the seq it is as of and the folder's epoch claim. `dfs meta dump` writes it, `dfs meta
// load` makes a metadata folder of it, NameNode backups are such documents, and `dfs fsck --repair`
// falls back on them.
//
// The layout is fixed, one item per line, so that writing and reading both stream in bounded memory
// (a namespace of millions of inodes is far more than one JavaScript string may hold):
//
//   {"header":{"kind":"dfs-namespace-dump","format":1,"clusterId":…,"createdAt":…,"settings":{…},"lastSeq":…,"epoch":{…}|null,"nextIno":…},
//   "inodes":[
//   {"ino":1,…},
//   …
//   ],
//   "entries":[
//   [1,"name",2],
//   …
//   ],
//   "trailer":{"inodes":N,"entries":M,"sha256":"…"}}
//
// sha256 covers every line before the trailer line (each with its '\n'). Inodes come sorted by
// number and entries by directory then name, and nothing in the document says when it was written,
// so the same namespace always dumps to the same bytes: dump -> load -> dump is byte-identical.

import { createHash } from 'node:crypto'
import type { Readable, Writable } from 'node:stream'
import { dfsError, isDfsError } from '../errors.js'
import { type MetaEpoch, readMetaEpoch } from './epochClaim.js'
import { captureNamespace, capturedPieces } from './namespace/capture.js'
import { namespaceMachine } from './namespace/machine.js'
import { type Inode, type NamespaceState, ROOT_INO, isDir } from './namespace/types.js'
import { type Settings, readFormat } from './metaFormat.js'

export const DUMP_KIND = 'dfs-namespace-dump'
export const DUMP_FORMAT = 1

export interface DumpHeader {
  kind: typeof DUMP_KIND
  format: typeof DUMP_FORMAT
  clusterId: string
  /** format.json's createdAt: when the cluster was made (not when the dump was). */
  createdAt: string
  settings: Settings
  /** The last journal record the namespace includes. */
  lastSeq: number
  /** The claim the folder had made on the DataNodes (epoch.json); null when it never made one. */
  epoch: { epoch: number; token: string } | null
  nextIno: number
}

export type DumpEntry = [dir: number, name: string, ino: number]
/** What travels between a NameNode and `dfs meta dump --namenode`: the pieces in document order (inodes, then entries). */
export type DumpPiece = ['i', Inode] | ['d', number, string, number]

/** Where a folder's dump comes from: its format, its store's seq and state, its claim. */
export interface DumpOrigin {
  clusterId: string
  createdAt: string
  settings: Settings
  lastSeq: number
  state: NamespaceState
  epoch: MetaEpoch | undefined
}

export interface CapturedDump {
  header: DumpHeader
  pieces: Iterable<DumpPiece>
}

/**
 * Capture the namespace as it is now, in a few milliseconds however large it is (namespace/capture.ts),
 * so the pieces can be written over many turns while the namespace changes on. The sorting into
 * document order happens as the pieces are read: inodes come in ascending number already (numbers are
 * handed out in order and a change keeps an inode's place), so only a directory's names are sorted.
 */
export function captureDump(origin: DumpOrigin): CapturedDump {
  const { state } = origin
  const capture = captureNamespace(state)
  const header: DumpHeader = {
    kind: DUMP_KIND, format: DUMP_FORMAT, clusterId: origin.clusterId, createdAt: origin.createdAt,
    settings: origin.settings, lastSeq: origin.lastSeq,
    epoch: origin.epoch ? { epoch: origin.epoch.epoch, token: origin.epoch.token } : null,
    nextIno: capture.nextIno,
  }
  return {
    header,
    pieces: capturedPieces(capture, function* ({ inodes, dirs, entries }) {
      const sorted = inodes.every((inode, i) => i === 0 || inodes[i - 1]!.ino < inode.ino) ? inodes : [...inodes].sort((a, b) => a.ino - b.ino)
      for (const inode of sorted) yield ['i', inode] as DumpPiece
      for (const i of dirs.map((_, i) => i).sort((a, b) => dirs[a]! - dirs[b]!)) {
        const named = [...new Map(entries(i))].sort((a, b) => compareNames(a[0], b[0]))
        for (const [name, ino] of named) yield ['d', dirs[i]!, name, ino] as DumpPiece
      }
    }),
  }
}

/**
 * A store's dump as of now: its folder's createdAt and claim are read first, then the namespace is
 * captured in one turn with its seq, and handed out once that seq is durable (the store's sync: with
 * a standby, there too). A dump names no record a crash can still take back: restored, or with the
 * journal replayed on top (fsck --repair), it would mix in a history the NameNode no longer has.
 */
export async function captureStore(store: { readonly dir: string; readonly clusterId: string; readonly settings: Settings; readonly lastSeq: number; readonly state: NamespaceState; sync(): Promise<void> }): Promise<CapturedDump> {
  const format = await readFormat(store.dir)
  if (!format) throw dfsError('META_FOREIGN', `metadata folder ${store.dir} lost its format.json while in use; dfs fsck --meta ${store.dir} --repair puts it back from its copy`, { dir: store.dir })
  const epoch = await readMetaEpoch(store.dir)
  const captured = captureDump({ clusterId: store.clusterId, createdAt: format.createdAt, settings: store.settings, lastSeq: store.lastSeq, state: store.state, epoch })
  await store.sync()
  return captured
}

const compareNames = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

// ---- writing ---------------------------------------------------------------------------------------

/** Where the document goes: resolves when the text may be followed by more (backpressure). */
export type DumpSink = (text: string) => Promise<void>

/** A sink over a stream: waits for 'drain' when the stream's buffer is full; a write error (a closed pipe, a full disk) is one DfsError. */
export function streamSink(stream: Writable, name = 'the dump output'): DumpSink {
  let failure: Error | undefined
  const failed = (err: NodeJS.ErrnoException) => {
    failure ??= err.code === 'EPIPE'
      ? dfsError('EIO', `${name} was closed before the dump ended (did the reader stop reading?)`, { code: err.code }, err)
      : dfsError(err.code === 'ENOSPC' ? 'ENOSPC' : 'EIO', `cannot write ${name}: ${err.message}`, { code: err.code }, err)
  }
  stream.on('error', failed)
  return (text) => new Promise<void>((resolve, reject) => {
    if (failure) return reject(failure)
    if (stream.destroyed) return reject(dfsError('EIO', `${name} was closed before the dump ended`, {}))
    let more: boolean
    try {
      more = stream.write(text)
    } catch (err) {
      failed(err as NodeJS.ErrnoException)
      return reject(failure)
    }
    if (failure) return reject(failure)
    if (more) return resolve()
    const done = () => {
      stream.off('drain', done)
      stream.off('error', done)
      stream.off('close', done)
      if (failure) reject(failure)
      else if (stream.destroyed && stream.writableLength > 0) reject(dfsError('EIO', `${name} was closed before the dump ended`, {}))
      else resolve()
    }
    stream.on('drain', done)
    stream.on('error', done)
    stream.on('close', done)
  })
}

const BATCH_CHARS = 256 * 1024

/** Write the document. Pieces must come in document order: every inode, then every entry. */
export async function writeDump(header: DumpHeader, pieces: Iterable<DumpPiece> | AsyncIterable<DumpPiece>, sink: DumpSink): Promise<{ inodes: number; entries: number }> {
  const hash = createHash('sha256')
  let batch: string[] = []
  let chars = 0
  const line = async (text: string, flush = false) => {
    const withEnd = `${text}\n`
    hash.update(withEnd)
    batch.push(withEnd)
    chars += withEnd.length
    if (flush || chars >= BATCH_CHARS) {
      const out = batch.join('')
      batch = []
      chars = 0
      await sink(out)
    }
  }
  await line(`{"header":${JSON.stringify(header)},`)
  await line('"inodes":[')
  let inodes = 0
  let entries = 0
  let held: string | undefined // each item's line ends with ',' unless it is the last of its list
  let section: 'i' | 'd' = 'i'
  for await (const piece of pieces) {
    if (piece[0] === 'd' && section === 'i') {
      if (held !== undefined) await line(held)
      held = undefined
      await line('],')
      await line('"entries":[')
      section = 'd'
    } else if (piece[0] === 'i' && section === 'd') {
      throw dfsError('EINVAL', 'dump pieces out of order: an inode after the directory entries', {})
    }
    if (held !== undefined) await line(`${held},`)
    if (piece[0] === 'i') {
      held = JSON.stringify(piece[1])
      inodes++
    } else {
      held = JSON.stringify([piece[1], piece[2], piece[3]])
      entries++
    }
  }
  if (held !== undefined) await line(held)
  if (section === 'i') {
    await line('],')
    await line('"entries":[')
  }
  await line('],')
  const trailer = JSON.stringify({ inodes, entries, sha256: hash.digest('hex') })
  batch.push(`"trailer":${trailer}}\n`)
  await sink(batch.join(''))
  return { inodes, entries }
}

// ---- reading ---------------------------------------------------------------------------------------

export interface LoadedDump {
  header: DumpHeader
  /** The namespace, checked whole: it restores as a checkpoint would. */
  state: NamespaceState
  inodes: number
  entries: number
}

/**
 * The longest line read: a file of a million chunks is one line of ~150 MiB. Past this a line is not
 * a dump's (say, --from /dev/zero, or a backup a failed disk filled with zeros), and is refused
 * before it outgrows what a string can hold, which would crash the reader.
 */
export const MAX_DUMP_LINE_BYTES = 256 * 1024 * 1024

/** A line longer than MAX_DUMP_LINE_BYTES; readDump names it. */
export class LineTooLong extends Error {}

/** The lines of a stream (split at \n; a \r before it is dropped), each at most maxLineBytes. */
export async function* linesOf(input: Readable, maxLineBytes = MAX_DUMP_LINE_BYTES): AsyncIterable<string> {
  let parts: Buffer[] = []
  let length = 0
  for await (const chunk of input) {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer)
    let from = 0
    for (let at = data.indexOf(0x0a); at !== -1; at = data.indexOf(0x0a, from)) {
      if (length + at - from > maxLineBytes) throw new LineTooLong(`a line is longer than ${maxLineBytes} bytes`)
      parts.push(data.subarray(from, at))
      yield lineText(parts)
      parts = []
      length = 0
      from = at + 1
    }
    if (from < data.length) {
      length += data.length - from
      if (length > maxLineBytes) throw new LineTooLong(`a line is longer than ${maxLineBytes} bytes`)
      parts.push(data.subarray(from))
    }
  }
  if (length > 0) yield lineText(parts)
}

function lineText(parts: Buffer[]): string {
  const text = (parts.length === 1 ? parts[0] : Buffer.concat(parts)).toString('utf8')
  return text.endsWith('\r') ? text.slice(0, -1) : text
}

/**
 * Read and check a whole document: its layout, every inode and entry, the trailer's counts and
 * SHA-256, and that the namespace restores. Throws DUMP_INVALID naming the line and what is wrong;
 * nothing is returned until everything is checked, so a caller writes nothing for bad input.
 */
export async function readDump(lines: AsyncIterable<string>, source: string): Promise<LoadedDump> {
  const hash = createHash('sha256')
  let number = 0
  const bad = (why: string) => dfsError('DUMP_INVALID', `${source} is not a valid dfs namespace dump: ${why}; use a file written by dfs meta dump (or a NameNode backup), unedited`, { source, line: number, why })
  const iterator = lines[Symbol.asyncIterator]()
  const next = async (what: string): Promise<string> => {
    let r: IteratorResult<string>
    try {
      r = await iterator.next()
    } catch (err) {
      if (err instanceof LineTooLong) throw bad(`line ${number + 1} is longer than ${MAX_DUMP_LINE_BYTES / (1024 * 1024)} MiB`)
      if (isDfsError(err)) throw err
      const code = (err as NodeJS.ErrnoException).code
      throw dfsError('EIO', `cannot read ${source} (${code ?? (err as Error).message}); pass a dump file written by dfs meta dump`, { source, errno: code }, err)
    }
    if (r.done) throw bad(number === 0 ? 'it is empty' : `it ends at line ${number}, before ${what} (the file is truncated)`)
    number++
    return r.value
  }
  const take = (text: string) => hash.update(`${text}\n`)
  const parse = (text: string): unknown => {
    try {
      return JSON.parse(text)
    } catch {
      throw bad(`line ${number} is not valid JSON`)
    }
  }

  try {
    const first = await next('its header')
    if (!first.startsWith('{"header":') || !first.endsWith(',')) {
      const looks = first.trimStart().startsWith('{') ? 'its first line is not the header line dfs meta dump writes' : 'it is not JSON'
      throw bad(looks)
    }
    take(first)
    const header = checkHeader(parse(first.slice('{"header":'.length, -1)), bad)

    const items = async (opening: string, closing: string, each: (value: unknown) => void) => {
      const open = await next(`"${opening}`)
      if (open !== opening) throw bad(`line ${number} should be ${opening}`)
      take(open)
      let ended = false
      for (;;) {
        const text = await next(`the end of ${opening}`)
        take(text)
        if (text === closing) return
        if (ended) throw bad(`line ${number}: an item after the last one (a line without its comma)`)
        const comma = text.endsWith(',')
        ended = !comma
        each(parse(comma ? text.slice(0, -1) : text))
      }
    }

    const pieces: DumpPiece[] = []
    let previousIno = 0
    await items('"inodes":[', '],', (value) => {
      const inode = checkInode(value, (why) => bad(`line ${number}: ${why}`))
      if (inode.ino <= previousIno) throw bad(`line ${number}: inode ${inode.ino} is out of order or repeated (inodes come sorted by number)`)
      if (inode.ino >= header.nextIno) throw bad(`line ${number}: inode ${inode.ino} is not below nextIno ${header.nextIno}`)
      previousIno = inode.ino
      pieces.push(['i', inode])
    })
    const inodes = pieces.length
    let previous: DumpEntry | undefined
    await items('"entries":[', '],', (value) => {
      const entry = checkEntry(value, (why) => bad(`line ${number}: ${why}`))
      if (previous && (entry[0] < previous[0] || (entry[0] === previous[0] && compareNames(entry[1], previous[1]) <= 0))) {
        throw bad(`line ${number}: entry "${entry[1]}" of directory ${entry[0]} is out of order or repeated (entries come sorted by directory, then name)`)
      }
      previous = entry
      pieces.push(['d', ...entry])
    })
    const entries = pieces.length - inodes

    const last = await next('its trailer')
    const trailerMatch = /^"trailer":(.*)}$/.exec(last)
    if (!trailerMatch) throw bad(`line ${number} should be the trailer`)
    const trailer = parse(trailerMatch[1]) as { inodes?: unknown; entries?: unknown; sha256?: unknown } | null
    if (trailer?.inodes !== inodes || trailer.entries !== entries) {
      throw bad(`its trailer counts ${String(trailer?.inodes)} inodes and ${String(trailer?.entries)} entries, but it holds ${inodes} and ${entries}`)
    }
    if (trailer.sha256 !== hash.digest('hex')) throw bad('its SHA-256 does not match its contents (it was changed or damaged)')
    for (;;) {
      const r = await iterator.next()
      if (r.done) break
      number++
      if (r.value.trim() !== '') throw bad(`line ${number} follows the trailer`)
    }

    const state = restoreChecked(header, pieces, bad)
    return { header, state, inodes, entries }
  } finally {
    await iterator.return?.()
  }
}

type Bad = (why: string) => Error

function checkHeader(value: unknown, bad: Bad): DumpHeader {
  const h = value as Partial<DumpHeader> | null
  if (typeof h !== 'object' || h === null) throw bad('its header is not an object')
  if (h.kind !== DUMP_KIND) throw bad(`its header's kind is ${JSON.stringify(h.kind)}, not "${DUMP_KIND}"`)
  if (typeof h.format === 'number' && h.format > DUMP_FORMAT) {
    throw dfsError('META_TOO_NEW', `the dump has format ${h.format}; this dfs understands up to ${DUMP_FORMAT}: upgrade dfs`, { format: h.format })
  }
  if (h.format !== DUMP_FORMAT) throw bad(`its header's format is ${JSON.stringify(h.format)}`)
  if (typeof h.clusterId !== 'string' || h.clusterId === '') throw bad('its header has no clusterId')
  if (typeof h.createdAt !== 'string') throw bad('its header has no createdAt')
  if (typeof h.settings !== 'object' || h.settings === null || Array.isArray(h.settings)) throw bad('its header has no settings')
  if (!Number.isSafeInteger(h.lastSeq) || h.lastSeq! < 0) throw bad('its header\'s lastSeq is not a record number')
  if (!Number.isSafeInteger(h.nextIno) || h.nextIno! <= ROOT_INO) throw bad('its header\'s nextIno is not an inode number above the root')
  const e = h.epoch
  if (e !== null && (typeof e !== 'object' || !Number.isSafeInteger(e?.epoch) || e.epoch < 1 || typeof e.token !== 'string' || !/^[0-9a-f]{1,128}$/.test(e.token))) {
    throw bad('its header\'s epoch is neither null nor a claim {epoch, token}')
  }
  return h as DumpHeader
}

const isInt = (v: unknown, min = 0) => Number.isSafeInteger(v) && (v as number) >= min
const isTime = (v: unknown) => typeof v === 'number' && Number.isFinite(v)

function checkInode(value: unknown, bad: Bad): Inode {
  const i = value as Record<string, unknown> | null
  if (typeof i !== 'object' || i === null || Array.isArray(i)) throw bad('an inode is not an object')
  const ino = i.ino
  if (!isInt(ino, ROOT_INO)) throw bad('an inode without a valid ino')
  const field = (name: string, ok: boolean) => { if (!ok) throw bad(`inode ${String(ino)} has an invalid ${name}`) }
  field('mode', isInt(i.mode) && (i.mode as number) <= 0o177777)
  field('uid', isInt(i.uid))
  field('gid', isInt(i.gid))
  field('nlink', isInt(i.nlink))
  field('size', isInt(i.size))
  field('atime', isTime(i.atime))
  field('mtime', isTime(i.mtime))
  field('ctime', isTime(i.ctime))
  field('rdev', isInt(i.rdev))
  if (i.target !== undefined) field('target', typeof i.target === 'string')
  if (i.xattrs !== undefined) {
    const x = i.xattrs as Record<string, unknown> | null
    field('xattrs', typeof x === 'object' && x !== null && !Array.isArray(x) && Object.values(x).every((v) => typeof v === 'string'))
  }
  if (i.chunks !== undefined) {
    field('chunks', Array.isArray(i.chunks))
    for (const ref of i.chunks as unknown[]) {
      if (ref === null) continue
      const r = ref as Record<string, unknown>
      const ok = typeof r === 'object' && typeof r.id === 'string' && /^[0-9a-f]{32}$/.test(r.id) && isInt(r.len) &&
        typeof r.sha256 === 'string' && /^[0-9a-f]{64}$/.test(r.sha256) && Array.isArray(r.nodes) && r.nodes.every((n) => typeof n === 'string')
      field('chunk map', ok)
    }
  }
  return i as unknown as Inode
}

function checkEntry(value: unknown, bad: Bad): DumpEntry {
  const e = value as unknown[]
  if (!Array.isArray(e) || e.length !== 3 || !isInt(e[0], ROOT_INO) || typeof e[1] !== 'string' || !isInt(e[2], ROOT_INO)) {
    throw bad('a directory entry is not [directory ino, name, ino]')
  }
  const name = e[1]
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) throw bad(`directory ${e[0]} has an invalid name ${JSON.stringify(name)}`)
  return e as DumpEntry
}

/** The namespace the pieces make, or the first thing that does not fit. */
function restoreChecked(header: DumpHeader, pieces: DumpPiece[], bad: Bad): NamespaceState {
  let state: NamespaceState
  try {
    state = namespaceMachine({ uid: 0, gid: 0, createdAt: 0 }).restore([{ nextIno: header.nextIno }, ...pieces])
  } catch (err) {
    if (isDfsError(err)) throw bad(err.message.replace(/^checkpoint /, 'the namespace '))
    throw err
  }
  const root = state.inodes.get(ROOT_INO)
  if (!root || !isDir(root)) throw bad('inode 1, the root, is not a directory')
  const dirNames = new Map<number, number>()
  for (const names of state.children.values()) {
    for (const [name, ino] of names) {
      const child = state.inodes.get(ino)
      if (!child) throw bad(`the name "${name}" refers to inode ${ino}, which the dump does not hold`)
      if (ino === ROOT_INO) throw bad(`the name "${name}" refers to the root`)
      if (isDir(child)) {
        dirNames.set(ino, (dirNames.get(ino) ?? 0) + 1)
        if (dirNames.get(ino)! > 1) throw bad(`directory ${ino} has more than one name`)
      }
    }
  }
  return state
}
