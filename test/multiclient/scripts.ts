// Small python3 programs the multi-client tests run against the mounts, one process per client.
// Two processes meet at a barrier made of files on native disk (never on a mount), so their
// operations on the mounts start together round after round.

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
 * bytes of value `byte` at `offset`, meet again, close. argv after the prelude's: path offset length byte.
 */
export const PY_RANGE_WRITER = String.raw`
path, offset, length, byte = sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
fd = os.open(path, os.O_RDWR)
barrier('open')
data = bytes([byte]) * length
at = 0
while at < length:
    at += os.pwrite(fd, data[at:], offset + at)
barrier('written')
os.close(fd)
print(json.dumps({'wrote': [offset, length, byte]}))
`

/**
 * Appends numbered records to a file and fsyncs after each, printing `fsynced <i>` once fsync
 * returned, until the file <stop> exists (on native disk), then closes and prints `closed <n>`.
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
while not os.path.exists(stop):
    r = record(i)
    at = 0
    while at < len(r):
        at += os.pwrite(fd, r[at:], i * size + at)
    os.fsync(fd)
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
print(json.dumps({'ok': not bad, 'size': len(data), 'bad': bad[:20]}))
`
