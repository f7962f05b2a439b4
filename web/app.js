// The dfs dashboard page: /api/live (server-sent events) brings the status every second and the
// cluster's events, the recent ones first; /api/ls and /api/file on demand. No reload, no build
// step, no network beyond this server. Everything the cluster
// names (files, nodes, hosts) goes into the page as text, never as HTML.
'use strict'

const $ = (selector) => document.querySelector(selector)

/** An element with attributes (class, data-*, …) and children (strings become text). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue
    if (key === 'onclick') node.addEventListener('click', value)
    else if (key === 'style') Object.assign(node.style, value)
    else node.setAttribute(key, value === true ? '' : String(value))
  }
  for (const child of children.flat(Infinity)) if (child !== undefined && child !== null) node.append(child instanceof Node ? child : String(child))
  return node
}

// ---- formatting ------------------------------------------------------------------------------------

function size(bytes) {
  if (bytes === undefined || bytes === null) return '–'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let n = bytes
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`
}

function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`
}

const rate = (bytesPerSec) => (bytesPerSec === undefined ? '–' : `${size(Math.round(bytesPerSec))}/s`)
const ago = (at) => (at ? `${duration(Date.now() - at)} ago` : 'never')
const clock = (at) => new Date(at).toLocaleTimeString()

/** A node's state in one word: the NameNode's (src/cluster/nodeState.ts), as dfs status shows it. */
const nodeState = (n) => n.state

/** A node as an operator knows it: host:port of a server, the last part of a folder (`node_1`). */
function shortAddress(address) {
  if (address.startsWith('tcp://')) return address.slice('tcp://'.length)
  return address.replace(/\/+$/, '').split('/').pop() || address
}

/** Short names of the status's nodes by id; a node id prefix where two nodes' short names are the same. */
function nodeNames(nodes) {
  const short = nodes.map((n) => shortAddress(n.address))
  return new Map(nodes.map((n, i) => [n.nodeId, short.indexOf(short[i]) === short.lastIndexOf(short[i]) ? short[i] : n.nodeId.slice(0, 8)]))
}

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`

// ---- state -----------------------------------------------------------------------------------------

let status = null
let statusAt = 0
/** Per node: read/write bytes per second, from the difference of two statuses. */
let nodeRates = new Map()
let previousIo = null

/** Bytes each DataNode served to and took from the clients, summed over clients (their counters are cumulative). */
function nodeIo(s) {
  const io = new Map()
  if (!Array.isArray(s.clients)) return null
  for (const client of s.clients) {
    for (const [nodeId, n] of Object.entries(client.counters?.nodes ?? {})) {
      const sum = io.get(nodeId) ?? { readBytes: 0, writeBytes: 0 }
      sum.readBytes += n.readBytes
      sum.writeBytes += n.writeBytes
      io.set(nodeId, sum)
    }
  }
  return io
}

function onStatus(s) {
  const now = Date.now()
  // Another NameNode run (a restart): its events are numbered from 1 again.
  const run = `${s.pid} ${s.meta}`
  if (status && `${status.pid} ${status.meta}` !== run) clearEvents()
  const io = nodeIo(s)
  // Timed by the NameNode's clock (its uptime), not by when the statuses arrived here.
  const seconds = previousIo ? (s.uptimeMs - previousIo.uptimeMs) / 1000 : 0
  if (io && previousIo && seconds > 0) {
    nodeRates = new Map()
    for (const [nodeId, n] of io) {
      const before = previousIo.io.get(nodeId) ?? { readBytes: 0, writeBytes: 0 }
      nodeRates.set(nodeId, {
        read: Math.max(0, n.readBytes - before.readBytes) / seconds,
        write: Math.max(0, n.writeBytes - before.writeBytes) / seconds,
      })
    }
  }
  previousIo = io ? { uptimeMs: s.uptimeMs, io } : null
  status = s
  statusAt = now
  renderSummary()
  renderNodes()
  renderHealth()
  renderClients()
  renderDistribution()
  followListing().then(followOpenFile)
}

// ---- panels ----------------------------------------------------------------------------------------

function renderSummary() {
  const s = status
  $('#summary').dataset.pid = s.pid
  $('#summary').textContent =
    `${s.mountpoint} · ${s.totals.alive}/${s.totals.nodes} nodes alive · ${s.replicas} replicas · ` +
    `${size(s.chunkSize)} chunks · ${plural(s.chunks.files, 'file', 'files')} · ${size(s.totals.used)} used of ${size(s.totals.capacity)} · up ${duration(s.uptimeMs)}`
}

function usageBar(n) {
  if (!n.capacity) return el('span', { class: 'usage' }, el('small', {}, 'no report yet'))
  const used = n.capacity - (n.available ?? 0)
  const share = Math.min(100, (100 * used) / n.capacity)
  return el('span', { class: 'usage', title: `${size(n.used)} by dfs, ${size(used)} of the disk in use` },
    el('span', { class: share > 85 ? 'bar high' : 'bar' }, el('span', { style: { width: `${share.toFixed(1)}%` } })),
    el('small', {}, `${size(used)} / ${size(n.capacity)}`))
}

function renderNodes() {
  const rows = status.nodes.map((n) => {
    const state = nodeState(n)
    const r = nodeRates.get(n.nodeId)
    return el('tr', { 'data-node-id': n.nodeId, 'data-state': state },
      el('td', { class: 'mono' }, n.nodeId),
      el('td', {}, el('span', { class: `state ${state}`, title: n.reason }, state)),
      el('td', { class: 'age', 'data-age': n.heartbeatAgeMs }, `${duration(n.heartbeatAgeMs)} ago`),
      el('td', {}, el('span', { class: 'mono' }, n.address), n.reason ? el('small', { class: 'reason' }, n.reason) : null),
      el('td', {}, usageBar(n)),
      el('td', { class: 'num' }, n.chunks ?? '–'),
      el('td', { class: 'num' }, r ? rate(r.read) : '–'),
      el('td', { class: 'num' }, r ? rate(r.write) : '–'))
  })
  $('#nodes tbody').replaceChildren(...rows)
}

/** The heartbeat age keeps ticking between statuses (and while the stream is down). */
function tickAges() {
  if (!status) return
  const since = Date.now() - statusAt
  for (const cell of document.querySelectorAll('#nodes td.age')) {
    cell.textContent = `${duration(Number(cell.dataset.age) + since)} ago`
  }
  for (const cell of document.querySelectorAll('#chunks small[data-verified-at]')) cell.textContent = verified(Number(cell.dataset.verifiedAt))
}

function facts(pairs) {
  return el('dl', {}, pairs.filter(Boolean).map(([term, value, tone]) => [el('dt', {}, term), el('dd', { class: tone }, value)]))
}

function progress(done, total) {
  const share = total > 0 ? Math.min(100, (100 * done) / total) : 0
  return el('span', { class: 'usage' }, el('span', { class: 'bar' }, el('span', { style: { width: `${share.toFixed(1)}%` } })), el('small', {}, `${done} / ${total}`))
}

function renderHealth() {
  const { chunks, healer, scrubber, rebalance, replicas } = status
  // Chunks by intact copies, most first: R (or more) is healthy, fewer is at risk, none is unreadable.
  const byCopies = chunks.byCopies
    .map((count, copies) => [copies, count])
    .filter(([copies, count]) => count > 0 || copies === replicas)
    .reverse()
    .map(([copies, count]) => [`chunks with ${copies} intact ${copies === 1 ? 'copy' : 'copies'}`, count, copies === 0 ? 'bad' : copies < replicas && count > 0 ? 'warn' : undefined])
  // Stripes (erasure-coded chunks) by shards not live, whole first (the census's byMissingShards; absent without any).
  const byMissing = (chunks.byMissingShards ?? [])
    .map((count, missing) => [missing, count])
    .filter(([missing, count]) => count > 0 || missing === 0)
    .map(([missing, count]) => [missing === 0 ? 'whole stripes' : `stripes missing ${plural(missing, 'shard', 'shards')}`, count, missing > 0 && count > 0 ? 'warn' : undefined])
  const parts = [
    facts([
      ...byCopies,
      ...byMissing,
      ['under-replicated', chunks.underReplicated, chunks.underReplicated > 0 ? 'warn' : undefined],
      chunks.waitingForGrace > 0 && ['waiting for grace', chunks.waitingForGrace],
      ['no live copy', chunks.unavailable, chunks.unavailable > 0 ? 'bad' : undefined],
      healer && ['lost', healer.lost, healer.lost > 0 ? 'bad' : undefined],
    ]),
  ]
  // Measured per layout in use: bytes on nodes ÷ bytes of file data (dfs status says the same).
  if (status.overhead?.length) {
    parts.push(el('h3', {}, 'Storage overhead'), el('dl', { id: 'overhead' }, status.overhead.map((o) => [
      el('dt', {}, o.layout),
      el('dd', { 'data-layout': o.layout, 'data-overhead': o.overhead.toFixed(2) }, `${o.overhead.toFixed(2)}× (${size(o.storedBytes)} on nodes for ${size(o.dataBytes)} of data)`),
    ])))
  }
  if (healer) {
    parts.push(el('h3', {}, 'Healer'), facts([
      ['state', healerState(healer, chunks)],
      ['copied', `${healer.copiedChunks} chunks, ${size(healer.copiedBytes)}`],
      ['rate', rate(healer.bytesPerSec)],
      healer.failed > 0 && ['failed repairs', healer.failed, 'warn'],
      ['last scan', ago(healer.lastScanAt)],
    ]))
  }
  if (scrubber) {
    parts.push(el('h3', {}, 'Scrubber'), facts([
      ['state', scrubber.state],
      ['verified', `${scrubber.scannedChunks} copies, ${size(scrubber.scannedBytes)} (${plural(scrubber.passes, 'pass', 'passes')})`],
      ['rate limit', scrubber.bytesPerSec ? rate(scrubber.bytesPerSec) : 'off'],
      ['corrupt / missing found', `${scrubber.corruptFound} / ${scrubber.missingFound}`, scrubber.corruptFound + scrubber.missingFound > 0 ? 'warn' : undefined],
      ['last pass', ago(scrubber.lastPassAt)],
    ]))
  }
  if (rebalance) {
    const what = rebalance.kind === 'drain' ? `Drain of ${rebalance.node?.nodeId ?? '?'}` : 'Balance'
    parts.push(el('h3', {}, `${what}: ${rebalance.state}`), facts([
      ['moved', progress(rebalance.movedChunks, rebalance.plannedChunks)],
      ['bytes', `${size(rebalance.movedBytes)} of ${size(rebalance.plannedBytes)}`],
      ['rate', rate(rebalance.bytesPerSec)],
      rebalance.remainingChunks !== undefined && ['chunks left on the node', rebalance.remainingChunks],
      rebalance.error && ['error', rebalance.error, 'bad'],
    ]))
  }
  $('#health').replaceChildren(...parts)
}

/** What the healer does, and why it does not copy yet while nodes may still come back. */
function healerState(healer, chunks) {
  if (healer.queued > 0) return `${healer.state}, ${healer.queued} queued`
  if (healer.state === 'idle' && chunks.waitingForGrace > 0) {
    return `waiting: ${plural(chunks.waitingForGrace, 'chunk is', 'chunks are')} copied once ${chunks.waitingForGrace === 1 ? 'its node has' : 'their nodes have'} been down for ${duration(healer.graceMs)}`
  }
  return healer.state
}

function renderClients() {
  const clients = status.clients
  const note = $('#clients-note')
  if (!Array.isArray(clients)) {
    $('#clients tbody').replaceChildren()
    note.textContent = clients === undefined ? 'The mount this NameNode runs in.' : `${clients} clients connected.`
    return
  }
  note.textContent = clients.length === 0 ? 'No client is connected.' : ''
  const now = Date.now()
  $('#clients tbody').replaceChildren(...clients.map((c) => el('tr', { 'data-client-id': c.id, class: c.connected ? '' : 'gone' },
    el('td', {}, c.host + (c.inProcess ? ' (in the NameNode)' : '')),
    el('td', { class: 'mono' }, c.mountpoint),
    el('td', { class: 'num' }, c.pid),
    el('td', {}, c.connected ? duration(now - c.startedAt) : 'gone'),
    el('td', { class: 'num' }, c.opsPerSec.toFixed(1)),
    el('td', { class: 'num' }, rate(c.readBytesPerSec)),
    el('td', { class: 'num' }, rate(c.writeBytesPerSec)))))
}

let chart = null
const CHUNK_BAR = '#4a8fd4'
const BYTE_BAR = '#9ccc65'
const STALE_BAR = '#c4c8d0'

function renderDistribution() {
  if (typeof Chart === 'undefined') return
  const names = nodeNames(status.nodes)
  // A node that does not answer keeps the figures of its last report: labelled with its state, greyed.
  const labels = status.nodes.map((n) => (n.health === 'alive' ? names.get(n.nodeId) : `${names.get(n.nodeId)} (${n.state})`))
  const chunks = status.nodes.map((n) => n.chunks ?? 0)
  const mib = status.nodes.map((n) => (n.used ?? 0) / 1048576)
  const colours = (colour) => status.nodes.map((n) => (n.health === 'alive' ? colour : STALE_BAR))
  if (!chart) {
    chart = new Chart($('#distribution'), {
      type: 'bar',
      data: {
        labels,
        datasets: [
          { label: 'chunks', data: chunks, backgroundColor: colours(CHUNK_BAR), yAxisID: 'chunks' },
          { label: 'MiB stored', data: mib, backgroundColor: colours(BYTE_BAR), yAxisID: 'bytes' },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: {
          // The legend shows each dataset's own colour, not the first bar's (grey when that node is down).
          legend: { labels: { generateLabels: (c) => Chart.defaults.plugins.legend.labels.generateLabels(c).map((l, i) => ({ ...l, fillStyle: [CHUNK_BAR, BYTE_BAR][i] })) } },
        },
        scales: {
          chunks: { type: 'linear', position: 'left', beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'chunks' } },
          bytes: { type: 'linear', position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: 'MiB' } },
        },
      },
    })
    return
  }
  chart.data.labels = labels
  chart.data.datasets[0].data = chunks
  chart.data.datasets[0].backgroundColor = colours(CHUNK_BAR)
  chart.data.datasets[1].data = mib
  chart.data.datasets[1].backgroundColor = colours(BYTE_BAR)
  chart.update('none')
}

// ---- files -----------------------------------------------------------------------------------------

let dir = '/'

const join = (parent, name) => (parent === '/' ? `/${name}` : `${parent}/${name}`)

async function getJson(url) {
  const res = await fetch(url, { headers: { Accept: 'application/json' } })
  const body = await res.json().catch(() => null)
  if (!res.ok) throw new Error(body?.error?.message ?? `${res.status} ${res.statusText}`)
  return body
}

function renderCrumbs() {
  const parts = dir.split('/').filter(Boolean)
  const crumbs = [el('a', { onclick: () => openDir('/') }, '/')]
  parts.forEach((name, i) => {
    const path = '/' + parts.slice(0, i + 1).join('/')
    crumbs.push(el('a', { onclick: () => openDir(path) }, name), i < parts.length - 1 ? '/' : '')
  })
  $('#crumbs').replaceChildren(...crumbs)
}

/**
 * The listed directory: its first page is listed again when the namespace's files or chunks change
 * (a file written, created or removed), keeping the open file; a listing paged further ("more…")
 * stays as it is until the next click.
 */
let listed = null
/**
 * One more for every click that lists a directory (dirClicks) or shows another file (fileClicks; a
 * directory's click too, since it closes the file): an answer to an older request is dropped.
 */
let dirClicks = 0
let fileClicks = 0

/** What a listing depends on, as the status tells it (renames and mkdirs wait for a click). */
const namespaceVersion = (s) => `${s.chunks.files} ${s.chunks.referenced}`

async function followListing() {
  if (!listed || listed.paged || following || namespaceVersion(status) === listed.version) return
  following = true
  try {
    await openDir(listed.path, undefined, true)
  } finally {
    following = false
  }
}

/** `refresh`: the same directory listed again, the open file kept. */
async function openDir(path, after, refresh = false) {
  const version = status ? namespaceVersion(status) : ''
  const click = refresh ? dirClicks : ++dirClicks
  if (!refresh && !after) {
    fileClicks++
    shownFile = null // no refresh of the file this click closes
  }
  try {
    const listing = await getJson(`api/ls?path=${encodeURIComponent(path)}${after ? `&after=${encodeURIComponent(after)}` : ''}`)
    if (click !== dirClicks) return // the operator went elsewhere meanwhile
    dir = listing.path
    renderCrumbs()
    const rows = listing.entries.map((e) => {
      const path = join(dir, e.name)
      const name = e.type === 'dir' ? el('a', { onclick: () => openDir(path) }, `${e.name}/`)
        : e.type === 'file' ? el('a', { onclick: () => openFile(path) }, e.name)
          : el('span', {}, e.name)
      return el('tr', { 'data-path': path, 'data-type': e.type, class: refresh && shownFile?.path === path ? 'selected' : undefined },
        el('td', {}, name), el('td', { class: 'num' }, e.type === 'file' ? size(e.size) : ''), el('td', { class: 'num' }, e.type === 'file' ? e.chunks : ''))
    })
    if (after) {
      $('#files tbody').append(...rows)
      listed = { ...listed, paged: true }
    } else {
      $('#files tbody').replaceChildren(...rows)
      listed = { path: dir, version, paged: false }
      if (!refresh) $('#placement').replaceChildren()
    }
    const more = $('#more')
    more.hidden = !listing.next
    more.onclick = () => openDir(dir, listing.next)
  } catch (err) {
    listed = null
    $('#placement').replaceChildren(el('p', { class: 'note' }, `${path}: ${err.message}`))
  }
}

function chunkRows(p) {
  const names = nodeNames(status?.nodes ?? [])
  // A stripe (ec:k+m) lists each shard's node as a copy, marked with the shard's index; a lost shard (no node) is a copy-like "lost" mark.
  const shardTitle = (c, i) => {
    const shard = c.shards?.find((s) => s.index === i)
    return shard ? `, shard ${i}: id ${shard.id}, sha256 ${shard.sha256}` : ''
  }
  return p.chunks.map((c) => el('tr', { 'data-chunk': c.index, 'data-copies': c.copies.length, 'data-intact': c.intact, 'data-layout': c.layout },
    el('td', { class: 'num' }, c.index),
    el('td', { class: 'mono', title: `sha256 ${c.sha256}` }, c.id, c.layout && c.layout !== `replicas:${p.replicas}` ? el('small', { class: 'layout' }, ` ${c.layout}`) : undefined),
    el('td', { class: 'num' }, size(c.length)),
    el('td', {}, piecesInOrder(c).map((piece) => piece.lost
      ? el('span', { class: 'copy', 'data-shard': piece.lost.index, 'data-state': 'lost', title: `shard ${piece.lost.index}: no node holds it (the healer rebuilds it)${shardTitle(c, piece.lost.index)}` },
        el('span', { class: 'state bad' }, `s${piece.lost.index} lost`))
      : copySpan(c, piece.copy)))))

  function copySpan(c, copy) {
    return el('span', { class: 'copy', 'data-node-id': copy.nodeId, 'data-state': copy.state, 'data-shard': copy.shard, title: `node ${copy.nodeId} (${copy.node}), ${copy.address}${shardTitle(c, copy.shard)}` },
      copy.shard === undefined ? undefined : el('small', { class: 'shard' }, `s${copy.shard}`),
      el('span', { class: `state ${copy.state}` }, copy.state),
      el('span', { class: 'mono' }, names.get(copy.nodeId) ?? shortAddress(copy.address)),
      el('small', { 'data-verified-at': copy.verifiedAt }, verified(copy.verifiedAt)))
  }
}

/** A chunk's copies, and for a stripe its lost shards too, in shard order (a replicated chunk: as listed). */
function piecesInOrder(c) {
  const pieces = c.copies.map((copy) => ({ shard: copy.shard ?? -1, copy }))
  for (const s of c.shards ?? []) if (s.state === 'lost') pieces.push({ shard: s.index, lost: s })
  return pieces.sort((a, b) => a.shard - b.shard)
}

const verified = (at) => (at ? `verified ${ago(at)}` : 'not verified yet')

/**
 * The open file's copies: its path, how many chunk rows are shown, and the cluster as it was when
 * they were fetched. A file's placement also changes without the file changing (a node dies, the
 * healer copies, the scrubber finds a bad copy, a balance moves one): then it is fetched again.
 */
let shownFile = null

/** What the copies' places and states depend on, as the status tells it (and the chunk count: a file written grows). */
function copiesVersion(s) {
  const h = s.healer
  return JSON.stringify([
    s.chunks.referenced,
    s.nodes.map((n) => `${n.nodeId}:${n.state}`),
    h && [h.copiedChunks, h.trimmedCopies, h.corruptRemoved, h.badCopiesFound, h.lost],
    s.scrubber && [s.scrubber.corruptFound, s.scrubber.missingFound, s.scrubber.passes],
    s.rebalance && [s.rebalance.kind, s.rebalance.movedChunks],
  ])
}

let following = false

async function followOpenFile() {
  if (!shownFile || following || copiesVersion(status) === shownFile.version) return
  following = true
  try {
    // As many rows as shown: the first page, or all that "more chunks" added (up to the server's CHUNK_LIMIT_MAX).
    await openFile(shownFile.path, 0, shownFile.more ? Math.min(shownFile.rows, 10000) : undefined)
  } finally {
    following = false
  }
}

/** Whether the chunks shown have their R intact copies (as dfs info ends). */
function copiesSummary(p) {
  const shown = p.next === undefined ? '' : ` of the first ${p.chunks.length}`
  // Each chunk wants what its layout says (R copies, or k + m shards) and a read needs one copy or k shards.
  const wanted = (c) => c.wanted ?? p.replicas
  const short = p.chunks.filter((c) => c.intact < wanted(c))
  if (p.chunks.length === 0) return el('p', { class: 'note summary' }, 'no chunks: the file is empty or all holes')
  const plain = p.chunks.every((c) => !c.shards && wanted(c) === p.replicas)
  if (!plain) {
    if (short.length === 0) return el('p', { class: 'summary ok' }, `${p.next === undefined ? 'every chunk' : `each${shown} chunks`} has all its intact copies or shards`)
    const unreadable = short.filter((c) => c.intact < (c.needed ?? 1)).length
    return el('p', { class: `summary ${unreadable > 0 ? 'bad' : 'warn'}` },
      `${short.length}${shown || ` of ${p.chunks.length}`} chunks ${short.length === 1 ? 'is short of its' : 'are short of their'} intact copies or shards` +
      `${unreadable > 0 ? ` (${unreadable} with fewer than a read needs on live nodes: reads of them fail now)` : ''}; the healer restores them`)
  }
  if (short.length === 0) return el('p', { class: 'summary ok' }, `${p.next === undefined ? 'every chunk' : `each${shown} chunks`} has ${p.replicas} intact copies`)
  const none = short.filter((c) => c.intact === 0).length
  return el('p', { class: `summary ${none > 0 ? 'bad' : 'warn'}` },
    `${short.length}${shown || ` of ${p.chunks.length}`} chunks ${short.length === 1 ? 'has' : 'have'} fewer than ${p.replicas} intact copies` +
    `${none > 0 ? ` (${none} with none on a live node: reads of them fail now)` : ''}; the healer restores them`)
}

/** A file's chunks, a page at a time (`next`: the index the next page starts at); `limit`: as many rows as shown before. */
async function openFile(path, from, limit) {
  const same = shownFile?.path === path // a refresh, or more chunks of it
  const click = same ? fileClicks : ++fileClicks
  if (!same) shownFile = null // no refresh of the file shown before
  for (const row of document.querySelectorAll('#files tr')) row.classList.toggle('selected', row.dataset.path === path)
  const box = $('#placement')
  const version = status ? copiesVersion(status) : ''
  try {
    const p = await getJson(`api/file?path=${encodeURIComponent(path)}${from ? `&from=${from}` : ''}${limit ? `&limit=${limit}` : ''}`)
    if (click !== fileClicks) return
    const more = p.next === undefined ? null : el('button', { onclick: (e) => { e.target.remove(); openFile(path, p.next) } }, 'more chunks…')
    if (from) {
      $('#chunks tbody').append(...chunkRows(p))
      if (shownFile?.path === path) shownFile = { ...shownFile, rows: shownFile.rows + p.chunks.length, more: true }
      if (more) box.append(more)
      return
    }
    shownFile = { path, rows: p.chunks.length, more: Boolean(limit), version }
    box.replaceChildren(
      el('h3', {}, `${p.path}: ${size(p.size)} in chunks of ${size(p.chunkSize)}, ${p.replicas} replicas (inode ${p.ino})`),
      copiesSummary(p),
      el('table', { id: 'chunks' },
        el('thead', {}, el('tr', {}, el('th', { class: 'num' }, '#'), el('th', {}, 'Chunk'), el('th', { class: 'num' }, 'Length'), el('th', {}, 'Copies'))),
        el('tbody', {}, chunkRows(p))),
      ...(more ? [more] : []))
  } catch (err) {
    shownFile = null
    box.replaceChildren(el('p', { class: 'note' }, `${path}: ${err.message}`))
  }
}

// ---- events ----------------------------------------------------------------------------------------

const MAX_EVENTS = 200
let lastSeq = 0

/** Events come oldest first (a replay after connecting, then live); the newest goes on top. */
function addEvent(e) {
  if (e.seq <= lastSeq) return
  lastSeq = e.seq
  const item = el('li', { class: e.level, 'data-kind': e.kind }, el('time', { datetime: new Date(e.at).toISOString() }, clock(e.at)), el('span', {}, e.message))
  const list = $('#events')
  list.querySelector('.empty')?.remove()
  list.prepend(item)
  while (list.children.length > MAX_EVENTS) list.lastChild.remove()
}

function clearEvents() {
  lastSeq = 0
  $('#events').replaceChildren()
}

// ---- live ------------------------------------------------------------------------------------------

function setConnection(state) {
  const badge = $('#conn')
  badge.dataset.state = state
  badge.textContent = state
}

/** How long the page waits before connecting again after losing the live stream. */
const RECONNECT_MS = 2000
/** How long a connection may take to open before the page gives it up and starts over. */
const OPEN_TIMEOUT_MS = 10000

function connect() {
  const source = new EventSource('api/live')
  let ended = false
  const startOver = () => {
    if (ended) return
    ended = true
    clearTimeout(opening)
    setConnection('reconnecting')
    source.close()
    setTimeout(connect, RECONNECT_MS)
  }
  // An EventSource has no timeout of its own: a request that reached the NameNode's port while it
  // was starting, and was never answered, left the page "reconnecting" for good (seen once in a
  // test run on a loaded machine, the NameNode back and serving).
  const opening = setTimeout(startOver, OPEN_TIMEOUT_MS)
  source.addEventListener('open', () => {
    clearTimeout(opening)
    setConnection('live')
  })
  source.addEventListener('status', (m) => onStatus(JSON.parse(m.data)))
  source.addEventListener('cluster-event', (m) => addEvent(JSON.parse(m.data)))
  // Start over ourselves, every time: a browser's own EventSource retry has its own delays (which
  // can grow) and gives up on an answer that is not a stream (the NameNode restarting, a proxy
  // error), so the page could stay "reconnecting" long after the NameNode was back.
  source.addEventListener('error', startOver)
}

connect()
openDir('/')
setInterval(tickAges, 1000)
