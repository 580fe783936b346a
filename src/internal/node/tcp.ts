import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import * as Net from "node:net"
import type { SocketAddress } from "../../Address.js"
import { familyOf, format } from "../../Address.js"
import type { AddressError, BindError, ConnectError, ReadError, WriteError } from "../../NetError.js"
import { fromCause, systemErrorDetails } from "../../NetError.js"
import type { ConnectOptions, ListenOptions, TcpConnection, TcpListener } from "../../Tcp.js"
import * as Front from "../shared/tcp.js"
import { closedForWriting, localAddressNotAnIp } from "../shared/tcp.js"
import type * as Backend from "../shared/tcpBackend.js"
import { afterClosingHandles, afterReal, realTime } from "../shared/time.js"
import { lookupHost } from "./dns.js"
import { type Arrivals, Waiters } from "./waiters.js"

/**
 * Bytes held for a reader before the socket stops reading. With Node's own
 * readable buffer behind it this bounds the memory of a connection whose
 * reader does not pull.
 */
const readHighWaterMark = 64 * 1024
const emptyWrite = new Uint8Array(0)

const socketAddress = (host: string | undefined, port: number | undefined): SocketAddress => {
  const address = host ?? ""
  return { family: familyOf(address) ?? "IPv4", host: address, port: port ?? 0 }
}

const backendOf = Symbol("effect-net/NodeTcpSocket")

interface OwnedSocket extends Net.Socket {
  [backendOf]: NodeTcpSocket
}

/**
 * A connected `net.Socket`, the backend of a `TcpConnection`.
 *
 * Reads are pulled: the socket stays paused until someone reads, delivers
 * `'data'` into `incoming`, and pauses again once `readHighWaterMark` bytes
 * wait unread. Writes go straight to `socket.write`; only a full buffer makes
 * `send` wait for `'drain'`. The first socket error is kept and fails every
 * later read and write, so no failure is lost.
 */
class NodeTcpSocket implements Backend.TcpConnectionBackend, Arrivals {
  readonly localAddress: SocketAddress
  readonly remoteAddress: SocketAddress
  private readonly peer: string
  private incoming: Array<Uint8Array> = []
  private incomingBytes = 0
  private reading = false
  private peerEnded = false
  private closed = false
  private writeEnded = false
  private writeFinished = false
  private closing = false
  private readError: ReadError | undefined = undefined
  private writeError: WriteError | undefined = undefined
  /** Fibers waiting for something to change: data, EOF, drain, finish, error or close. */
  private readonly waiters = new Waiters(this)
  private owner: Backend.TcpConnectionOwner | undefined = undefined

  constructor(readonly socket: Net.Socket, private readonly settings: Backend.ConnectionSettings) {
    socket.pause()
    this.localAddress = socketAddress(socket.localAddress, socket.localPort)
    this.remoteAddress = socketAddress(socket.remoteAddress, socket.remotePort)
    this.peer = format(this.remoteAddress)
    // One set of listener functions for every socket, finding their
    // connection through the socket, rather than six closures per connection.
    ;(socket as OwnedSocket)[backendOf] = this
    socket.on("data", NodeTcpSocket.onData)
    socket.on("end", NodeTcpSocket.onEnd)
    socket.on("drain", NodeTcpSocket.onDrain)
    socket.on("finish", NodeTcpSocket.onFinish)
    socket.on("error", NodeTcpSocket.onError)
    socket.on("close", NodeTcpSocket.onSocketClose)
  }

  get clock() {
    return realTime
  }

  attach(owner: Backend.TcpConnectionOwner): void {
    this.owner = owner
  }

  private static onData(this: OwnedSocket, data: Buffer): void {
    const self = this[backendOf]
    self.incoming.push(data)
    self.incomingBytes += data.length
    if (self.incomingBytes >= readHighWaterMark) self.pauseReading()
    self.waiters.wakeOncePerTurn()
  }

  hasUnread(): boolean {
    return this.incoming.length > 0
  }

  /**
   * libuv reports a hang-up that comes with the last bytes of a read as EOF
   * without reading again, so a reset that arrived while the socket was
   * paused looks like a clean end. While the write side is open an empty
   * write asks the kernel which it was: nothing is sent either way. (With
   * bytes still queued, the queued write has already asked: Node then emits
   * 'error' instead of 'end'. After our own FIN no write can ask, and Node
   * has no other way to know: see the README.)
   */
  private static onEnd(this: OwnedSocket): void {
    const self = this[backendOf]
    if (self.writeEnded || self.closing || this.writableLength > 0) return self.endRead()
    this.write(emptyWrite, (error) => self.afterEndProbe(error))
  }

  private endRead(): void {
    this.peerEnded = true
    this.waiters.wakeAll()
  }

  /**
   * `EPIPE` means the peer's FIN came before its reset (Linux records a
   * reset after a FIN as `EPIPE`): everything the peer sent has arrived.
   */
  private afterEndProbe(error: Error | null | undefined): void {
    if (error == null || systemErrorDetails(error).code === "EPIPE") return this.endRead()
    this.readError ??= fromCause("ReadError", error, { what: "read from", address: this.peer })
    this.waiters.wakeAll()
  }

  private static onDrain(this: OwnedSocket): void {
    this[backendOf].waiters.wakeAll()
  }

  private static onFinish(this: OwnedSocket): void {
    const self = this[backendOf]
    self.writeFinished = true
    self.waiters.wakeAll()
  }

  private static onError(this: OwnedSocket, error: Error): void {
    const self = this[backendOf]
    self.readError ??= fromCause("ReadError", error, { what: "read from", address: self.peer })
    self.writeError ??= fromCause("WriteError", error, { what: "write to", address: self.peer })
    self.waiters.wakeAll()
  }

  private static onSocketClose(this: OwnedSocket): void {
    const self = this[backendOf]
    self.closed = true
    self.waiters.wakeAll()
    self.owner?.backendClosed()
  }

  private pauseReading(): void {
    if (this.reading) {
      this.reading = false
      this.socket.pause()
    }
  }

  private resumeReading(): void {
    if (!this.reading && !this.closed) {
      this.reading = true
      this.socket.resume()
    }
  }

  private get readFinished(): boolean {
    return this.peerEnded || this.closed || this.closing
  }

  /**
   * Once the buffer is empty: `null` at EOF, the error when reading failed,
   * `undefined` while more may come. After the peer's FIN the read side is
   * done for good: a later error (an EPIPE from writing to a closed peer)
   * belongs to the write side.
   */
  private readEnded(): null | undefined | ReadError {
    if (this.peerEnded) return null
    if (this.readError !== undefined) return this.readError
    return this.readFinished ? null : undefined
  }

  take(all: boolean): Backend.Taken<Uint8Array | Array<Uint8Array>> {
    if (this.incoming.length === 0) return this.readEnded()
    if (!all) {
      const chunk = this.incoming.shift()!
      this.incomingBytes -= chunk.length
      if (this.incomingBytes < readHighWaterMark && !this.readFinished) this.resumeReading()
      return chunk
    }
    const chunks = this.incoming
    this.incoming = []
    this.incomingBytes = 0
    if (!this.readFinished) this.resumeReading()
    return chunks
  }

  awaitReadable<A, E>(next: () => Effect.Effect<A, E>): Effect.Effect<A, E> {
    this.resumeReading()
    return this.waiters.waitThen(next)
  }

  private writeBlocked(): WriteError | undefined {
    if (this.writeError !== undefined) return this.writeError
    if (this.writeEnded || this.closed || this.closing) return closedForWriting(this.peer)
    return undefined
  }

  /** Node takes a payload whole: the offset is always 0. */
  write(data: Uint8Array | string): Backend.Written {
    return this.writeBlocked() ?? (data.length === 0 || this.socket.write(data))
  }

  get awaitWritable(): Effect.Effect<void, WriteError> {
    return Effect.suspend(() => {
      const blocked = this.writeBlocked()
      if (blocked !== undefined) return Effect.fail(blocked)
      if (!this.socket.writableNeedDrain) return Effect.void
      return this.waiters.waitThen(() => this.awaitWritable)
    })
  }

  reset(): void {
    if (!this.socket.destroyed) this.socket.resetAndDestroy()
  }

  private get awaitFinish(): Effect.Effect<void, WriteError> {
    return Effect.suspend(() => {
      if (this.writeFinished) return Effect.void
      if (this.writeError !== undefined) return Effect.fail(this.writeError)
      if (this.closed) return Effect.fail(closedForWriting(this.peer))
      return this.waiters.waitThen(() => this.awaitFinish)
    })
  }

  get endWrite(): Effect.Effect<void, WriteError> {
    return Effect.suspend(() => {
      if (this.writeError !== undefined) return Effect.fail(this.writeError)
      if (!this.writeEnded) {
        if (this.closed || this.closing) return Effect.fail(closedForWriting(this.peer))
        this.writeEnded = true
        this.socket.end()
      }
      return this.awaitFinish
    })
  }

  private get awaitClosed(): Effect.Effect<void> {
    return Effect.suspend(() =>
      this.closed ? Effect.void : this.waiters.waitThen(() => this.awaitClosed)
    )
  }

  get close(): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (!this.closing && !this.closed) {
        this.closing = true
        this.shutdown()
      }
      return this.awaitClosed
    })
  }

  /**
   * Flushes what Node still holds (bytes already in the kernel go out after
   * close anyway), for at most `closeTimeout`, then destroys the socket so a
   * peer that stops reading cannot hold it open.
   */
  private shutdown(): void {
    const socket = this.socket
    if (socket.destroyed || socket.writableLength === 0 || this.writeError !== undefined) {
      socket.destroy()
      return
    }
    socket.once("close", afterReal(this.settings.closeTimeout, () => socket.destroy()))
    if (this.writeFinished) socket.destroy()
    else {
      socket.once("finish", () => socket.destroy())
      if (!this.writeEnded) {
        this.writeEnded = true
        socket.end()
      }
    }
  }
}

/** Why the accept loop is waiting: the listener closed, or not yet. */
interface AcceptQueue {
  readonly pending: Array<NodeTcpSocket>
  /** Waiting accepts; each returns false when it can no longer take a connection. */
  readonly takers: Array<(connection: NodeTcpSocket | undefined) => boolean>
  closed: boolean
}

const listenBackend = (
  settings: Backend.ListenSettings
): Effect.Effect<Backend.TcpListenerBackend, BindError | AddressError, Scope.Scope> =>
  Effect.gen(function*() {
    const { backlog, port } = settings
    const bindHost = yield* lookupHost(
      settings.host,
      0,
      (error) => fromCause("AddressError", error, { what: "resolve", address: format({ host: settings.host, port }) })
    )
    const requested = format({ host: bindHost, port })
    const runtime = yield* Effect.runtime<never>()
    const queue: AcceptQueue = { pending: [], takers: [], closed: false }

    const server = Net.createServer({
      allowHalfOpen: true,
      pauseOnConnect: true,
      noDelay: settings.noDelay,
      ...settings.keepAlive
    })
    let lastAcceptErrorLog = 0
    server.on("error", (error) => {
      // After listen succeeds an 'error' is a failed accept() (EMFILE, …):
      // libuv keeps listening, so log it (at most once a second) and go on.
      if (!server.listening) return
      const now = Date.now()
      if (now - lastAcceptErrorLog < 1000) return
      lastAcceptErrorLog = now
      Runtime.runFork(runtime)(
        Effect.logWarning(fromCause("AcceptError", error, { what: "accept on", address: requested }).message)
      )
    })
    server.on("connection", (socket: Net.Socket) => {
      const connection = new NodeTcpSocket(socket, settings.connection)
      let taker = queue.takers.shift()
      while (taker !== undefined && !taker(connection)) taker = queue.takers.shift()
      if (taker !== undefined) return
      if (queue.pending.length < backlog) queue.pending.push(connection)
      // More connections than the backlog holds: refuse this one as an
      // overflowing kernel accept queue would, instead of holding it.
      else socket.destroy()
    })

    // Waits for the server's handle, not for its 'close' event: that one
    // also waits for every connection it accepted, which may outlive it.
    const closeListener = Effect.async<void>((resume) => {
      queue.closed = true
      for (const taker of queue.takers.splice(0)) taker(undefined)
      for (const connection of queue.pending.splice(0)) connection.socket.destroy()
      server.close()
      afterClosingHandles(() => resume(Effect.void))
    })
    yield* Effect.acquireRelease(
      Effect.async<void, BindError>((resume) => {
        const onError = (error: Error) => {
          server.off("listening", onListening)
          resume(Effect.fail(fromCause("BindError", error, { what: "listen on", address: requested })))
        }
        const onListening = () => {
          server.off("error", onError)
          resume(Effect.void)
        }
        server.once("error", onError)
        server.once("listening", onListening)
        server.listen({ host: bindHost, port, backlog, ipv6Only: settings.ipv6Only, exclusive: true })
      }),
      () => closeListener
    )

    const bound = server.address() as Net.AddressInfo
    const address: SocketAddress = {
      family: bound.family === "IPv6" ? "IPv6" : "IPv4",
      host: bound.address,
      port: bound.port
    }

    const take = (claim: Backend.Claim): Effect.Effect<Backend.TcpConnectionBackend, "closed"> =>
      Effect.suspend(() => {
        const ready = queue.pending[0]
        if (ready !== undefined) {
          if (!claim(ready)) return Effect.fail("closed" as const)
          queue.pending.shift()
          return Effect.succeed(ready)
        }
        if (queue.closed) return Effect.fail("closed" as const)
        return Effect.async<Backend.TcpConnectionBackend, "closed">((resume) => {
          const taker = (connection: NodeTcpSocket | undefined): boolean => {
            const claimed = connection !== undefined && claim(connection)
            resume(claimed ? Effect.succeed(connection) : Effect.fail("closed"))
            return claimed || connection === undefined
          }
          queue.takers.push(taker)
          return Effect.sync(() => {
            const index = queue.takers.indexOf(taker)
            if (index >= 0) queue.takers.splice(index, 1)
          })
        })
      })

    return {
      address,
      take,
      takeReady: (claim) => {
        for (const connection of queue.pending.splice(0)) claim(connection)
      }
    } satisfies Backend.TcpListenerBackend
  })

/** Node reports a failed multi-address connect as an AggregateError; its first error says why. */
const primaryError = (error: unknown): unknown =>
  error instanceof AggregateError && error.errors.length > 0 ? error.errors[0] : error

/** A chain of `flatMap`s rather than `Effect.gen`, as the front's connect step (a client may connect per request). */
const connectBackend = (
  settings: Backend.ConnectSettings
): Effect.Effect<Backend.TcpConnectionBackend, ConnectError | AddressError, Scope.Scope> =>
  // Suspended: the state below belongs to one run (a retried connect runs it again).
  Effect.suspend(() => {
    const { host, localAddress, localPort, port } = settings
    const target = format({ host, port })
    if (localAddress !== undefined && familyOf(localAddress) === undefined) {
      return Effect.fail(localAddressNotAnIp(target, localAddress))
    }
    // Registered before the socket exists, so that whatever ends the scope
    // (success, failure, interruption mid-connect) closes it.
    let socket: Net.Socket | undefined
    let connection: NodeTcpSocket | undefined
    // Set when the scope closes. A fiber can go on connecting after that
    // (a forked fiber not yet interrupted): what it connects must not outlive
    // the scope, as acquireRelease releases at once into a closed scope.
    let released = false
    const finalizer = Effect.suspend(() => {
      released = true
      if (connection !== undefined) return connection.close
      if (socket !== undefined && !socket.destroyed) socket.destroy()
      return Effect.void
    })
    const opening = Effect.async<Backend.TcpConnectionBackend, ConnectError>((resume) => {
      const opened = Net.connect({
        host,
        port,
        ...(localAddress === undefined ? {} : { localAddress }),
        ...(localPort === undefined ? {} : { localPort }),
        allowHalfOpen: true,
        noDelay: settings.noDelay,
        autoSelectFamily: true,
        ...settings.keepAlive
      })
      socket = opened
      opened.pause()
      const onError = (error: Error) => {
        opened.off("connect", onConnect)
        opened.destroy()
        resume(Effect.fail(fromCause("ConnectError", primaryError(error), { what: "connect to", address: target })))
      }
      const onConnect = () => {
        opened.off("error", onError)
        connection = new NodeTcpSocket(opened, settings.connection)
        if (released) opened.destroy()
        resume(Effect.succeed(connection))
      }
      opened.once("error", onError)
      opened.once("connect", onConnect)
      return Effect.sync(() => {
        // An interrupted connect: no 'error' may go unheard after destroy.
        opened.on("error", () => {})
        opened.destroy()
      })
    })
    return Effect.zipRight(Effect.flatMap(Effect.scope, (scope) => Scope.addFinalizer(scope, finalizer)), opening)
  })

const backend: Backend.TcpBackend = { clock: realTime, listen: listenBackend, connect: connectBackend }

/** @internal */
export const listen = (options: ListenOptions): Effect.Effect<TcpListener, BindError | AddressError, Scope.Scope> =>
  Front.listen(backend, options)

/** @internal */
export const connect = (options: ConnectOptions): Effect.Effect<TcpConnection, ConnectError | AddressError, Scope.Scope> =>
  Front.connect(backend, options)
