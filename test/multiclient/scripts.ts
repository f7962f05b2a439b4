// Small python3 programs the multi-client tests run against the mounts, one process per client.
// Two processes meet at a barrier made of files on native disk (never on a mount), so their
// operations on the mounts start together round after round.

import { type ChildProcess, spawn } from 'node:child_process'
import { run, type RunOptions, type RunResult } from '../helpers/run.js'

/** `python3 -c <prelude + script> args...` */
export function python(script: string, args: readonly (string | number)[], opts: RunOptions = {}): Promise<RunResult> {
  return run('python3', ['-c', PRELUDE + script, ...args.map(String)], opts)
}

/** barrier(tag): wait until the other process reached the same tag (argv: me, other, bardir first). */
const PRELUDE = String.raw`
import os, sys, json, time, errno
ME, OTHER, BAR = sys.argv[1], sys.argv[2], sys.argv[3]
def barrier(tag):
    open(os.path.join(BAR, '%s.%s' % (ME, tag)), 'w').close()
    theirs = os.path.join(BAR, '%s.%s' % (OTHER, tag))
    deadline = time.time() + 300
    while not os.path.exists(theirs):
        if time.time() > deadline:
            sys.exit('%s: %s never reached barrier %s' % (ME, OTHER, tag))
        time.sleep(0.0005)
def errname(e):
    return errno.errorcode.get(e.errno, str(e.errno))
`

/**
 * The create race, `rounds` times: in round i both processes create <dir>/n<i> at once, a file with
 * O_CREAT|O_EXCL (even rounds) or a folder with mkdir (odd rounds); the winner writes its name into
 * it. Prints a JSON list: 'ok' or the errno name per round. argv after the prelude's: dir rounds.
 */
export const PY_CREATE_RACE = String.raw`
dir, rounds = sys.argv[4], int(sys.argv[5])
out = []
for i in range(rounds):
    path = os.path.join(dir, 'n%d' % i)
    barrier(i)
    try:
        if i % 2 == 0:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            os.write(fd, ME.encode())
            os.close(fd)
        else:
            os.mkdir(path)
            with open(os.path.join(path, 'owner'), 'w') as f:
                f.write(ME)
        out.append('ok')
    except OSError as e:
        out.append(errname(e))
print(json.dumps(out))
`

/**
 * One of two writers of one file: open it (O_RDWR, it exists), meet the other, pwrite `length`
 * bytes of value `byte` at `offset`, meet again, close. argv after the prelude's: path offset length
 * byte [writeOrder [closeOrder]]: 'first' or 'second' puts this writer's pwrite (or close) before or
 * after the other's, with a meeting in between; '' (the default) does both at once.
 */
export const PY_RANGE_WRITER = String.raw`
path, offset, length, byte = sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
write_order = sys.argv[8] if len(sys.argv) > 8 else ''
close_order = sys.argv[9] if len(sys.argv) > 9 else ''
def in_order(order, tag, step):
    if order == 'second':
        barrier(tag)
    step()
    if order == 'first':
        barrier(tag)
fd = os.open(path, os.O_RDWR)
barrier('open')
data = bytes([byte]) * length
def write():
    at = 0
    while at < length:
        at += os.pwrite(fd, data[at:], offset + at)
in_order(write_order, 'wrote', write)
barrier('written')
in_order(close_order, 'closed', lambda: os.close(fd))
print(json.dumps({'wrote': [offset, length, byte]}))
`

/**
 * Appends numbered records to a file and fsyncs after each, printing `fsynced <i>` once fsync
 * returned (an fsync that fails is reported and the records since the last good one written again),
 * until the file <stop> exists (on native disk), then closes and prints `closed <n>`.
 * Record i is RECORD bytes: the line 'record <i> ' padded with (i % 251) bytes. argv: path stop
 * recordSize (no barrier; me/other/bar are placeholders).
 */
export const PY_FSYNC_WRITER = String.raw`
path, stop, size = sys.argv[4], sys.argv[5], int(sys.argv[6])
def record(i):
    head = ('record %d ' % i).encode()
    return head + bytes([i % 251]) * (size - len(head))
fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
i = 0
acked = -1
while not os.path.exists(stop):
    r = record(i)
    at = 0
    while at < len(r):
        at += os.pwrite(fd, r[at:], i * size + at)
    try:
        os.fsync(fd)
    except OSError as e:
        # What a careful program does: an fsync that failed promises nothing since the last one
        # that returned, so write those records again (dfs fails one fsync after a NameNode restart).
        print('fsync failed %d: %s' % (i, e), flush=True)
        i = acked + 1
        continue
    acked = i
    print('fsynced %d' % i, flush=True)
    i += 1
os.close(fd)
print('closed %d' % i, flush=True)
`

/** Check a file PY_FSYNC_WRITER wrote: argv path recordSize count. Prints JSON {ok, size, bad: [...]}. */
export const PY_FSYNC_CHECK = String.raw`
path, size, count = sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
def record(i):
    head = ('record %d ' % i).encode()
    return head + bytes([i % 251]) * (size - len(head))
with open(path, 'rb') as f:
    data = f.read()
bad = [i for i in range(count) if data[i * size:(i + 1) * size] != record(i)]
def what(i):
    got = data[i * size:(i + 1) * size]
    if not got.strip(b'\0'):
        return 'zeros'
    return repr(got[:24])
out = {'ok': not bad, 'size': len(data), 'bad': bad[:20]}
if bad:
    out['first_bad'] = what(bad[0])
print(json.dumps(out))
`

/** A long-running child (a writer or reader loop) whose output lines the test waits on. */
export interface Running {
  readonly pid: number
  /** stdout lines so far. */
  lines(): string[]
  stderr(): string
  /** Resolves with the first stdout line matching `re` (already printed or to come); rejects if the child exits first. */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>
  /** Resolves on 'exit'. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** SIGKILL by pid, then wait for 'exit'. */
  kill(): Promise<void>
}

const running = new Set<ChildProcess>()

/** Start `cmd args` in the background (see Running). killAllScripts() ends what is left. */
export function start(cmd: string, args: readonly (string | number)[]): Running {
  const child = spawn(cmd, args.map(String), { stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(child)
  let out = ''
  let err = ''
  let done = false
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s))
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true
      running.delete(child)
      // let the last output arrive
      setTimeout(() => resolve({ code, signal }), 50)
    })
  })
  const lines = () => out.split('\n').filter((l, i, all) => i < all.length - 1 || l !== '')
  return {
    pid: child.pid ?? -1,
    lines,
    stderr: () => err,
    exited,
    async waitForLine(re, timeoutMs = 300_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const hit = lines().find((l) => re.test(l))
        if (hit !== undefined) return hit
        if (done) throw new Error(`${cmd} exited before printing ${re}\nstdout: ${out.slice(-2000)}\nstderr: ${err.slice(-2000)}`)
        if (Date.now() > deadline) throw new Error(`${cmd}: no line matching ${re} within ${timeoutMs} ms\nstdout: ${out.slice(-2000)}\nstderr: ${err.slice(-2000)}`)
        await new Promise((r) => setTimeout(r, 100))
      }
    },
    async kill() {
      if (!done) child.kill('SIGKILL')
      await exited
    },
  }
}

/** `python3 -c <prelude + script> args` in the background. */
export function startPython(script: string, args: readonly (string | number)[]): Running {
  return start('python3', ['-c', PRELUDE + script, ...args])
}

/** SIGKILL every background child still running (by pid). */
export async function killAllScripts(): Promise<void> {
  for (const child of running) child.kill('SIGKILL')
}

/**
 * Reads files in a loop until <stop> exists, checking each against its sha256; prints
 * `pass <n> errors <e>` after every pass and `error <name>: <why>` for each failure; exits 1 if any.
 * argv after the prelude's: dir manifest.json stop. The manifest maps file names to sha256 hex.
 */
export const PY_READ_LOOP = String.raw`
import hashlib
dir, manifest, stop = sys.argv[4], json.load(open(sys.argv[5])), sys.argv[6]
passes = errors = 0
while not os.path.exists(stop):
    for name, want in sorted(manifest.items()):
        try:
            with open(os.path.join(dir, name), 'rb') as f:
                got = hashlib.sha256(f.read()).hexdigest()
            if got != want:
                errors += 1
                print('error %s: content differs' % name, flush=True)
        except OSError as e:
            errors += 1
            print('error %s: %s' % (name, e), flush=True)
    passes += 1
    print('pass %d errors %d' % (passes, errors), flush=True)
sys.exit(1 if errors else 0)
`
