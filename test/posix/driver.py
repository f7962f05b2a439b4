# The conformance driver: runs scripted operation sequences ("cases") under one root directory and
# prints, as JSON, everything a POSIX file system is judged by: each operation's result or errno
# name, and after every round a stat snapshot of the names the case watches (type, mode, owner,
# nlink, size, rdev, which names share an inode, and which of atime/mtime/ctime changed since the
# previous snapshot). test/posix/runner.ts runs it once on a native directory and once on a dfs
# mount, as root, and compares the two outputs.
#
# Input (stdin, JSON): {"root": dir, "gap_ms": n, "cases": [case, ...]} where a case is
#   {"dir": {"mode", "uid", "gid"},     the case's own directory root/c<i>, made by root
#    "setup": [stmt, ...],              python run as root with the case directory as cwd
#    "rounds": [{"as": caller, "ops": [stmt or expr, ...]}, ...],
#    "watch": [name, ...]}              names (relative to the case directory) to stat; "." is added
# Names and paths in watch lists may be "hex:<bytes>" for names that are not UTF-8.
#
# Timing: all cases run together, round by round. Between a snapshot and the next round's
# operations the driver sleeps gap_ms once (for all cases), so a time an operation sets is always
# later than the one the snapshot saw, on ext4 (coarse clock) and on dfs (millisecond times) alike.
#
# Callers: every round of every case runs in a forked child, which (unless the caller is root)
# drops to the caller's ids exactly as `setpriv --reuid=U --regid=G --groups=...|--clear-groups`
# does: setgroups, setresgid, setresuid, all three ids, so no capability is left. Forking per case
# is what keeps hundreds of cases in one python process.
#
# Nothing here reads a directory between snapshots (readdir moves a directory's atime): the final
# listing of each case is taken after its last snapshot.
import ctypes
import ctypes.util
import errno
import hashlib
import json
import os
import socket
import stat
import sys
import time

CALLERS = {
    'root': (0, 0, []),
    'nobody': (65534, 65534, []),        # setpriv --reuid=65534 --regid=65534 --clear-groups
    'member': (65534, 65534, [100]),     # the same, in supplementary group 100 ("users")
    'other': (4242, 4242, []),           # a second unprivileged user
}


def name_of(s):
    if isinstance(s, str) and s.startswith('hex:'):
        return bytes.fromhex(s[4:])
    return s


def show_name(n):
    if isinstance(n, bytes):
        try:
            s = n.decode('utf-8')
            if not s.startswith('hex:'):
                return s
        except UnicodeDecodeError:
            pass
        return 'hex:' + n.hex()
    return n


def errname(e):
    return errno.errorcode.get(e.errno, str(e.errno))


# ---- helpers the case scripts use ------------------------------------------------------------------

TYPES = {stat.S_IFREG: 'reg', stat.S_IFDIR: 'dir', stat.S_IFLNK: 'symlink', stat.S_IFIFO: 'fifo',
         stat.S_IFSOCK: 'sock', stat.S_IFCHR: 'chr', stat.S_IFBLK: 'blk'}


def owner(name, uid, gid):
    if uid is not None or gid is not None:
        os.chown(name, -1 if uid is None else uid, -1 if gid is None else gid, follow_symlinks=False)


def mk(kind, name, mode=None, uid=None, gid=None, data=b'', target='target', rdev=None):
    """Make one object of a kind with exactly this mode and owner (chmod after, so umask is moot)."""
    name = name_of(name)
    if kind == 'reg':
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        if data:
            os.write(fd, data)
        os.close(fd)
    elif kind == 'dir':
        os.mkdir(name, 0o755)
    elif kind == 'symlink':
        os.symlink(name_of(target), name)
    elif kind == 'fifo':
        os.mkfifo(name, 0o644)
    elif kind == 'sock':
        os.mknod(name, 0o755 | stat.S_IFSOCK)
    elif kind == 'chr':
        os.mknod(name, 0o644 | stat.S_IFCHR, os.makedev(1, 3) if rdev is None else rdev)
    elif kind == 'blk':
        os.mknod(name, 0o644 | stat.S_IFBLK, os.makedev(7, 0) if rdev is None else rdev)
    else:
        raise ValueError(kind)
    owner(name, uid, gid)
    if mode is not None and kind != 'symlink':
        os.chmod(name, mode)


def new(kind, name, mode=0o644):
    """Create one object of a kind the way a program would (the mode goes through the umask)."""
    name = name_of(name)
    if kind == 'reg':
        os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
    elif kind == 'mknod-reg':
        os.mknod(name, mode | stat.S_IFREG)
    elif kind == 'dir':
        os.mkdir(name, mode)
    elif kind == 'symlink':
        os.symlink('target', name)
    elif kind == 'fifo':
        os.mkfifo(name, mode)
    elif kind == 'sock':
        os.mknod(name, mode | stat.S_IFSOCK)
    elif kind == 'bound-sock':
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.bind(name)
        finally:
            s.close()
    elif kind == 'chr':
        os.mknod(name, mode | stat.S_IFCHR, os.makedev(1, 3))
    elif kind == 'blk':
        os.mknod(name, mode | stat.S_IFBLK, os.makedev(7, 0))
    else:
        raise ValueError(kind)


def wr(name, data, off=None, flags=0):
    """open for writing, write (at off, or where O_APPEND puts it), close; returns bytes written."""
    fd = os.open(name_of(name), os.O_WRONLY | flags)
    try:
        return os.write(fd, data) if off is None else os.pwrite(fd, data, off)
    finally:
        os.close(fd)


def rd(name, n=1 << 20, off=0):
    fd = os.open(name_of(name), os.O_RDONLY)
    try:
        return os.pread(fd, n, off)
    finally:
        os.close(fd)


def opn(name, flags, mode=0o644):
    """open and close again: only the permission check and what open itself changes."""
    os.close(os.open(name_of(name), flags, mode))


def ls(name='.'):
    return sorted(show_name(n) for n in os.listdir(name_of(name) if name != '.' else b'.'))


def st(name, follow=False):
    s = os.stat(name_of(name), follow_symlinks=follow)
    return summary(s)


def summary(s):
    return {'type': TYPES.get(stat.S_IFMT(s.st_mode), oct(stat.S_IFMT(s.st_mode))), 'mode': oct(stat.S_IMODE(s.st_mode)),
            'uid': s.st_uid, 'gid': s.st_gid, 'nlink': s.st_nlink, 'size': s.st_size}


def secs(name, follow=False):
    """(atime, mtime) in whole seconds, for times set explicitly."""
    s = os.stat(name_of(name), follow_symlinks=follow)
    return [s.st_atime_ns // 10**9, s.st_mtime_ns // 10**9]


def nsecs(name):
    s = os.stat(name_of(name), follow_symlinks=False)
    return [s.st_atime_ns, s.st_mtime_ns]


_libc = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True)
UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2
AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100


class _timespec(ctypes.Structure):
    _fields_ = [('tv_sec', ctypes.c_long), ('tv_nsec', ctypes.c_long)]


def utimensat(name, atime, mtime, follow=True):
    """utimensat(2) itself: a time is seconds, 'now' (UTIME_NOW) or 'omit' (UTIME_OMIT)."""
    def ts(t):
        if t == 'now':
            return _timespec(0, UTIME_NOW)
        if t == 'omit':
            return _timespec(0, UTIME_OMIT)
        return _timespec(int(t), 0)
    times = (_timespec * 2)(ts(atime), ts(mtime))
    path = name_of(name)
    path = path if isinstance(path, bytes) else path.encode()
    if _libc.utimensat(AT_FDCWD, path, times, 0 if follow else AT_SYMLINK_NOFOLLOW) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def run(name, *args):
    """Execute a program (fork + execve); its exit status, or the errno execve failed with."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.execv(name_of(name), [name_of(name), *args])
        except OSError as e:
            os.write(w, errname(e).encode())
        os._exit(127)
    os.close(w)
    err = os.read(r, 100).decode()
    os.close(r)
    _, status = os.waitpid(pid, 0)
    return err or os.waitstatus_to_exitcode(status)


def out(name, *args):
    """Execute a program and return what it printed (or the errno execve failed with)."""
    import subprocess
    try:
        return subprocess.run([name_of(name), *args], capture_output=True).stdout.decode().strip()
    except OSError as e:
        return errname(e)


def renameat2(old, new, flags):
    """renameat2(2) with RENAME_NOREPLACE (1) or RENAME_EXCHANGE (2)."""
    if _libc.renameat2(AT_FDCWD, _b(old), AT_FDCWD, _b(new), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def fallocate(name, mode, off, length):
    """fallocate(2) itself (python's posix_fallocate is glibc's, which writes zeros where it must)."""
    fd = os.open(name_of(name), os.O_RDWR)
    try:
        if _libc.fallocate(fd, mode, ctypes.c_long(off), ctypes.c_long(length)) != 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
    finally:
        os.close(fd)


def fail(name):
    """Raise the errno of this name: how a known-difference twin says "this call is refused"."""
    raise OSError(getattr(errno, name), os.strerror(getattr(errno, name)))


def _b(name):
    n = name_of(name)
    return n if isinstance(n, bytes) else n.encode()


def holes(name):
    """Where SEEK_DATA and SEEK_HOLE find data and holes, from the start."""
    fd = os.open(name_of(name), os.O_RDONLY)
    try:
        out = []
        for whence in (os.SEEK_DATA, os.SEEK_HOLE):
            try:
                out.append(os.lseek(fd, 0, whence))
            except OSError as e:
                out.append(errname(e))
        return out
    finally:
        os.close(fd)


def mmap_write(name, at, data):
    """Write through a shared mapping, msync, unmap."""
    import mmap
    fd = os.open(name_of(name), os.O_RDWR)
    try:
        m = mmap.mmap(fd, 0)
        m[at:at + len(data)] = data
        m.flush()
        m.close()
    finally:
        os.close(fd)


def sock_roundtrip(name):
    """bind a unix socket at name, connect to it through the file system, pass a byte."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        srv.bind(name_of(name))
        srv.listen(1)
        cli = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            cli.connect(name_of(name))
            conn, _ = srv.accept()
            cli.sendall(b'x')
            got = conn.recv(1)
            conn.close()
            return got.decode()
        finally:
            cli.close()
    finally:
        srv.close()


def fifo_roundtrip(name):
    """open a FIFO both ends in this process, pass bytes through it."""
    rfd = os.open(name_of(name), os.O_RDONLY | os.O_NONBLOCK)
    try:
        wfd = os.open(name_of(name), os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(wfd, b'through the pipe')
            return os.read(rfd, 100).decode()
        finally:
            os.close(wfd)
    finally:
        os.close(rfd)


def deep_path(levels, width):
    return '/'.join(('%d' % i).ljust(width, 'd') for i in range(levels))


def deep(levels, width):
    """mkdir a chain of `levels` directories named with `width` characters; returns its relative path."""
    for i in range(1, levels + 1):
        os.mkdir(deep_path(i, width))
    return deep_path(levels, width)


def rmtree(name):
    import shutil
    shutil.rmtree(name_of(name))


def wr_new(name, data):
    """create (O_EXCL), write, close."""
    fd = os.open(name_of(name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        return os.write(fd, data)
    finally:
        os.close(fd)


def N(hexname):
    """A name given as hex bytes (any byte but '/' and NUL)."""
    return bytes.fromhex(hexname)


SCOPE = {name: globals()[name] for name in
         ['N', 'os', 'stat', 'errno', 'socket', 'mk', 'new', 'wr', 'rd', 'opn', 'ls', 'st', 'secs', 'nsecs', 'utimensat',
          'run', 'out', 'fail', 'renameat2', 'fallocate', 'holes', 'mmap_write', 'sock_roundtrip', 'fifo_roundtrip', 'deep', 'deep_path', 'wr_new', 'rmtree', 'name_of']}


# ---- running statements ------------------------------------------------------------------------------

def normalize(v):
    if v is None:
        return 'ok'
    if isinstance(v, bool) or isinstance(v, (int, float, str)):
        return show_name(v) if isinstance(v, str) else v
    if isinstance(v, bytes):
        if len(v) <= 64:
            return {'bytes': v.hex()}
        return {'len': len(v), 'sha256': hashlib.sha256(v).hexdigest()[:16]}
    if isinstance(v, os.stat_result):
        return summary(v)
    if isinstance(v, (list, tuple)):
        return [normalize(x) for x in v]
    if isinstance(v, dict):
        return {k: normalize(x) for k, x in v.items()}
    return repr(v)


def execute(stmt, scope):
    try:
        try:
            code = compile(stmt, '<case>', 'eval')
        except SyntaxError:
            exec(compile(stmt, '<case>', 'exec'), scope)
            return 'ok'
        return normalize(eval(code, scope))
    except OSError as e:
        return errname(e)
    except Exception as e:  # a mistake in the case itself, reported as such
        return 'EXC %s: %s' % (type(e).__name__, e)


def run_round(casedir, caller, ops):
    """Fork; the child enters the case directory, becomes the caller and runs the operations."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.chdir(casedir)
            uid, gid, groups = CALLERS[caller]
            if caller != 'root':
                os.setgroups(groups)
                os.setresgid(gid, gid, gid)
                os.setresuid(uid, uid, uid)
            scope = dict(SCOPE)
            out = json.dumps([execute(op, scope) for op in ops]).encode()
            while out:
                out = out[os.write(w, out):]
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 1 << 16)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(b''.join(chunks) or b'["EXC child died"]')


# ---- snapshots ---------------------------------------------------------------------------------------

def snapshot(casedir, watch, before):
    """lstat each watched name; its times are compared with the same inode's in the previous snapshot.

    `before` maps a name to (ino, times) from the previous snapshot. A name that now holds another
    inode (it was renamed over, or recreated) is compared with wherever that inode was seen before,
    so a renamed file's times are still followed; an inode not seen before is "new".
    """
    out, raw, inos = {}, {}, {}
    by_ino = {ino: times for ino, times in before.values()}
    for w in watch:
        path = os.path.join(casedir.encode(), name_of(w).encode() if isinstance(name_of(w), str) else name_of(w))
        try:
            s = os.lstat(path)
        except OSError as e:
            out[w] = errname(e)
            continue
        kind = TYPES.get(stat.S_IFMT(s.st_mode), oct(stat.S_IFMT(s.st_mode)))
        e = {'type': kind, 'mode': oct(stat.S_IMODE(s.st_mode)), 'uid': s.st_uid, 'gid': s.st_gid, 'nlink': s.st_nlink,
             'ino': inos.setdefault(s.st_ino, w)}
        if kind in ('reg', 'symlink', 'dir'):
            e['size'] = s.st_size
        if kind in ('chr', 'blk'):
            e['rdev'] = [os.major(s.st_rdev), os.minor(s.st_rdev)]
        times = (s.st_atime_ns, s.st_mtime_ns, s.st_ctime_ns)
        old = by_ino.get(s.st_ino)
        for i, t in enumerate('amc'):
            e[t] = 'new' if old is None else ('same' if times[i] == old[i] else 'changed')
        raw[w] = (s.st_ino, times)
        out[w] = e
    return out, raw


def listing(casedir):
    """Every name under the case directory with its type; by file descriptor, so depth is no limit."""
    out = []
    for dirpath, dirnames, filenames, dirfd in os.fwalk(casedir.encode()):
        rel = os.path.relpath(dirpath, casedir.encode())
        for n in dirnames + filenames:
            p = os.path.join(rel, n) if rel != b'.' else n
            s = os.lstat(n, dir_fd=dirfd)
            out.append('%s %s' % (show_name(p), TYPES.get(stat.S_IFMT(s.st_mode), '?')))
    return sorted(out)


def main():
    spec = json.load(sys.stdin)
    root = spec['root']
    gap = spec.get('gap_ms', 25) / 1000
    cases = spec['cases']
    os.umask(0o022)
    state = []
    for i, case in enumerate(cases):
        casedir = os.path.join(root, 'c%d' % i)
        d = case.get('dir', {})
        os.mkdir(casedir)
        os.chown(casedir, d.get('uid', 0), d.get('gid', 0))
        os.chmod(casedir, d.get('mode', 0o777))
        os.chdir(casedir)
        scope = dict(SCOPE)
        setup = [execute(s, scope) for s in case.get('setup', [])]
        os.chdir(root)
        watch = ['.'] + case.get('watch', [])
        snap, raw = snapshot(casedir, watch, {})
        state.append({'casedir': casedir, 'watch': watch, 'raw': raw,
                      'out': {'setup': setup, 'rounds': []}})
    nrounds = max((len(c.get('rounds', [])) for c in cases), default=0)
    for k in range(nrounds):
        time.sleep(gap)
        for case, st_ in zip(cases, state):
            rounds = case.get('rounds', [])
            if k < len(rounds):
                rnd = rounds[k]
                st_['pending'] = run_round(st_['casedir'], rnd.get('as', 'root'), rnd['ops'])
        for case, st_ in zip(cases, state):
            if k < len(case.get('rounds', [])):
                snap, st_['raw'] = snapshot(st_['casedir'], st_['watch'], st_['raw'])
                st_['out']['rounds'].append({'results': st_.pop('pending'), 'stat': snap})
    for st_ in state:
        st_['out']['listing'] = listing(st_['casedir'])
    json.dump([s['out'] for s in state], sys.stdout)


main()
