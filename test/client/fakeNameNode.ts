// A stand-in NameNode on 127.0.0.1 for client tests: it speaks the handshake of the NameNode
// protocol (src/protocol/wire.ts) with the real secret proofs, sends an empty namespace, and answers
// commits with journal seqs it counts itself. What it says in its welcome (instance, startSeq), and
// whether it serves, refuses (`error` with a code) or stays silent, is the test's to set, so one
// fake can play a NameNode that restarted, a standby promoted behind, or a NameNode that is not
// the primary.

import { createServer, type Server, type Socket } from 'node:net'
import { afterEach } from 'vitest'
import type { RemoteNameNode } from '../../src/client/RemoteNameNode.js'
import { namespaceMachine } from '../../src/meta/namespace/machine.js'
import {
  MessageReader, NAMENODE_PROTOCOL_VERSION, type Message, newChallenge, send, serverProof,
} from '../../src/protocol/wire.js'

export interface Incarnation {
  instance: string
  /** The welcome's startSeq (omitted when undefined, as a NameNode before it existed). */
  startSeq?: number
  /** The welcome's history (omitted when undefined). */
  history?: { id: string; parent?: string; forkSeq?: number }
  /** Answer every handshake with this `error`, then close. */
  refuse?: { code: string; message: string }
  /** Accept connections and say nothing. */
  silent?: boolean
  /** Hold sync answers until released (release()). */
  holdSyncs?: boolean
}

export class FakeNameNode {
  /** The seq of the last record "journaled": commits get the next one. */
  seq = 0
  /** Methods received, in order, over every connection. */
  readonly received: string[] = []
  /** Handshakes it completed (welcome sent). */
  welcomes = 0
  private readonly sockets = new Set<Socket>()
  private held: (() => void)[] = []

  private constructor(private readonly server: Server, private readonly secret: Buffer, public incarnation: Incarnation) {
    server.on('connection', socket => this.accept(socket))
  }

  static async start(secret: Buffer, incarnation: Incarnation, port = 0): Promise<FakeNameNode> {
    const server = createServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => resolve())
    })
    return new FakeNameNode(server, secret, incarnation)
  }

  get address(): string {
    return `tcp://127.0.0.1:${(this.server.address() as { port: number }).port}`
  }

  /** A new process on the same address: every connection drops, later handshakes meet `next`. */
  restart(next: Incarnation): void {
    this.incarnation = next
    this.held = []
    this.dropClients()
  }

  dropClients(): void {
    for (const socket of this.sockets) socket.destroy()
  }

  /** A NameNode on its way out: an `error` to every client, then it closes their connections. */
  sayGoodbye(code: string, message: string): void {
    for (const socket of this.sockets) {
      send(socket, { t: 'error', code, message })
      socket.end()
    }
  }

  release(): void {
    for (const answer of this.held.splice(0)) answer()
  }

  async close(): Promise<void> {
    this.dropClients()
    await new Promise<void>(resolve => this.server.close(() => resolve()))
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket)
    socket.on('close', () => this.sockets.delete(socket))
    socket.on('error', () => {})
    if (this.incarnation.silent) return
    const challenge = newChallenge()
    const reader = new MessageReader(() => 64 * 1024 * 1024)
    let welcomed = false
    send(socket, { t: 'hello', version: NAMENODE_PROTOCOL_VERSION, challenge })
    socket.on('data', data => {
      for (const m of reader.push(data)) {
        if (!welcomed) {
          if (m.t !== 'auth') return socket.destroy()
          const { refuse } = this.incarnation
          if (refuse) {
            send(socket, { t: 'error', ...refuse })
            socket.end()
            return
          }
          welcomed = true
          this.welcomes++
          this.welcome(socket, challenge, m.nonce)
          continue
        }
        if (m.t === 'req') this.answer(socket, m)
      }
    })
  }

  private welcome(socket: Socket, challenge: string, nonce: string): void {
    const { instance, startSeq, history } = this.incarnation
    send(socket, {
      t: 'welcome', proof: serverProof(this.secret, challenge, nonce), clusterId: 'fake-cluster', chunkSize: 1 << 20, replicas: 1,
      instance, ...(startSeq === undefined ? {} : { startSeq }), ...(history === undefined ? {} : { history }),
    })
    send(socket, { t: 'nodes', nodes: [] })
    const machine = namespaceMachine({ uid: 0, gid: 0, createdAt: 0 })
    send(socket, { t: 'snap', pieces: [...machine.snapshot(machine.empty())], done: true })
  }

  private answer(socket: Socket, m: Extract<Message, { t: 'req' }>): void {
    this.received.push(m.m)
    if (m.m === 'commit') {
      send(socket, { t: 'res', id: m.id, ok: true, r: null, seq: ++this.seq })
    } else if (m.m === 'sync') {
      const seq = this.seq
      const answer = () => send(socket, { t: 'res', id: m.id, ok: true, r: null, seq })
      if (this.incarnation.holdSyncs) this.held.push(answer)
      else answer()
    } else {
      send(socket, { t: 'res', id: m.id, ok: true, r: null })
    }
  }
}

/**
 * What a test file of stand-in NameNodes shares: the secret, the lines its clients logged, and the
 * fakes and clients a test made, closed (and the log emptied) after each test.
 */
export function fakeNameNodeFixture() {
  const fixture = { secret: Buffer.from('the cluster secret'), logged: [] as string[], fakes: [] as FakeNameNode[], clients: [] as RemoteNameNode[] }
  afterEach(async () => {
    for (const c of fixture.clients.splice(0)) await c.close()
    for (const f of fixture.fakes.splice(0)) await f.close()
    fixture.logged.length = 0
  })
  return fixture
}
