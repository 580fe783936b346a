import * as Chunk from "effect/Chunk"
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import type { SocketAddress } from "../../Address.js"
import { format, validateHost, validatePort } from "../../Address.js"
import type { AddressError } from "../../NetError.js"
import { AcceptError, BindError, ConnectError, ReadError, WriteError } from "../../NetError.js"
import type * as Api from "../../Tcp.js"
import type {
  ConnectOptions,
  ListenOptions,
  TcpConnection as TcpConnectionShape,
  TcpListener as TcpListenerShape,
  TcpSocketOptions
} from "../../Tcp.js"
import { invalidWrite, isPayload } from "./arguments.js"
import { optionalDuration, optionalPositiveInteger } from "./options.js"
import { fromPull } from "./pullStream.js"
import { bindStep, endpointAttributes, isEnabled, makeTcpInstruments, step, TcpInstruments } from "./telemetry.js"
import type {
  Claim,
  ConnectionSettings,
  KeepAliveSettings,
  TcpBackend,
  TcpConnectionBackend,
  TcpConnectionOwner,
  TcpListenerBackend,
  Taken,
  Written
} from "./tcpBackend.js"

/** @internal */
export const TcpConnectionTypeId: Api.TcpConnectionTypeId = Symbol.for(
  "effect-net/TcpConnection"
) as Api.TcpConnectionTypeId

/** @internal */
export const TcpListenerTypeId: Api.TcpListenerTypeId = Symbol.for("effect-net/TcpListener") as Api.TcpListenerTypeId

const defaultBacklog = 511
const defaultCloseTimeout = Duration.seconds(2)

/** @internal */
export const closedForWriting = (address: string): WriteError =>
  new WriteError({ reason: "Closed", message: `write to ${address} failed: the connection is closed for writing`, address })

/**
 * Node binds only to an IP literal (and would throw, leaking the socket it
 * made, rather than resolve a name): both networks refuse a name.
 *
 * @internal
 */
export const localAddressNotAnIp = (target: string, localAddress: string): ConnectError =>
  new ConnectError({
    reason: "InvalidAddress",
    message: `connect to ${target} failed: local address "${localAddress}" is not an IP address`,
    address: target,
    code: "ERR_INVALID_IP_ADDRESS"
  })

const acceptClosed = (address: string) =>
  new AcceptError({ reason: "Closed", message: `accept on ${address} failed: the listener is closed`, address })

/**
 * A connected socket behind the `TcpConnection` interface, the same class on
 * every network: the backend holds the socket's state, this builds the
 * public operations on it.
 *
 * The Effects, `stream` and `sink` are getters, built when asked for rather
 * than with every connection: a server holding thousands of idle
 * connections would otherwise keep a few kilobytes of unused Effect
 * structure (and its closures) for each.
 *
 * @internal
 */
export class TcpConnection implements TcpConnectionShape, TcpConnectionOwner {
  readonly localAddress: SocketAddress
  readonly remoteAddress: SocketAddress
  /** `null` once the socket is fully closed. */
  private closeHooks: Array<() => void> | undefined | null = undefined

  constructor(
    readonly backend: TcpConnectionBackend,
    private readonly idleTimeout: Duration.Duration | undefined,
    private readonly instruments: TcpInstruments | undefined
  ) {
    this.localAddress = backend.localAddress
    this.remoteAddress = backend.remoteAddress
    backend.attach(this)
  }

  get [TcpConnectionTypeId](): Api.TcpConnectionTypeId {
    return TcpConnectionTypeId
  }

  private get peer(): string {
    return format(this.remoteAddress)
  }

  /** The one place bytes pass from the backend to the user: one chunk, or (`all`) every buffered chunk. */
  private take(all: boolean): Taken<Uint8Array | Array<Uint8Array>> {
    const taken = this.backend.take(all)
    if (this.instruments !== undefined && taken != null) this.count(taken)
    return taken
  }

  private count(taken: Uint8Array | Array<Uint8Array> | ReadError): void {
    const instruments = this.instruments!
    if (taken instanceof Uint8Array) instruments.received(taken.length)
    else if (Array.isArray(taken)) {
      let bytes = 0
      for (const chunk of taken) bytes += chunk.length
      instruments.received(bytes)
    } else instruments.failed(taken)
  }

  /** The one place bytes pass from the user to the backend. */
  private write(data: Uint8Array | string, offset: number): Written {
    const written = isPayload(data) ? this.backend.write(data, offset) : invalidWrite(data, this.peer)
    if (this.instruments !== undefined) this.countWritten(data, offset, written)
    return written
  }

  private countWritten(data: Uint8Array | string, offset: number, written: Written): void {
    const instruments = this.instruments!
    if (typeof written === "object") return instruments.failed(written)
    const end = typeof written === "number"
      ? written
      : typeof data === "string"
      ? Buffer.byteLength(data)
      : data.length
    if (end > offset) instruments.transmitted(end - offset)
  }

  /** The socket is fully closed: called once by the backend. */
  backendClosed(): void {
    this.instruments?.closed()
    const hooks = this.closeHooks
    this.closeHooks = null
    if (hooks != null) for (const hook of hooks) hook()
  }

  /** Runs `hook` once the socket is fully closed (at once if it is). */
  onClose(hook: () => void): void {
    if (this.closeHooks === null) hook()
    else (this.closeHooks ??= []).push(hook)
  }

  /** Waits for data, with the idle timeout when one is set. */
  private awaitData<A>(next: () => Effect.Effect<A, ReadError>): Effect.Effect<A, ReadError> {
    const wait = this.backend.awaitReadable(next)
    const idle = this.idleTimeout
    return idle === undefined ? wait : this.backend.clock.timeoutFail(wait, idle, () =>
      new ReadError({
        reason: "TimedOut",
        message: `read from ${this.peer} timed out: nothing arrived for ${Duration.format(idle)}`,
        address: this.peer
      }))
  }

  get recv(): Effect.Effect<Option.Option<Uint8Array>, ReadError> {
    return Effect.suspend(() => {
      const taken = this.take(false)
      if (taken instanceof Uint8Array) return Effect.succeed(Option.some(taken))
      if (taken === undefined) return this.awaitData(() => this.recv)
      return taken === null ? Effect.succeedNone : Effect.fail(taken as ReadError)
    })
  }

  /** Every buffered chunk at once; `undefined` at EOF. */
  private get pullAll(): Effect.Effect<Chunk.Chunk<Uint8Array> | undefined, ReadError> {
    return Effect.suspend(() => {
      const taken = this.take(true)
      if (Array.isArray(taken)) return Effect.succeed(Chunk.unsafeFromArray(taken))
      if (taken === undefined) return this.awaitData(() => this.pullAll)
      return taken === null ? Effect.succeed(undefined) : Effect.fail(taken as ReadError)
    })
  }

  get stream(): Stream.Stream<Uint8Array, ReadError> {
    return fromPull(this.pullAll)
  }

  /**
   * Waits for room to write, then runs `next`. With an idle timeout, a peer
   * that takes nothing for that long fails the send: otherwise a client that
   * never reads could hold a server's handler forever.
   */
  private awaitRoom(next: () => Effect.Effect<void, WriteError>): Effect.Effect<void, WriteError> {
    const idle = this.idleTimeout
    const room = idle === undefined ? this.backend.awaitWritable : this.backend.clock.timeoutFail(
      this.backend.awaitWritable,
      idle,
      () =>
        new WriteError({
          reason: "TimedOut",
          message: `write to ${this.peer} timed out: the peer took nothing for ${Duration.format(idle)}`,
          address: this.peer
        })
    )
    return Effect.zipRight(room, Effect.suspend(next))
  }

  /** Writes `data[offset..]`, waiting only while the backend is full. */
  private writeFrom(data: Uint8Array | string, offset: number): Effect.Effect<void, WriteError> {
    const written = this.write(data, offset)
    if (written === true) return Effect.void
    if (written === false) return this.awaitRoom(() => Effect.void)
    if (typeof written === "number") return this.awaitRoom(() => this.writeFrom(data, written))
    return Effect.fail(written)
  }

  /** Writes `chunks[from..]` (the first from `offset`), waiting only while the backend is full. */
  private writeAll(
    chunks: ReadonlyArray<Uint8Array | string>,
    from: number,
    offset: number
  ): Effect.Effect<void, WriteError> {
    for (let index = from; index < chunks.length; index++) {
      const written = this.write(chunks[index], index === from ? offset : 0)
      if (written === true) continue
      if (written === false) return this.awaitRoom(() => this.writeAll(chunks, index + 1, 0))
      if (typeof written === "number") return this.awaitRoom(() => this.writeAll(chunks, index, written))
      return Effect.fail(written)
    }
    return Effect.void
  }

  readonly send = (data: Uint8Array | string): Effect.Effect<void, WriteError> =>
    Effect.suspend(() => this.writeFrom(data, 0))

  get sink(): Sink.Sink<void, Uint8Array | string, never, WriteError> {
    return Sink.forEachChunk((chunk) => Effect.suspend(() => this.writeAll(Chunk.toReadonlyArray(chunk), 0, 0)))
  }

  get endWrite(): Effect.Effect<void, WriteError> {
    return this.backend.endWrite
  }

  get close(): Effect.Effect<void> {
    return this.backend.close
  }
}

/**
 * Makes the connection object of a backend connection, accepted or
 * connected: the one place every `TcpConnection` is made.
 */
const makeConnection = (
  backend: TcpConnectionBackend,
  idleTimeout: Duration.Duration | undefined,
  instruments: TcpInstruments | undefined
): TcpConnection => new TcpConnection(backend, idleTimeout, instruments)

/** @internal */
export const isTcpConnection = (u: unknown): u is TcpConnectionShape => Predicate.hasProperty(u, TcpConnectionTypeId)

/** @internal */
export const isTcpListener = (u: unknown): u is TcpListenerShape => Predicate.hasProperty(u, TcpListenerTypeId)

/**
 * Resets a connection (RST) where its network can, then closes it. Not a
 * member of `TcpConnection`: only the Proxy needs it.
 *
 * @internal
 */
export const reset = (connection: TcpConnectionShape): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (connection instanceof TcpConnection) connection.backend.reset()
    return connection.close
  })

/**
 * A listening socket behind the `TcpListener` interface, the same class on
 * every network.
 *
 * @internal
 */
export class TcpListener implements TcpListenerShape {
  readonly address: SocketAddress
  readonly accept: Effect.Effect<TcpConnectionShape, AcceptError, Scope.Scope>
  readonly connections: Stream.Stream<TcpConnectionShape, AcceptError>

  constructor(
    readonly backend: TcpListenerBackend,
    private readonly idleTimeout: Duration.Duration | undefined,
    /** The clock of accepted connections' durations, when telemetry is on. */
    private readonly telemetryClock: Clock.Clock | undefined
  ) {
    this.address = backend.address
    const address = format(backend.address)
    const closed = () => acceptClosed(address)

    // The finalizer is in the scope before the connection exists, so an
    // interruption between accept and return cannot leak it.
    this.accept = Effect.flatMap(Effect.scope, (scope) => {
      let claimed: TcpConnection | undefined
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
        Effect.mapBoth(
          backend.take((connection) => {
            if (released) return false
            claimed = this.accepted(connection)
            return true
          }),
          { onFailure: closed, onSuccess: () => claimed! }
        )
      )
    })

    this.connections = Stream.unwrapScoped(
      Effect.map(
        Effect.acquireRelease(
          Effect.sync(() => new Set<TcpConnection>()),
          (owned) => Effect.forEach(owned, (connection) => connection.close, { discard: true, concurrency: "unbounded" })
        ),
        (owned) => {
          let ready: Array<TcpConnectionShape> = []
          const own: Claim = (backendConnection) => {
            const connection = this.accepted(backendConnection)
            owned.add(connection)
            connection.onClose(() => owned.delete(connection))
            ready.push(connection)
            return true
          }
          const takeAll: Effect.Effect<Chunk.Chunk<TcpConnectionShape>, Option.Option<AcceptError>> = Effect.suspend(
            () => {
              backend.takeReady(own)
              if (ready.length === 0) {
                return Effect.mapBoth(backend.take(own), {
                  onFailure: () => Option.some(closed()),
                  onSuccess: () => Chunk.of(ready.pop()!)
                })
              }
              const taken = ready
              ready = []
              return Effect.succeed(Chunk.unsafeFromArray(taken))
            }
          )
          return Stream.repeatEffectChunkOption(takeAll)
        }
      )
    )
  }

  get [TcpListenerTypeId](): Api.TcpListenerTypeId {
    return TcpListenerTypeId
  }

  /** The one place a connection accepted by a listener becomes a `TcpConnection`. */
  private accepted(backend: TcpConnectionBackend): TcpConnection {
    const clock = this.telemetryClock
    return makeConnection(backend, this.idleTimeout, clock === undefined ? undefined : new TcpInstruments(clock, "server"))
  }
}

/** The settings of a connection given none of its own: most connections, checked without an Effect. */
const defaultConnectionSettings: ConnectionSettings = { idleTimeout: undefined, closeTimeout: defaultCloseTimeout }

const connectionSettings = <E>(
  options: TcpSocketOptions,
  onInvalid: (message: string) => E
): Effect.Effect<ConnectionSettings, E> =>
  options.idleTimeout === undefined && options.closeTimeout === undefined
    ? Effect.succeed(defaultConnectionSettings)
    : Effect.flatMap(
      optionalDuration(options.idleTimeout, "idleTimeout", onInvalid),
      (idleTimeout) =>
        Effect.map(
          optionalDuration(options.closeTimeout, "closeTimeout", onInvalid),
          (closeTimeout) => ({ idleTimeout, closeTimeout: closeTimeout ?? defaultCloseTimeout })
        )
    )

const keepAliveOff: KeepAliveSettings = { keepAlive: false }
const keepAliveOn: KeepAliveSettings = { keepAlive: true }

const keepAliveSettings = <E>(
  keepAlive: TcpSocketOptions["keepAlive"],
  onInvalid: (message: string) => E
): Effect.Effect<KeepAliveSettings, E> =>
  typeof keepAlive === "boolean" || keepAlive === undefined
    ? Effect.succeed(keepAlive === true ? keepAliveOn : keepAliveOff)
    : Effect.map(optionalDuration(keepAlive, "keepAlive", onInvalid), (delay) => ({
      keepAlive: true,
      keepAliveInitialDelay: Duration.toMillis(delay ?? Duration.zero)
    }))

/**
 * The listen step: checks the options, opens the backend's listener, and
 * wraps it.
 *
 * @internal
 */
export const listen = (
  backend: TcpBackend,
  options: ListenOptions
): Effect.Effect<TcpListenerShape, BindError | AddressError, Scope.Scope> =>
  bindStep(
    "effect_net.tcp.listen",
    "tcp",
    () => ({ host: String(options?.host ?? "127.0.0.1"), port: Number(options?.port ?? 0) }),
    listenStep(backend, options)
  )

const listenStep = (
  backend: TcpBackend,
  options: ListenOptions
): Effect.Effect<TcpListenerShape, BindError | AddressError, Scope.Scope> =>
  Effect.gen(function*() {
    const invalid = (message: string) => new BindError({ reason: "InvalidArgument", message })
    const host = yield* validateHost(options.host ?? "127.0.0.1")
    const port = yield* validatePort(options.port ?? 0)
    const backlog = (yield* optionalPositiveInteger(options.backlog, "backlog", invalid)) ?? defaultBacklog
    const connection = yield* connectionSettings(options, invalid)
    const keepAlive = yield* keepAliveSettings(options.keepAlive, invalid)
    const listener = yield* backend.listen({
      host,
      port,
      backlog,
      ipv6Only: options.ipv6Only === true,
      noDelay: options.noDelay === true,
      keepAlive,
      connection
    })
    const telemetryClock = (yield* isEnabled) ? yield* Effect.clock : undefined
    return new TcpListener(listener, connection.idleTimeout, telemetryClock)
  })

/**
 * The connect step: checks the options, opens the backend's connection
 * within the connect timeout (on the backend's clock), and wraps it.
 *
 * @internal
 */
export const connect = (
  backend: TcpBackend,
  options: ConnectOptions
): Effect.Effect<TcpConnectionShape, ConnectError | AddressError, Scope.Scope> =>
  step(
    "effect_net.tcp.connect",
    {
      kind: "client",
      attributes: () => endpointAttributes("tcp", { server: { host: String(options?.host), port: Number(options?.port) } }),
      describe: (connection) =>
        endpointAttributes("tcp", { peer: connection.remoteAddress, client: connection.localAddress })
    },
    connectStep(backend, options)
  )

/**
 * A chain of `flatMap`s rather than `Effect.gen`: a client that opens a
 * connection per request pays this on every one, and a generator's
 * iterator and adapter cost more than the checks themselves.
 */
const connectStep = (
  backend: TcpBackend,
  options: ConnectOptions
): Effect.Effect<TcpConnectionShape, ConnectError | AddressError, Scope.Scope> => {
  const invalid = (message: string) => new ConnectError({ reason: "InvalidArgument", message })
  const { localAddress, localPort } = options
  return Effect.flatMap(validateHost(options.host), (host) =>
    Effect.flatMap(validatePort(options.port, { allowZero: false }), (port) =>
      Effect.flatMap(localAddress === undefined ? Effect.succeed(undefined) : validateHost(localAddress), (localHost) =>
        Effect.flatMap(localPort === undefined ? Effect.succeed(undefined) : validatePort(localPort), (localPortChecked) =>
          Effect.flatMap(optionalDuration(options.timeout, "timeout", invalid), (timeout) =>
            Effect.flatMap(connectionSettings(options, invalid), (connection) =>
              Effect.flatMap(keepAliveSettings(options.keepAlive, invalid), (keepAlive) => {
                const opening = backend.connect({
                  host,
                  port,
                  localAddress: localHost,
                  localPort: localPortChecked,
                  noDelay: options.noDelay === true,
                  keepAlive,
                  connection
                })
                const opened = timeout === undefined
                  ? opening
                  : backend.clock.timeoutFail(opening, timeout, () => {
                    const target = format({ host, port })
                    return new ConnectError({
                      reason: "TimedOut",
                      message: `connect to ${target} failed: timed out after ${Duration.format(timeout)}`,
                      address: target
                    })
                  })
                return Effect.flatMap(opened, (backendConnection) =>
                  Effect.map(
                    makeTcpInstruments("client"),
                    (instruments) => makeConnection(backendConnection, connection.idleTimeout, instruments)
                  ))
              })))))))
}
