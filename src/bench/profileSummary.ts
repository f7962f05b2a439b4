// A short text summary of a V8 CPU profile (a .cpuprofile from node --cpu-prof): where a daemon's
// time went, by function and by source file, ranked by self time, and which of dfs's own functions
// (dist/) lead to it, ranked by total time, so a reader of `npm run bench -- --cpu-prof` sees it
// without opening DevTools. The profiler samples wall time on the main thread: "(idle)" is the event
// loop waiting, everything else is the thread busy (JavaScript, node's native bindings it called such
// as fs and crypto, the garbage collector, "(program)" = V8 and the binding outside JavaScript).

import { readFile } from 'node:fs/promises'
import { fmt } from './report.js'

/** The parts of the .cpuprofile format (Chrome DevTools protocol, Profiler.Profile) read here. */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[]
  startTime: number
  endTime: number
  /** The node on top of the stack at each sample. */
  samples: number[]
  /** Microseconds from the previous sample (the first: from startTime) to this one. */
  timeDeltas: number[]
}

export interface SelfTime {
  name: string
  ms: number
}

export interface ProfileSummary {
  /** Sampled time in all, and of it the time the thread was idle (waiting in the event loop). */
  totalMs: number
  idleMs: number
  /** Self time by function ("name file:line"), then by file, busiest first, idle left out. */
  functions: SelfTime[]
  files: SelfTime[]
  /**
   * dfs's own functions (under dist/) by total time: their own and that of what they called while on
   * the stack. A caller waiting in an `await` is not on the stack (what runs after the await starts from
   * the microtask queue), so it is charged only for the synchronous stretches it ran itself.
   */
  dfsTotal: SelfTime[]
}

/**
 * "file:///work/x/dist/fs/OpenFile.js" → "dist/fs/OpenFile.js"; node's own modules keep their
 * "node:..." name; a frame without a file is V8's or native ("(garbage collector)", "(program)").
 */
export function shortFile(url: string): string {
  if (!url) return ''
  const path = url.replace(/^file:\/\//, '')
  const m = /\/((?:dist|node_modules)\/.*)$/.exec(path)
  return m ? m[1]! : path
}

const top = (m: Map<string, number>, n: number): SelfTime[] =>
  [...m].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms || a.name.localeCompare(b.name)).slice(0, n)

const frameName = (frame: CpuProfile['nodes'][number]['callFrame'], file: string) =>
  file ? `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}` : frame.functionName || '(anonymous)'

/**
 * A stretch of a profile, in microseconds on the profile's clock. V8 stamps samples with the monotonic
 * clock that process.hrtime reads, in every process of the machine, so the bench can mark a daemon's
 * measurements with its own process.hrtime.
 */
export interface Window {
  from: number
  to: number
}

/** process.hrtime in microseconds: the clock of a profile's timestamps. */
export const profileClock = (): number => Number(process.hrtime.bigint() / 1000n)

/**
 * Self time per function and per file, total time per dfs function; only the samples taken within
 * `windows` when given (the daemon's measurements, without its start-up and idle stretches between
 * them). A sample lasts until the next one (the last until endTime), the way DevTools attributes time.
 */
export function summarizeProfile(profile: CpuProfile, n = 10, windows?: readonly Window[]): ProfileSummary {
  const byId = new Map(profile.nodes.map(node => [node.id, node.callFrame]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const functions = new Map<string, number>()
  const files = new Map<string, number>()
  const dfsTotal = new Map<string, number>()
  let totalMs = 0
  let idleMs = 0
  let at = profile.startTime
  const times = profile.timeDeltas.map(d => (at += d))
  for (let i = 0; i < profile.samples.length; i++) {
    if (windows && !windows.some(w => times[i]! >= w.from && times[i]! < w.to)) continue
    const ms = Math.max(0, (times[i + 1] ?? profile.endTime) - times[i]!) / 1000
    const frame = byId.get(profile.samples[i]!)
    if (!frame) continue
    totalMs += ms
    if (frame.functionName === '(idle)') {
      idleMs += ms
      continue
    }
    const file = shortFile(frame.url)
    const name = frameName(frame, file)
    functions.set(name, (functions.get(name) ?? 0) + ms)
    const fileKey = file || (frame.functionName.startsWith('(') ? frame.functionName : '(native)')
    files.set(fileKey, (files.get(fileKey) ?? 0) + ms)
    // Up the stack: each dfs function on it gets the sample once (a recursive one too).
    const onStack = new Set<string>()
    for (let id: number | undefined = profile.samples[i]; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)
      const fFile = f ? shortFile(f.url) : ''
      if (f && fFile.startsWith('dist/')) onStack.add(frameName(f, fFile))
    }
    for (const key of onStack) dfsTotal.set(key, (dfsTotal.get(key) ?? 0) + ms)
  }
  return { totalMs, idleMs, functions: top(functions, n), files: top(files, n), dfsTotal: top(dfsTotal, n) }
}

/** The summary as indented lines: busy time, then the top functions and files with their share of it. */
export function renderProfileSummary(title: string, s: ProfileSummary): string[] {
  const busy = s.totalMs - s.idleMs
  const share = (ms: number) => `${fmt(ms, 0).padStart(7)} ms ${fmt(busy > 0 ? (100 * ms) / busy : NaN, 1).padStart(5)} %`
  return [
    `  ${title}: main thread busy ${fmt(busy, 0)} ms of ${fmt(s.totalMs, 0)} ms sampled (${fmt(s.totalMs > 0 ? (100 * busy) / s.totalMs : NaN, 0)} %); self time, share of busy:`,
    '    by function:',
    ...s.functions.map(f => `      ${share(f.ms)}  ${f.name}`),
    '    by file ("(native)": node\'s C++ bindings, e.g. fs and crypto calls):',
    ...s.files.map(f => `      ${share(f.ms)}  ${f.name}`),
    '    dfs\'s own functions by total time (their own and their callees\' while on the stack; not while awaiting; nested ones count in each):',
    ...s.dfsTotal.map(f => `      ${share(f.ms)}  ${f.name}`),
  ]
}

export async function readProfile(path: string): Promise<CpuProfile> {
  return JSON.parse(await readFile(path, 'utf8')) as CpuProfile
}
