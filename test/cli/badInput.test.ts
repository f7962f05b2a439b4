// Bad input to the dfs command: every case prints exactly one line on stderr, starting `dfs`, that
// names the problem and the fix, exits non-zero (1, or 2 for a flag the parser does not know), and
// changes nothing: the meta folder, every node folder and the mount point of every cluster below
// (and the folders the case names) are byte-for-byte the same afterwards (names, types, modes,
// sizes and contents; directory times are not compared, as a write probe that is removed again
// touches them), and nothing is left mounted.
//
// `dfs mount` cases run both ways users start it: in the background (the default, where the daemon
// is a detached child whose error the parent passes on) and with --foreground.

import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cluster, DFS_BIN, REPO_ROOT, isMounted, makeCluster, stopAllAfterAll, stopAllDfs } from '../helpers/mount.js'
import { run } from '../helpers/run.js'
import { makeTempDir } from '../helpers/tmp.js'
import { treeListing } from '../helpers/tree.js'

stopAllAfterAll()

const root = makeTempDir('dfs-cli-bad-').path
const env = { DFS_RUNTIME_DIR: join(root, 'runtime') }

function dfs(args: string[]) {
  return run(process.execPath, [DFS_BIN, ...args], { cwd: REPO_ROOT, env, timeout: 60_000 })
}

// ---- the folders the cases use -------------------------------------------------------------------

/** An existing cluster: 2 replicas, 64 KiB chunks, one file; unmounted. */
let made: Cluster
/** Another existing cluster (default settings); unmounted. */
let other: Cluster
/** Empty folders for a cluster that does not exist yet. */
let fresh: Cluster
/** A cluster mounted by a background `dfs mount` for the whole file, and its log. */
let live: Cluster
let liveLog: string
let livePid: number | undefined
/** A cluster with an empty folder inside its meta folder, and a copy of one of its node folders. */
let nested: Cluster
const copiedNode = join(root, 'copied-node')
/** A tmpfs mounted for the whole file: a mount point that is already taken, not by dfs. */
const tmpfsMnt = join(root, 'tmpfs-mnt')
const openSecret = join(root, 'secret-644')
const privateSecret = join(root, 'secret-600')
const roBind = join(root, 'read-only-node')
const aFile = join(root, 'a-file')
const notEmpty = join(root, 'not-empty')
const newerMeta = join(root, 'meta-format-99')

beforeAll(async () => {
  made = makeCluster(3, 'dfs-cli-made-')
  other = makeCluster(3, 'dfs-cli-other-')
  fresh = makeCluster(3, 'dfs-cli-fresh-')
  live = makeCluster(3, 'dfs-cli-live-')
  nested = makeCluster(3, 'dfs-cli-nested-')

  const a = await made.start({ replicas: 2, chunkSize: '64k', extraArgs: ['--cache', '1M'] })
  await writeFile(join(root, 'payload'), 'some bytes\n')
  expect((await run('cp', [join(root, 'payload'), join(made.mnt, 'payload')])).code).toBe(0)
  await a.stop()
  const b = await other.start()
  await b.stop()
  const c = await nested.start()
  await c.stop()
  await mkdir(join(nested.meta, 'node_4'))
  expect((await run('cp', ['-a', made.nodes[2], copiedNode])).code).toBe(0)

  // The user's way: `dfs mount` without --foreground returns once the background daemon has mounted.
  const started = await dfs(['mount', live.mnt, '--nodes', live.nodes.join(','), '--meta', live.meta, '--cache', '1M'])
  expect(started.code, started.stderr).toBe(0)
  liveLog = /; log: (.*)$/m.exec(started.stdout)?.[1] ?? ''
  expect(liveLog, started.stdout).not.toBe('')
  for (const name of await readdir(env.DFS_RUNTIME_DIR)) {
    if (!name.endsWith('.json')) continue
    const record = JSON.parse(await readFile(join(env.DFS_RUNTIME_DIR, name), 'utf8')) as { pid: number; mountpoint: string }
    if (record.mountpoint === live.mnt) livePid = record.pid
  }
  expect(livePid).toBeDefined()

  await writeFile(aFile, 'not a folder\n')
  await writeFile(openSecret, 'a cluster secret\n', { mode: 0o644 })
  await writeFile(privateSecret, 'a cluster secret\n', { mode: 0o600 })
  await mkdir(tmpfsMnt)
  const tmpfs = await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', tmpfsMnt])
  expect(tmpfs.code, tmpfs.stderr).toBe(0)
  await mkdir(notEmpty)
  await writeFile(join(notEmpty, 'keep-me'), 'precious\n')
  // Root ignores permission bits, so a read-only bind mount is what makes a folder unwritable here.
  await mkdir(roBind)
  const bind = await run('mount', ['--bind', '-o', 'ro', roBind, roBind])
  expect(bind.code, bind.stderr).toBe(0)
  expect((await run('cp', ['-a', made.meta, newerMeta])).code).toBe(0)
  const format = JSON.parse(await readFile(join(newerMeta, 'format.json'), 'utf8')) as { format: number }
  format.format = 99
  await writeFile(join(newerMeta, 'format.json'), JSON.stringify(format, null, 2))
})

afterAll(async () => {
  // The background daemon is not one the helpers started: stop it the user's way, then by its pid.
  if (isMounted(live.mnt)) await dfs(['unmount', live.mnt])
  if (livePid !== undefined) {
    // Still running (its pid not reused by something else: the command line names its mount point).
    const cmdline = await readFile(`/proc/${livePid}/cmdline`, 'utf8').catch(() => '')
    if (cmdline.includes(live.mnt)) process.kill(livePid, 'SIGKILL')
  }
  await stopAllDfs()
  if (isMounted(roBind)) await run('umount', [roBind])
  if (isMounted(tmpfsMnt)) await run('umount', [tmpfsMnt])
  // Anything a broken case mounted: stopAllAfterAll's cleanup unmounts below the temp folders.
})

// ---- the cases -----------------------------------------------------------------------------------

interface Case {
  name: string
  args: () => string[]
  /** Exit code: 1, or 2 for an unknown flag. */
  exit?: number
  problem: RegExp
  fix: RegExp
  /** The error code the line ends with, `[CODE]`; undefined for commander's own messages. */
  tag?: string
  /** Folders that must not change. */
  watch: () => string[]
  /** Mount points that must not end up mounted. */
  notMounted?: () => string[]
  /** Only `dfs mount` cases run in the foreground too. */
  mount?: boolean
}

const nodes = (c: Cluster) => c.nodes.join(',')
const freshFolders = () => [...fresh.nodes, fresh.meta, fresh.mnt]
/** Every cluster's meta folder, node folders and mount point (but the live one's: it is in use). */
const everyCluster = () => [made, other, fresh, nested].flatMap(c => [...c.nodes, c.meta, c.mnt]).concat(copiedNode, tmpfsMnt)

const cases: Case[] = [
  {
    name: 'mount point missing',
    args: () => ['mount', join(root, 'no-such-mnt'), '--nodes', nodes(fresh), '--meta', fresh.meta],
    problem: /mount point \S*no-such-mnt does not exist/, fix: /mkdir -p \S*no-such-mnt/, tag: 'MOUNTPOINT_INVALID',
    watch: () => [...freshFolders(), join(root, 'no-such-mnt')], mount: true,
  },
  {
    name: 'mount point is not a directory',
    args: () => ['mount', aFile, '--nodes', nodes(fresh), '--meta', fresh.meta],
    problem: /mount point \S*a-file is not a directory/, fix: /pass an empty folder/, tag: 'MOUNTPOINT_INVALID',
    watch: () => [...freshFolders(), aFile], mount: true,
  },
  {
    name: 'mount point is not empty',
    args: () => ['mount', notEmpty, '--nodes', nodes(fresh), '--meta', fresh.meta],
    problem: /mount point \S*not-empty is not empty/, fix: /pass an empty folder/, tag: 'MOUNTPOINT_INVALID',
    watch: () => [...freshFolders(), notEmpty], notMounted: () => [notEmpty], mount: true,
  },
  {
    name: 'mount point already mounted by a running dfs',
    args: () => ['mount', live.mnt, '--nodes', nodes(fresh), '--meta', fresh.meta],
    problem: /\S*mnt is already mounted \(fuse\.dfs\)/, fix: /dfs unmount \S*mnt|pick another folder/, tag: 'MOUNTPOINT_INVALID',
    watch: () => freshFolders(), mount: true,
  },
  {
    name: 'a node folder missing',
    args: () => ['mount', fresh.mnt, '--nodes', `${fresh.nodes[0]},${fresh.nodes[1]},${join(root, 'no-such-node')}`, '--meta', fresh.meta],
    problem: /node folder \S*no-such-node does not exist/, fix: /mkdir -p \S*no-such-node/, tag: 'NODE_FOLDER_INVALID',
    watch: () => [...freshFolders(), join(root, 'no-such-node')], mount: true,
  },
  {
    name: 'a node folder that is a file',
    args: () => ['mount', fresh.mnt, '--nodes', `${fresh.nodes[0]},${fresh.nodes[1]},${aFile}`, '--meta', fresh.meta],
    problem: /node folder \S*a-file is not a directory/, fix: /pass a folder/, tag: 'NODE_FOLDER_INVALID',
    watch: () => [...freshFolders(), aFile], mount: true,
  },
  {
    name: 'a node folder that is not writable (read-only mount)',
    args: () => ['mount', fresh.mnt, '--nodes', `${fresh.nodes[0]},${fresh.nodes[1]},${roBind}`, '--meta', fresh.meta],
    problem: /node folder \S*read-only-node is not writable \(EROFS\)/, fix: /make it writable or pass another folder/, tag: 'NODE_FOLDER_INVALID',
    watch: () => [...freshFolders(), roBind], mount: true,
  },
  {
    name: 'fewer node folders than --replicas',
    args: () => ['mount', fresh.mnt, '--nodes', `${fresh.nodes[0]},${fresh.nodes[1]}`, '--meta', fresh.meta, '--replicas', '3'],
    problem: /2 node folders cannot hold 3 replicas/, fix: /pass at least 3 folders to --nodes or lower --replicas/, tag: 'NOT_ENOUGH_NODES',
    watch: freshFolders, mount: true,
  },
  {
    name: 'node folders of cluster A with the meta folder of cluster B',
    args: () => ['mount', fresh.mnt, '--nodes', nodes(made), '--meta', other.meta],
    problem: /node folder \S*node_1 belongs to cluster \S+, not \S+/, fix: /pass the --meta folder of that cluster/, tag: 'META_FOREIGN',
    watch: () => [...made.nodes, made.meta, ...other.nodes, other.meta, fresh.mnt], mount: true,
  },
  {
    name: 'node folders of an existing cluster with a new, empty meta folder',
    args: () => ['mount', fresh.mnt, '--nodes', nodes(made), '--meta', fresh.meta],
    problem: /node folder \S*node_1 belongs to cluster \S+, not the new cluster being created/, fix: /pass the --meta folder of that cluster/, tag: 'META_FOREIGN',
    watch: () => [...made.nodes, made.meta, fresh.meta, fresh.mnt], mount: true,
  },
  {
    name: 'a meta folder of a newer format',
    args: () => ['mount', fresh.mnt, '--meta', newerMeta],
    problem: /metadata in \S*meta-format-99 has format 99; this dfs understands up to 1/, fix: /upgrade dfs/, tag: 'META_TOO_NEW',
    watch: () => [newerMeta, ...made.nodes, fresh.mnt], mount: true,
  },
  {
    name: 'an unknown flag',
    args: () => ['mount', fresh.mnt, '--nodes', nodes(fresh), '--meta', fresh.meta, '--replica', '2'],
    exit: 2, problem: /unknown option '--replica'/, fix: /--replicas\?|see dfs mount --help/,
    watch: freshFolders, mount: true,
  },
  {
    name: 'neither --meta nor --namenode',
    args: () => ['mount', fresh.mnt, '--nodes', nodes(fresh)],
    problem: /say where the namespace is/, fix: /--meta <dir> \(the NameNode runs in this mount\) or --namenode tcp:\/\/host:port/, tag: 'BAD_ARGUMENT',
    watch: freshFolders, mount: true,
  },
  {
    name: '--meta and --namenode together',
    args: () => ['mount', fresh.mnt, '--meta', fresh.meta, '--namenode', 'tcp://127.0.0.1:9', '--secret-file', privateSecret],
    problem: /--meta and --namenode exclude each other/, fix: /--namenode uses a running one/, tag: 'BAD_ARGUMENT',
    watch: freshFolders, mount: true,
  },
  {
    name: '--namenode without --secret-file',
    args: () => ['mount', fresh.mnt, '--namenode', 'tcp://127.0.0.1:9'],
    problem: /--namenode needs --secret-file/, fix: /the cluster secret the NameNode and DataNodes share/, tag: 'BAD_ARGUMENT',
    watch: freshFolders, mount: true,
  },
  {
    name: '--namenode with --nodes (the NameNode\'s flag)',
    args: () => ['mount', fresh.mnt, '--namenode', 'tcp://127.0.0.1:9', '--secret-file', privateSecret, '--nodes', nodes(fresh)],
    problem: /--nodes is the NameNode's to set, not a client's/, fix: /give it to dfs namenode/, tag: 'BAD_ARGUMENT',
    watch: freshFolders, mount: true,
  },
  {
    name: '--namenode that is not tcp://host:port',
    args: () => ['mount', fresh.mnt, '--namenode', '127.0.0.1:7000', '--secret-file', privateSecret],
    problem: /--namenode "127\.0\.0\.1:7000" does not start with tcp:\/\//, fix: /write it as tcp:\/\/127\.0\.0\.1:7000/, tag: 'BAD_ARGUMENT',
    watch: freshFolders, mount: true,
  },
  {
    name: '--namenode where nothing listens',
    args: () => ['mount', fresh.mnt, '--namenode', 'tcp://127.0.0.1:9', '--secret-file', privateSecret],
    problem: /cannot use the NameNode at tcp:\/\/127\.0\.0\.1:9 \(.*ECONNREFUSED/, fix: /start it there \(dfs namenode --listen …\) or fix --namenode/, tag: 'NAMENODE_UNAVAILABLE',
    watch: freshFolders, mount: true,
  },
  {
    name: 'dfs namenode with a bad --listen',
    args: () => ['namenode', '--meta', fresh.meta, '--nodes', nodes(fresh), '--listen', 'nowhere', '--secret-file', privateSecret],
    problem: /--listen/, fix: /host:port/, tag: 'BAD_ARGUMENT',
    watch: freshFolders,
  },
  {
    name: 'an unknown command',
    args: () => ['mout', fresh.mnt],
    exit: 2, problem: /unknown command 'mout'/, fix: /Did you mean mount\?/,
    watch: freshFolders,
  },
  {
    name: 'a malformed size',
    args: () => ['mount', fresh.mnt, '--nodes', nodes(fresh), '--meta', fresh.meta, '--chunk-size', '12q'],
    problem: /--chunk-size "12q" is not a size/, fix: /write it like 4M/, tag: 'BAD_ARGUMENT',
    watch: freshFolders, mount: true,
  },
  {
    name: 'a chunk size that is not a power of two',
    args: () => ['mount', fresh.mnt, '--nodes', nodes(fresh), '--meta', fresh.meta, '--chunk-size', '100k'],
    problem: /--chunk-size must be a power of two between 64K and 256M, not 102400 bytes/, fix: /power of two/, tag: 'BAD_ARGUMENT',
    watch: freshFolders, mount: true,
  },
  {
    name: '--replicas 3 on a cluster created with 2',
    args: () => ['mount', made.mnt, '--meta', made.meta, '--replicas', '3'],
    problem: /this cluster keeps 2 replicas \(set when it was created\)/, fix: /drop --replicas or pass --replicas 2/, tag: 'SETTING_CONFLICT',
    watch: () => [...made.nodes, made.meta, made.mnt], notMounted: () => [made.mnt], mount: true,
  },
  {
    name: 'another --chunk-size on a cluster created with 64k',
    args: () => ['mount', made.mnt, '--nodes', nodes(made), '--meta', made.meta, '--chunk-size', '1M'],
    problem: /this cluster uses 65536-byte chunks/, fix: /drop --chunk-size or pass --chunk-size 65536/, tag: 'SETTING_CONFLICT',
    watch: () => [...made.nodes, made.meta, made.mnt], notMounted: () => [made.mnt], mount: true,
  },
  {
    name: 'dfs fsck --repair of an empty meta folder (must not create a cluster)',
    args: () => ['fsck', '--meta', fresh.meta, '--nodes', nodes(fresh), '--repair'],
    problem: /\S*meta holds no dfs cluster/, fix: /pass the --meta folder given to dfs mount/, tag: 'META_FOREIGN',
    watch: freshFolders,
  },
  {
    name: 'dfs unmount where nothing is mounted',
    args: () => ['unmount', fresh.mnt],
    problem: /nothing from dfs is mounted at \S*mnt/, fix: /findmnt -t fuse\.dfs/, tag: 'NOT_MOUNTED',
    watch: freshFolders,
  },
  {
    name: 'dfs unmount of a folder that does not exist',
    args: () => ['unmount', join(root, 'no-such-mnt')],
    problem: /nothing from dfs is mounted at \S*no-such-mnt/, fix: /findmnt -t fuse\.dfs/, tag: 'NOT_MOUNTED',
    watch: () => [join(root, 'no-such-mnt')],
  },
  {
    name: 'a copied node folder (same node id) added to --nodes',
    args: () => ['mount', made.mnt, '--nodes', `${nodes(made)},${copiedNode}`, '--meta', made.meta],
    problem: /node \S*copied-node has the same node id \(\w+\) as node \S*node_3: it is a copy of that folder/,
    fix: /empty \S*copied-node to make it a new node, or leave it out of --nodes/, tag: 'NODE_ID_DUPLICATE',
    watch: () => [...made.nodes, made.meta, made.mnt, copiedNode], notMounted: () => [made.mnt], mount: true,
  },
  {
    name: 'dfs fsck --repair with a copied node folder',
    args: () => ['fsck', '--meta', made.meta, '--nodes', `${nodes(made)},${copiedNode}`, '--repair'],
    problem: /node \S*copied-node has the same node id/, fix: /leave it out of --nodes/, tag: 'NODE_ID_DUPLICATE',
    watch: () => [...made.nodes, made.meta, copiedNode],
  },
  {
    name: 'the mount point listed as a node folder',
    args: () => ['mount', fresh.mnt, '--nodes', `${fresh.nodes[0]},${fresh.nodes[1]},${fresh.mnt}`, '--meta', fresh.meta],
    problem: /node folder \S*mnt is the mount point \S*mnt/, fix: /give every node folder, the metadata folder and the mount point a folder of its own/, tag: 'FOLDERS_OVERLAP',
    watch: freshFolders, mount: true,
  },
  {
    name: 'the meta folder listed as a node folder',
    args: () => ['mount', fresh.mnt, '--nodes', `${fresh.nodes[0]},${fresh.nodes[1]},${fresh.meta}`, '--meta', fresh.meta],
    problem: /node folder \S*meta is the metadata folder \S*meta/, fix: /a folder of its own, none inside another/, tag: 'FOLDERS_OVERLAP',
    watch: freshFolders, mount: true,
  },
  {
    name: 'a new node folder inside the meta folder of an existing cluster',
    args: () => ['mount', nested.mnt, '--nodes', `${nodes(nested)},${join(nested.meta, 'node_4')}`, '--meta', nested.meta],
    problem: /node folder \S*meta\/node_4 is inside the metadata folder \S*meta/, fix: /a folder of its own, none inside another/, tag: 'FOLDERS_OVERLAP',
    watch: () => [...nested.nodes, nested.meta, nested.mnt], notMounted: () => [nested.mnt], mount: true,
  },
  {
    name: 'dfs fsck with the meta folder listed as a node',
    args: () => ['fsck', '--meta', made.meta, '--nodes', `${nodes(made)},${made.meta}`],
    problem: /node folder \S*meta is the metadata folder \S*meta/, fix: /a folder of its own/, tag: 'FOLDERS_OVERLAP',
    watch: () => [...made.nodes, made.meta],
  },
  {
    name: 'dfs fsck --release-orphans together with --repair',
    args: () => ['fsck', '--meta', made.meta, '--release-orphans', '--repair'],
    problem: /--release-orphans and --repair are separate steps/, fix: /release the hold first, then run dfs fsck/, tag: 'BAD_ARGUMENT',
    watch: () => [...made.nodes, made.meta],
  },
  {
    name: 'a duration without a unit (--heartbeat 5)',
    args: () => ['mount', fresh.mnt, '--nodes', nodes(fresh), '--meta', fresh.meta, '--heartbeat', '5'],
    problem: /--heartbeat "5" needs a unit/, fix: /write 5s or 5ms/, tag: 'BAD_ARGUMENT',
    watch: freshFolders, mount: true,
  },
  {
    name: 'a duration below its lower bound (--heartbeat 10ms)',
    args: () => ['mount', fresh.mnt, '--nodes', nodes(fresh), '--meta', fresh.meta, '--heartbeat', '10ms'],
    problem: /--heartbeat 10ms is too short/, fix: /pass at least 100ms/, tag: 'BAD_ARGUMENT',
    watch: freshFolders, mount: true,
  },
  {
    name: 'a DataNode server given without tcp://',
    args: () => ['mount', fresh.mnt, '--nodes', `${fresh.nodes[0]},${fresh.nodes[1]},127.0.0.1:47101`, '--meta', fresh.meta],
    problem: /node 127\.0\.0\.1:47101 looks like a DataNode server without tcp:\/\//, fix: /write tcp:\/\/127\.0\.0\.1:47101/, tag: 'BAD_ARGUMENT',
    watch: freshFolders, mount: true,
  },
  {
    name: 'a mount point where a tmpfs is mounted',
    args: () => ['mount', tmpfsMnt, '--nodes', nodes(fresh), '--meta', fresh.meta],
    problem: /\S*tmpfs-mnt is already mounted \(tmpfs\)/, fix: /pick another folder, or unmount it first \(umount \S*tmpfs-mnt/, tag: 'MOUNTPOINT_INVALID',
    watch: freshFolders, mount: true,
  },
  {
    name: '--meta naming a file',
    args: () => ['mount', fresh.mnt, '--nodes', nodes(fresh), '--meta', aFile],
    problem: /metadata folder \S*a-file is a file, not a folder/, fix: /pass a folder/, tag: 'META_FOREIGN',
    watch: () => [...freshFolders(), aFile], mount: true,
  },
  {
    name: 'a secret file others can read (mode 644)',
    args: () => ['mount', fresh.mnt, '--nodes', nodes(fresh), '--meta', fresh.meta, '--secret-file', openSecret],
    problem: /--secret-file \S*secret-644 is open to other users \(mode 644\)/, fix: /chmod 600 \S*secret-644/, tag: 'SECRET_FILE_UNSAFE',
    watch: () => [...freshFolders(), openSecret], mount: true,
  },
  {
    name: 'dfs datanode with a secret file others can read (mode 644)',
    args: () => ['datanode', '--dir', fresh.nodes[0], '--listen', '127.0.0.1:0', '--secret-file', openSecret],
    problem: /--secret-file \S*secret-644 is open to other users/, fix: /chmod 600/, tag: 'SECRET_FILE_UNSAFE',
    watch: () => [...freshFolders(), openSecret],
  },
  {
    name: '--log-dir where no folder can be made (/proc/nope: Node\'s recursive mkdir spun there forever)',
    args: () => ['mount', fresh.mnt, '--nodes', nodes(fresh), '--meta', fresh.meta, '--log-dir', '/proc/nope'],
    problem: /--log-dir \/proc\/nope cannot be created/, fix: /pass a folder you can write/, tag: 'BAD_ARGUMENT',
    watch: freshFolders, mount: true,
  },
  {
    name: '--log-dir naming a file',
    args: () => ['mount', fresh.mnt, '--nodes', nodes(fresh), '--meta', fresh.meta, '--log-dir', aFile],
    problem: /--log-dir \S*a-file is a file, not a folder/, fix: /pass a folder you can write/, tag: 'BAD_ARGUMENT',
    watch: () => [...freshFolders(), aFile], mount: true,
  },
  {
    name: '--log-dir below a file',
    args: () => ['mount', fresh.mnt, '--nodes', nodes(fresh), '--meta', fresh.meta, '--log-dir', join(aFile, 'logs')],
    problem: /--log-dir \S*a-file \(in \S*a-file\/logs\) is a file, not a folder/, fix: /pass a folder you can write/, tag: 'BAD_ARGUMENT',
    watch: () => [...freshFolders(), aFile], mount: true,
  },
  {
    name: 'dfs unmount --timeout without a unit (leaves the running mount alone)',
    args: () => ['unmount', live.mnt, '--timeout', '5'],
    problem: /--timeout "5" needs a unit/, fix: /write 5s or 5ms/, tag: 'BAD_ARGUMENT',
    watch: () => [],
  },
  {
    name: 'dfs unmount --timeout too short',
    args: () => ['unmount', live.mnt, '--timeout', '10ms'],
    problem: /--timeout 10ms is too short/, fix: /pass at least 1s/, tag: 'BAD_ARGUMENT',
    watch: () => [],
  },
]

const runs = cases.flatMap(c => (c.mount ? [{ ...c, mode: 'background' }, { ...c, mode: 'foreground' }] : [{ ...c, mode: '' }]))

describe('bad input: one line naming the problem and the fix, a non-zero exit, nothing changed', () => {
  it.each(runs)('$name $mode', async c => {
    const watched = [...new Set([...everyCluster(), ...c.watch()])]
    const before = await treeListing(watched)
    const liveLogBefore = await readFile(liveLog, 'utf8')
    const args = c.args().concat(c.mode === 'foreground' ? ['--foreground'] : [])

    const r = await dfs(args)

    const shown = `$ dfs ${args.join(' ')}\nexit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`
    expect(r.code, shown).toBe(c.exit ?? 1)
    expect(r.stdout, shown).toBe('')
    const lines = r.stderr.trimEnd().split('\n')
    expect(lines, shown).toHaveLength(1)
    const line = lines[0]
    expect(line, shown).toMatch(/^dfs[ :]/)
    expect(line, shown).toMatch(c.problem)
    expect(line, shown).toMatch(c.fix)
    if (c.tag) expect(line.match(/\[[A-Z0-9_]+\]/g), shown).toEqual([`[${c.tag}]`])
    else expect(line, shown).not.toMatch(/\[[A-Z0-9_]+\]/)

    expect(await treeListing(watched), `${shown}\nchanged the folders it was given`).toEqual(before)
    for (const mnt of [fresh.mnt, ...(c.notMounted?.() ?? [])]) expect(isMounted(mnt), `${mnt} mounted`).toBe(false)
    // The running background daemon was left alone, its log included.
    expect(isMounted(live.mnt)).toBe(true)
    expect((await readFile(liveLog, 'utf8')).startsWith(liveLogBefore), 'the running daemon\'s log was clobbered').toBe(true)
    expect((await run('stat', [live.mnt])).code).toBe(0)
  })
})
