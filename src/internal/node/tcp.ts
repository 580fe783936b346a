import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as Net from "node:net"
import type { SocketAddress } from "../../Address.js"
import { familyOf, format, validateHost, validatePort } from "../../Address.js"
import {
  AcceptError,
  AddressError,
  BindError,
  ConnectError,
  fromCause,
  ReadError,
  systemErrorDetails,
  WriteError
} from "../../NetError.js"
import type { ConnectOptions, ListenOptions, TcpConnection, TcpListener, TcpSocketOptions } from "../../Network.js"
import { invalidWrite, isPayload } from "../shared/arguments.js"
import { lookupHost } from "./dns.js"
import { optionalDuration, optionalPositiveInteger } from "../shared/options.js"
import { fromPull } from "../shared/pullStream.js"
import { afterClosingHandles, afterReal, timeoutFailReal } from "../shared/time.js"
import { Waiters } from "./waiters.js"

/**
 * Bytes held for a reader before the socket stops reading. With Node's own
 * readable buffer behind it this bounds the memory of a connection whose
 * reader does not pull.
 */
const readHighWaterMark = 64 * 1024
const defaultCloseTimeout = Duration.seconds(2)
const emptyWrite = new Uint8Array(0)
const defaultBacklog = 511

interface ConnectionSettings {
  readonly idleTimeout: Duration.Duration | undefined
  readonly closeTimeout: Duration.Duration
}

const socketAddress = (host: string | undefined, port: number | undefined): SocketAddress => {
  const address = host ?? ""
  return { family: familyOf(address) ?? "IPv4", host: address, port: port ?? 0 }
}

const closedForWriting = (address: string) =>
  new WriteError({ reason: "Closed", message: `write to ${address} failed: the connection is closed for writing`, address })

const owner = Symbol("effect-net/NodeTcpConnection")

interface OwnedSocket extends Net.Socket {
  [owner]: NodeTcpConnection
}

/**
 * A connected `net.Socket` behind the `TcpConnection` interface.
 *
 * Reads are pulled: the socket stays paused until someone reads, delivers
 * `'data'` into `incoming`, and pauses again once `readHighWaterMark` bytes
 * wait unread. Writes go straight to `socket.write`; only a full buffer makes
 * `send` wait for `'drain'`. The first socket error is kept and fails every
 * later read and write, so no failure is lost.
 */
class NodeTcpConnection implements TcpConnection {
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
  private readonly waiters = new Waiters()
  private closeHooks: Array<() => void> | undefined = undefined

  constructor(readonly socket: Net.Socket, private readonly settings: ConnectionSettings) {
    socket.pause()
    this.localAddress = socketAddress(socket.localAddress, socket.localPort)
    this.remoteAddress = socketAddress(socket.remoteAddress, socket.remotePort)
    this.peer = format(this.remoteAddress)
    // One set of listener functions for every socket, finding their
    // connection through the socket, rather than six closures per connection.
    ;(socket as OwnedSocket)[owner] = this
    socket.on("data", NodeTcpConnection.onData)
    socket.on("end", NodeTcpConnection.onEnd)
    socket.on("drain", NodeTcpConnection.onDrain)
    socket.on("finish", NodeTcpConnection.onFinish)
    socket.on("error", NodeTcpConnection.onError)
    socket.on("close", NodeTcpConnection.onSocketClose)
  }

  private static onData(this: OwnedSocket, data: Buffer): void {
    const self = this[owner]
    self.incoming.push(data)
    self.incomingBytes += data.length
    if (self.incomingBytes >= readHighWaterMark) self.pauseReading()
    self.waiters.wakeOncePerTurn()
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
    const self = this[owner]
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
    this[owner].waiters.wakeAll()
  }

  private static onFinish(this: OwnedSocket): void {
    const self = this[owner]
    self.writeFinished = true
    self.waiters.wakeAll()
  }

  private static onError(this: OwnedSocket, error: Error): void {
    const self = this[owner]
    self.readError ??= fromCause("ReadError", error, { what: "read from", address: self.peer })
    self.writeError ??= fromCause("WriteError", error, { what: "write to", address: self.peer })
    self.waiters.wakeAll()
  }

  private static onSocketClose(this: OwnedSocket): void {
    const self = this[owner]
    self.closed = true
    self.waiters.wakeAll()
    const hooks = self.closeHooks
    self.closeHooks = undefined
    if (hooks !== undefined) for (const hook of hooks) hook()
  }

  /** Runs `hook` once the socket is fully closed (immediately if it is). */
  onClose(hook: () => void): void {
    if (this.closed) hook()
    else (this.closeHooks ??= []).push(hook)
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
   * Once the buffer is empty: `None` at EOF, `Some(error)` when reading
   * failed, `undefined` while more may come. After the peer's FIN the read
   * side is done for good: a later error (an EPIPE from writing to a closed
   * peer) belongs to the write side.
   */
  private readEnded(): Option.Option<ReadError> | undefined {
    if (this.peerEnded) return Option.none()
    if (this.readError !== undefined) return Option.some(this.readError)
    return this.readFinished ? Option.none() : undefined
  }

  /** Waits for data, with the idle timeout when one is set. */
  private awaitData<A>(next: () => Effect.Effect<A, ReadError>): Effect.Effect<A, ReadError> {
    this.resumeReading()
    const wait = this.waiters.waitThen(next)
    const idle = this.settings.idleTimeout
    return idle === undefined ? wait : timeoutFailReal(wait, idle, () =>
      new ReadError({
        reason: "TimedOut",
        message: `read from ${this.peer} timed out: nothing arrived for ${Duration.format(idle)}`,
        address: this.peer
      }))
  }

  get recv(): Effect.Effect<Option.Option<Uint8Array>, ReadError> {
    return Effect.suspend(() => {
      if (this.incoming.length > 0) {
        const chunk = this.incoming.shift()!
        this.incomingBytes -= chunk.length
        if (this.incomingBytes < readHighWaterMark && !this.readFinished) this.resumeReading()
        return Effect.succeed(Option.some(chunk))
      }
      const ended = this.readEnded()
      if (ended === undefined) return this.awaitData(() => this.recv)
      return Option.isNone(ended) ? Effect.succeedNone : Effect.fail(ended.value)
    })
  }

  /** Every buffered chunk at once; `undefined` at EOF. */
  private get pullAll(): Effect.Effect<Chunk.Chunk<Uint8Array> | undefined, ReadError> {
    return Effect.suspend(() => {
      if (this.incoming.length > 0) {
        const chunks = Chunk.unsafeFromArray(this.incoming)
        this.incoming = []
        this.incomingBytes = 0
        if (!this.readFinished) this.resumeReading()
        return Effect.succeed(chunks)
      }
      const ended = this.readEnded()
      if (ended === undefined) return this.awaitData(() => this.pullAll)
      return Option.isNone(ended) ? Effect.succeed(undefined) : Effect.fail(ended.value)
    })
  }

  // The Effects, `stream` and `sink` of a connection are getters, built when
  // asked for rather than with every connection: a server holding thousands
  // of idle connections would otherwise keep a few kilobytes of unused
  // Effect structure (and its closures) for each.
  get stream(): Stream.Stream<Uint8Array, ReadError> {
    return fromPull(this.pullAll)
  }

  private writeBlocked(): WriteError | undefined {
    if (this.writeError !== undefined) return this.writeError
    if (this.writeEnded || this.closed || this.closing) return closedForWriting(this.peer)
    return undefined
  }

  /** Hands `data` to the socket: `true` while its buffer has room, `false` once full, or why it cannot. */
  private write(data: Uint8Array | string): boolean | WriteError {
    if (!isPayload(data)) return invalidWrite(data, this.peer)
    return this.writeBlocked() ?? (data.length === 0 || this.socket.write(data))
  }

  /** Writes `chunks[from..]`, waiting for `'drain'` only when the socket's buffer is full. */
  private writeAll(chunks: ReadonlyArray<Uint8Array | string>, from: number): Effect.Effect<void, WriteError> {
    for (let index = from; index < chunks.length; index++) {
      const written = this.write(chunks[index])
      if (written === false) return this.awaitDrain(() => this.writeAll(chunks, index + 1))
      if (written !== true) return Effect.fail(written)
    }
    return Effect.void
  }

  private get drained(): Effect.Effect<void, WriteError> {
    return Effect.suspend(() => {
      const blocked = this.writeBlocked()
      if (blocked !== undefined) return Effect.fail(blocked)
      if (!this.socket.writableNeedDrain) return Effect.void
      return this.waiters.waitThen(() => this.drained)
    })
  }

  /**
   * Waits for `'drain'`, then runs `next`. With an idle timeout, a peer that
   * takes nothing for that long fails the send: otherwise a client that never
   * reads could hold a server's handler forever.
   */
  private awaitDrain(next: () => Effect.Effect<void, WriteError>): Effect.Effect<void, WriteError> {
    const idle = this.settings.idleTimeout
    const drained = idle === undefined ? this.drained : timeoutFailReal(this.drained, idle, () =>
      new WriteError({
        reason: "TimedOut",
        message: `write to ${this.peer} timed out: the peer took nothing for ${Duration.format(idle)}`,
        address: this.peer
      }))
    return Effect.zipRight(drained, Effect.suspend(next))
  }

  readonly send = (data: Uint8Array | string): Effect.Effect<void, WriteError> =>
    Effect.suspend(() => {
      const written = this.write(data)
      return written === true ? Effect.void : written === false ? this.awaitDrain(() => Effect.void) : Effect.fail(written)
    })

  get sink(): Sink.Sink<void, Uint8Array | string, never, WriteError> {
    return Sink.forEachChunk((chunk) => Effect.suspend(() => this.writeAll(Chunk.toReadonlyArray(chunk), 0)))
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

const connectionSettings = <E>(
  options: TcpSocketOptions,
  onInvalid: (message: string) => E
): Effect.Effect<ConnectionSettings, E> =>
  Effect.all({
    idleTimeout: optionalDuration(options.idleTimeout, "idleTimeout", onInvalid),
    closeTimeout: Effect.map(
      optionalDuration(options.closeTimeout, "closeTimeout", onInvalid),
      (duration) => duration ?? defaultCloseTimeout
    )
  })

const keepAliveOptions = <E>(
  keepAlive: TcpSocketOptions["keepAlive"],
  onInvalid: (message: string) => E
): Effect.Effect<{ keepAlive: boolean; keepAliveInitialDelay?: number }, E> =>
  typeof keepAlive === "boolean" || keepAlive === undefined
    ? Effect.succeed({ keepAlive: keepAlive === true })
    : Effect.map(optionalDuration(keepAlive, "keepAlive", onInvalid), (delay) => ({
      keepAlive: true,
      keepAliveInitialDelay: Duration.toMillis(delay ?? Duration.zero)
    }))

/** Why the accept loop is waiting: the listener closed, or not yet. */
interface AcceptQueue {
  readonly pending: Array<NodeTcpConnection>
  /** Waiting accepts; each returns false when it can no longer take a connection. */
  readonly takers: Array<(connection: NodeTcpConnection | undefined) => boolean>
  closed: boolean
}

const acceptClosed = (address: string) =>
  new AcceptError({ reason: "Closed", message: `accept on ${address} failed: the listener is closed`, address })

/** @internal */
export const listen = (options: ListenOptions): Effect.Effect<TcpListener, BindError | AddressError, Scope.Scope> =>
  Effect.gen(function*() {
    const invalid = (message: string) => new BindError({ reason: "InvalidArgument", message })
    const host = yield* validateHost(options.host ?? "127.0.0.1")
    const port = yield* validatePort(options.port ?? 0)
    const backlog = (yield* optionalPositiveInteger(options.backlog, "backlog", invalid)) ?? defaultBacklog
    const settings = yield* connectionSettings(options, invalid)
    const keepAlive = yield* keepAliveOptions(options.keepAlive, invalid)
    const bindHost = yield* lookupHost(
      host,
      0,
      (error) => fromCause("AddressError", error, { what: "resolve", address: format({ host, port }) })
    )
    const requested = format({ host: bindHost, port })
    const runtime = yield* Effect.runtime<never>()
    const queue: AcceptQueue = { pending: [], takers: [], closed: false }

    const server = Net.createServer({
      allowHalfOpen: true,
      pauseOnConnect: true,
      noDelay: options.noDelay === true,
      ...keepAlive
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
      const connection = new NodeTcpConnection(socket, settings)
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
        server.listen({ host: bindHost, port, backlog, ipv6Only: options.ipv6Only === true, exclusive: true })
      }),
      () => closeListener
    )

    const bound = server.address() as Net.AddressInfo
    const address: SocketAddress = {
      family: bound.family === "IPv6" ? "IPv6" : "IPv4",
      host: bound.address,
      port: bound.port
    }
    const formatted = format(address)

    /**
     * Takes one accepted connection, handing it to `claim` synchronously so it
     * is never lost. `claim` returns false when its caller can no longer own a
     * connection (its scope has closed): the connection then stays queued for
     * the next accept, and this one fails with `Closed`.
     */
    const take = (claim: (connection: NodeTcpConnection) => boolean): Effect.Effect<NodeTcpConnection, AcceptError> =>
      Effect.suspend(() => {
        const ready = queue.pending[0]
        if (ready !== undefined) {
          if (!claim(ready)) return Effect.fail(acceptClosed(formatted))
          queue.pending.shift()
          return Effect.succeed(ready)
        }
        if (queue.closed) return Effect.fail(acceptClosed(formatted))
        return Effect.async<NodeTcpConnection, AcceptError>((resume) => {
          const taker = (connection: NodeTcpConnection | undefined): boolean => {
            const claimed = connection !== undefined && claim(connection)
            resume(claimed ? Effect.succeed(connection) : Effect.fail(acceptClosed(formatted)))
            return claimed || connection === undefined
          }
          queue.takers.push(taker)
          return Effect.sync(() => {
            const index = queue.takers.indexOf(taker)
            if (index >= 0) queue.takers.splice(index, 1)
          })
        })
      })

    // The finalizer is in the scope before the connection exists, so an
    // interruption between accept and return cannot leak it.
    const accept: Effect.Effect<TcpConnection, AcceptError, Scope.Scope> = Effect.flatMap(
      Effect.scope,
      (scope) => {
        let claimed: NodeTcpConnection | undefined
        // Set when the scope closes: a connection arriving later must not be
        // handed to a scope that will never close it.
        let released = false
        return Effect.zipRight(
          Scope.addFinalizer(
            scope,
            Effect.suspend(() => {
              released = true
              return claimed?.close ?? Effect.void
            })
          ),
          take((connection) => {
            if (released) return false
            claimed = connection
            return true
          })
        )
      }
    )

    const connections: Stream.Stream<TcpConnection, AcceptError> = Stream.unwrapScoped(
      Effect.map(
        Effect.acquireRelease(
          Effect.sync(() => new Set<NodeTcpConnection>()),
          (owned) => Effect.forEach(owned, (connection) => connection.close, { discard: true, concurrency: "unbounded" })
        ),
        (owned) => {
          const own = (connection: NodeTcpConnection) => {
            owned.add(connection)
            connection.onClose(() => owned.delete(connection))
            return true
          }
          const takeAll: Effect.Effect<Chunk.Chunk<TcpConnection>, Option.Option<AcceptError>> = Effect.suspend(() => {
            if (queue.pending.length === 0) return Effect.map(Effect.mapError(take(own), Option.some), Chunk.of)
            const ready = queue.pending.splice(0)
            ready.forEach(own)
            return Effect.succeed(Chunk.unsafeFromArray<TcpConnection>(ready))
          })
          return Stream.repeatEffectChunkOption(takeAll)
        }
      )
    )

    return { address, accept, connections } satisfies TcpListener
  })

/** Node reports a failed multi-address connect as an AggregateError; its first error says why. */
const primaryError = (error: unknown): unknown =>
  error instanceof AggregateError && error.errors.length > 0 ? error.errors[0] : error

/** @internal */
export const connect = (options: ConnectOptions): Effect.Effect<TcpConnection, ConnectError | AddressError, Scope.Scope> =>
  Effect.gen(function*() {
    const invalid = (message: string) => new ConnectError({ reason: "InvalidArgument", message })
    const host = yield* validateHost(options.host)
    const port = yield* validatePort(options.port, { allowZero: false })
    const localAddress = options.localAddress === undefined ? undefined : yield* validateHost(options.localAddress)
    const localPort = options.localPort === undefined ? undefined : yield* validatePort(options.localPort)
    const timeout = yield* optionalDuration(options.timeout, "timeout", invalid)
    const settings = yield* connectionSettings(options, invalid)
    const keepAlive = yield* keepAliveOptions(options.keepAlive, invalid)
    const target = format({ host, port })
    if (localAddress !== undefined && familyOf(localAddress) === undefined) {
      // Node binds only to an IP literal, and would throw (leaking the socket
      // it made) rather than resolve a name; TestNetwork answers the same.
      return yield* new ConnectError({
        reason: "InvalidAddress",
        message: `connect to ${target} failed: local address "${localAddress}" is not an IP address`,
        address: target,
        code: "ERR_INVALID_IP_ADDRESS"
      })
    }
    const scope = yield* Effect.scope

    // Registered before the socket exists, so that whatever ends the scope
    // (success, failure, interruption mid-connect) closes it.
    let socket: Net.Socket | undefined
    let connection: NodeTcpConnection | undefined
    // Set when the scope closes. A fiber can go on connecting after that
    // (a forked fiber not yet interrupted): what it connects must not outlive
    // the scope, as acquireRelease releases at once into a closed scope.
    let released = false
    yield* Scope.addFinalizer(
      scope,
      Effect.suspend(() => {
        released = true
        if (connection !== undefined) return connection.close
        if (socket !== undefined && !socket.destroyed) socket.destroy()
        return Effect.void
      })
    )

    const connecting = Effect.async<TcpConnection, ConnectError>((resume) => {
      const opened = Net.connect({
        host,
        port,
        ...(localAddress === undefined ? {} : { localAddress }),
        ...(localPort === undefined ? {} : { localPort }),
        allowHalfOpen: true,
        noDelay: options.noDelay === true,
        autoSelectFamily: true,
        ...keepAlive
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
        connection = new NodeTcpConnection(opened, settings)
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

    return yield* timeout === undefined ? connecting : timeoutFailReal(connecting, timeout, () =>
      new ConnectError({
        reason: "TimedOut",
        message: `connect to ${target} failed: timed out after ${Duration.format(timeout)}`,
        address: target
      }))
  })
