/**
 * TCP: `listen` (socket → bind → listen), `accept` and the `connections`
 * stream on a listener, `serve` to run a handler per connection, and
 * `connect`. Every socket is a scoped resource.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { NodeNetwork, Tcp } from "effect-net"
 *
 * const echo = Effect.gen(function*() {
 *   const listener = yield* Tcp.listen({ port: 0 })
 *   yield* Tcp.serve(listener, (conn) => conn.stream.pipe(Stream.run(conn.sink)))
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type * as Option from "effect/Option"
import type * as Stream from "effect/Stream"
import type * as Scope from "effect/Scope"
import type * as Sink from "effect/Sink"
import type { SocketAddress } from "./Address.js"
import { format } from "./Address.js"
import { describeValue, optionsProblem } from "./internal/shared/arguments.js"
import { optionalDuration } from "./internal/shared/options.js"
import * as internalRead from "./internal/shared/readToEnd.js"
import * as internalServe from "./internal/shared/serve.js"
import * as internal from "./internal/shared/tcp.js"
import { sleepEitherClock } from "./internal/shared/time.js"
import type { AddressError, BindError, ConnectError, FrameError, ReadError } from "./NetError.js"
import { AcceptError, WriteError } from "./NetError.js"
import { Network } from "./Network.js"

/**
 * Marks the connections every `Network` hands out: see `isTcpConnection`.
 *
 * @since 0.2.0
 * @category type ids
 */
export const TcpConnectionTypeId: unique symbol = internal.TcpConnectionTypeId

/**
 * The type of `TcpConnectionTypeId`.
 *
 * @since 0.2.0
 * @category type ids
 */
export type TcpConnectionTypeId = typeof TcpConnectionTypeId

/**
 * Marks the listeners every `Network` hands out: see `isTcpListener`.
 *
 * @since 0.2.0
 * @category type ids
 */
export const TcpListenerTypeId: unique symbol = internal.TcpListenerTypeId

/**
 * The type of `TcpListenerTypeId`.
 *
 * @since 0.2.0
 * @category type ids
 */
export type TcpListenerTypeId = typeof TcpListenerTypeId

/**
 * Options every TCP socket takes, listening (for the connections it
 * accepts) or connecting.
 *
 * @since 0.1.0
 * @category options
 */
export interface TcpSocketOptions {
  /** Disable Nagle's algorithm (`TCP_NODELAY`). */
  readonly noDelay?: boolean | undefined
  /** Enable TCP keep-alive; a duration sets the initial delay. */
  readonly keepAlive?: boolean | Duration.DurationInput | undefined
  /**
   * Fail a blocked read with `ReadError` `TimedOut` when nothing arrives for
   * this long, and a `send` that waits on a full buffer with `WriteError`
   * `TimedOut` when the peer takes nothing for this long (its bytes stay
   * queued: close the connection). A timed-out read can be retried. Off
   * unless set.
   */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /**
   * How long `close` (and scope end) waits for unsent bytes to be flushed
   * before it destroys the socket. Default 2 seconds.
   */
  readonly closeTimeout?: Duration.DurationInput | undefined
}

/**
 * Options of `Tcp.listen`: where to bind, the accept backlog, and the socket
 * options of every accepted connection.
 *
 * @since 0.1.0
 * @category options
 */
export interface ListenOptions extends TcpSocketOptions {
  /** Default `"127.0.0.1"`: never all interfaces unless asked. */
  readonly host?: string | undefined
  /** Default 0: an ephemeral port, read it from `listener.address.port`. */
  readonly port?: number | undefined
  /**
   * The kernel's accept backlog, and the number of accepted connections held
   * for `accept` to take. Default 511.
   */
  readonly backlog?: number | undefined
  readonly ipv6Only?: boolean | undefined
}

/**
 * Options of `Tcp.connect`: the peer (a name or an IP address), a connect
 * timeout, an optional local address and port, and socket options.
 *
 * @since 0.1.0
 * @category options
 */
export interface ConnectOptions extends TcpSocketOptions {
  readonly host: string
  readonly port: number
  /** Fail with `ConnectError` `TimedOut` when the connection is not up by then. */
  readonly timeout?: Duration.DurationInput | undefined
  /** The IP address to connect from; a host name is `ConnectError` `InvalidAddress`. */
  readonly localAddress?: string | undefined
  readonly localPort?: number | undefined
}

/**
 * An established TCP connection. Closes when the scope it was opened in
 * ends, or earlier with `close`.
 *
 * Each operation says what interrupting it does (whether data can be lost:
 * its "cancel safety") and which clock its timeouts run on: real time on
 * `NodeNetwork` (a `TestClock` does not move real sockets), the `Clock` on
 * `TestNetwork` (so a `TestClock` drives the simulation). No interruption
 * ever leaks the socket.
 *
 * @since 0.1.0
 * @category models
 */
export interface TcpConnection {
  /** This end's address. */
  readonly localAddress: SocketAddress
  /** The peer's address. */
  readonly remoteAddress: SocketAddress
  /**
   * The next chunk of bytes; `None` once the peer has ended its side (EOF),
   * and on every call after that.
   *
   * Interruption loses nothing: a chunk leaves the connection's buffer only
   * in the step that returns it, so a `recv` interrupted (or timed out)
   * while it waits leaves every byte for the next `recv` or `stream`.
   *
   * With `idleTimeout`, a wait that long fails `ReadError` `TimedOut` and
   * the connection goes on (retry, or close it). The timeout runs in real
   * time on NodeNetwork, on the `Clock` on TestNetwork.
   */
  readonly recv: Effect.Effect<Option.Option<Uint8Array>, ReadError>
  /**
   * Incoming bytes until EOF, with backpressure: an unpulled stream stops
   * the socket reading.
   *
   * Interrupted while it waits for bytes, it loses nothing. Each pull takes
   * every buffered chunk at once, and what it took belongs to the stream:
   * an operator that stops early (`Stream.take`) or an interruption while
   * your code processes a chunk drops the rest of that chunk. Read with
   * `recv`, or keep one stream for the life of the connection, when every
   * byte matters. `idleTimeout` applies to each pull as to `recv`.
   */
  readonly stream: Stream.Stream<Uint8Array, ReadError>
  /**
   * Hands bytes (strings as UTF-8) to the socket. Returns once the socket has
   * accepted them; waits only while its buffers are full.
   *
   * Interrupted before it runs, it sends nothing. Interrupted while it
   * waits, it has already queued bytes, which go out unless the connection
   * closes or resets first: on NodeNetwork the whole payload (a payload is
   * handed to the socket whole, never half of it); on TestNetwork, which
   * moves a payload into its simulated socket buffer as room frees up, a
   * prefix of it. Either way the peer reads what was queued in order, with
   * no gap.
   *
   * With `idleTimeout`, a peer that takes nothing for that long fails the
   * wait with `WriteError` `TimedOut` (what was queued stays queued: close
   * the connection). The timeout runs in real time on NodeNetwork, on the
   * `Clock` on TestNetwork.
   */
  readonly send: (data: Uint8Array | string) => Effect.Effect<void, WriteError>
  /**
   * Sends each element as `send` does. Interrupted, it has queued a prefix
   * of the elements: whole ones on NodeNetwork; on TestNetwork the last one
   * may be queued in part.
   */
  readonly sink: Sink.Sink<void, Uint8Array | string, never, WriteError>
  /**
   * Half-close: sends FIN once buffered bytes are flushed. Reading goes on.
   * Idempotent.
   *
   * The first call commits the FIN; interrupting it only stops the wait
   * (NodeNetwork waits until the bytes before it are flushed, TestNetwork
   * returns at once). Call it again to wait.
   */
  readonly endWrite: Effect.Effect<void, WriteError>
  /**
   * Idempotent; also runs when the scope ends.
   *
   * The close is committed at once: interrupting it only stops the wait,
   * and from then on `send` fails `Closed`. On NodeNetwork it flushes
   * unsent bytes for at most `closeTimeout` (default 2 seconds, real time),
   * then destroys the socket, so a peer that stopped reading cannot hold it
   * open; on TestNetwork it takes effect at once.
   */
  readonly close: Effect.Effect<void>
}

/**
 * A listening TCP socket.
 *
 * @since 0.1.0
 * @category models
 */
export interface TcpListener {
  /** The bound address, with the port the kernel picked for port 0. */
  readonly address: SocketAddress
  /**
   * One `accept()`: the connection closes with the calling scope.
   *
   * Interruption loses no connection: interrupted while it waits, or with
   * its scope closed meanwhile, it leaves the next connection queued for the
   * next `accept`. A connection is handed over together with the finalizer
   * that closes it, so one accepted just before an interruption closes with
   * the scope (the peer sees the close). It has no timeout of its own.
   */
  readonly accept: Effect.Effect<TcpConnection, AcceptError, Scope.Scope>
  /**
   * The accept loop. Each connection is closed by you or, at the latest,
   * when the stream ends.
   *
   * Interrupted while it waits, it loses no connection. Every connection it
   * emitted is owned by the stream and closed when the stream ends (on
   * success, failure or interruption), including ones an operator dropped:
   * use `accept` or `Tcp.serve` for connections that must outlive it.
   */
  readonly connections: Stream.Stream<TcpConnection, AcceptError>
}

/**
 * Options of `Tcp.serve`: how many connections at once, and how long handlers may finish after an interruption.
 *
 * @since 0.1.0
 * @category options
 */
export interface ServeOptions {
  /** Most connections handled at once; at the limit accept waits. Default: unbounded. */
  readonly concurrency?: number | undefined
  /**
   * When `serve` is interrupted it stops accepting, lets running handlers
   * finish for this long, then interrupts them. Default 1 second.
   */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
}

/**
 * Opens a listening socket: `socket()`, `bind()`, `listen()`. Binds
 * 127.0.0.1 and an ephemeral port unless told otherwise; read the port from
 * `listener.address.port`. The socket closes when the scope ends.
 *
 * Interrupted, the bind still completes (it acquires a resource) and the
 * socket is then closed; a host name being looked up finishes unobserved.
 * The connections it accepts take their `idleTimeout` and `closeTimeout`
 * from here (see `TcpConnection` for their clocks).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { NodeNetwork, Tcp } from "effect-net"
 *
 * const program = Effect.gen(function*() {
 *   const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
 *   yield* Effect.log(`listening on port ${listener.address.port}`)
 *   // One accept(): the connection closes with this scope.
 *   const conn = yield* listener.accept
 *   yield* conn.send("hello\n")
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const listen = (
  options?: ListenOptions
): Effect.Effect<TcpListener, BindError | AddressError, Network | Scope.Scope> =>
  Effect.flatMap(Network, (network) => network.tcpListen(options ?? {}))

/**
 * Opens a connection: `socket()`, `connect()`. The socket closes when the
 * scope ends.
 *
 * Interrupted or timed out at any point (name lookup, SYN sent), it
 * destroys the socket and leaks nothing; a connection that completes after
 * its scope has closed is closed at once. A name lookup (`getaddrinfo`)
 * cannot be cancelled: it finishes unobserved. `timeout` runs in real time
 * on NodeNetwork and on the `Clock` on TestNetwork (where an unanswered SYN
 * also gives up after 127 seconds of `Clock` time, as Linux does).
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { NodeNetwork, Tcp } from "effect-net"
 *
 * const program = Effect.gen(function*() {
 *   const conn = yield* Tcp.connect({ host: "127.0.0.1", port: 7000, timeout: "5 seconds" })
 *   yield* conn.send("Hello")
 *   yield* conn.endWrite // FIN: the server sees EOF, and can still answer
 *   const reply = yield* conn.recv // Option.none() once the server has ended
 *   return Option.map(reply, (bytes) => new TextDecoder().decode(bytes))
 * }).pipe(
 *   Effect.scoped,
 *   Effect.catchTag("ConnectError", (error) => Effect.succeed(Option.some(`failed: ${error.reason}`))),
 *   Effect.provide(NodeNetwork.layer)
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (
  options: ConnectOptions
): Effect.Effect<TcpConnection, ConnectError | AddressError, Network | Scope.Scope> =>
  Effect.flatMap(Network, (network) => network.tcpConnect(options))

/**
 * Whether a value is a `TcpListener` a `Network` handed out (it carries
 * `TcpListenerTypeId`).
 *
 * @since 0.1.0
 * @category guards
 */
export const isTcpListener: (u: unknown) => u is TcpListener = internal.isTcpListener

/**
 * Whether a value is a `TcpConnection` a `Network` handed out (it carries
 * `TcpConnectionTypeId`).
 *
 * @since 0.2.0
 * @category guards
 */
export const isTcpConnection: (u: unknown) => u is TcpConnection = internal.isTcpConnection

/**
 * Accepts connections forever and runs `handler` on each, in its own fiber
 * and its own scope: the connection closes when the handler ends, fails or is
 * interrupted. A failing handler is logged and never stops the server.
 *
 * Interrupting `serve` stops accepting first (connections still queued in
 * the listener close when the listener's scope ends), lets running handlers
 * finish for `shutdownTimeout` (default 1 second), then interrupts them;
 * each handler's connection closes with its scope, and `serve` returns once
 * every handler is done. `shutdownTimeout` ends on the `Clock` or in real
 * time, whichever comes first, on both networks: a `TestClock` neither
 * hangs a real server's shutdown nor loses control of a simulated one.
 *
 * A `listener` that is not a `TcpListener`, a `handler` that is not a
 * function, or an option out of range fails with `AcceptError`
 * `InvalidArgument` before anything is accepted.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { NodeNetwork, Tcp } from "effect-net"
 *
 * // An echo server, at most 100 connections at once.
 * const server = Effect.gen(function*() {
 *   const listener = yield* Tcp.listen({ port: 0 })
 *   yield* Tcp.serve(listener, (conn) => Stream.run(conn.stream, conn.sink), {
 *     concurrency: 100,
 *     shutdownTimeout: "2 seconds"
 *   })
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const serve: {
  <E, R>(
    handler: (connection: TcpConnection) => Effect.Effect<unknown, E, R>,
    options?: ServeOptions
  ): (listener: TcpListener) => Effect.Effect<never, AcceptError, Exclude<R, Scope.Scope>>
  <E, R>(
    listener: TcpListener,
    handler: (connection: TcpConnection) => Effect.Effect<unknown, E, R>,
    options?: ServeOptions
  ): Effect.Effect<never, AcceptError, Exclude<R, Scope.Scope>>
} = dual(
  // Only the data-last form starts with a function: anything else is taken as
  // a listener, so that a value that is not one fails typed below instead of
  // being mistaken for a handler (and returning a function, not an Effect).
  (args) => typeof args[0] !== "function",
  <E, R>(
    listener: TcpListener,
    handler: (connection: TcpConnection) => Effect.Effect<unknown, E, R>,
    options?: ServeOptions
  ): Effect.Effect<never, AcceptError, Exclude<R, Scope.Scope>> => {
    const problem = !isTcpListener(listener)
      ? `Tcp.serve: the listener is ${describeValue(listener)}, not a TcpListener`
      : typeof handler !== "function"
      ? `Tcp.serve: the handler is ${describeValue(handler)}, not a function`
      : optionsProblem(options, "Tcp.serve", true)
    return problem === undefined
      ? internalServe.serve(listener, handler, options)
      : Effect.fail(new AcceptError({ reason: "InvalidArgument", message: problem }))
  }
)

/**
 * Reads everything the peer sends until its EOF and returns it as one
 * `Uint8Array`: the whole reply of a peer that half-closes, at the cost of
 * one `recv` per chunk. `Stream.runCollect(conn.stream)` does the same with
 * a Stream run (a channel executor, a fiber, a scope), which costs far more
 * than the reading on a connection that carries one reply, and holds no
 * limit.
 *
 * At most `maxBytes` (default 1 MiB, `Infinity` for no limit): one byte more
 * before EOF fails with `FrameError` `FrameTooLarge`, so a peer cannot make
 * it hold more. A `maxBytes` that is not a non-negative integer or `Infinity`,
 * or options that are not an object, fail with `ReadError`
 * `InvalidArgument` before anything is read. Errors of
 * the connection (`ReadError`) and its `idleTimeout` apply as to `recv`.
 *
 * Interrupted, or failing, it drops what it had read: read with `recv`
 * where a partial reply matters.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Tcp } from "effect-net"
 *
 * const fetchReply = Effect.gen(function*() {
 *   const conn = yield* Tcp.connect({ host: "127.0.0.1", port: 7000 })
 *   yield* conn.send("hello")
 *   yield* conn.endWrite
 *   return yield* Tcp.readToEnd(conn, { maxBytes: 64 * 1024 })
 * })
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const readToEnd: {
  (
    options?: { readonly maxBytes?: number | undefined }
  ): (connection: TcpConnection) => Effect.Effect<Uint8Array, ReadError | FrameError>
  (
    connection: TcpConnection,
    options?: { readonly maxBytes?: number | undefined }
  ): Effect.Effect<Uint8Array, ReadError | FrameError>
} = dual(
  (args) => isTcpConnection(args[0]),
  (
    connection: TcpConnection,
    options?: { readonly maxBytes?: number | undefined }
  ): Effect.Effect<Uint8Array, ReadError | FrameError> => internalRead.readToEnd(connection, options)
)

const defaultGracePeriod = Duration.seconds(5)

/**
 * A graceful close: sends FIN (after flushing), then waits up to `timeout`
 * (default 5 seconds, ended by the `Clock` or real time, whichever comes
 * first, on both networks) for the peer's FIN, discarding anything it still
 * sends, then closes. Succeeds with `true` when the peer ended in time,
 * `false` when the timeout or an error of the connection cut it short. A
 * `timeout` that is not a non-negative duration (negative, NaN, malformed,
 * as a configuration file may hold) fails with `WriteError`
 * `InvalidArgument` rather than being read as zero; the connection is closed
 * all the same. Interrupting it closes the connection without waiting for
 * the peer's FIN.
 *
 * Read what you need first: bytes arriving during the wait are dropped.
 *
 * @since 0.1.0
 * @category combinators
 */
export const gracefulClose: {
  (
    options?: { readonly timeout?: Duration.DurationInput | undefined }
  ): (connection: TcpConnection) => Effect.Effect<boolean, WriteError>
  (
    connection: TcpConnection,
    options?: { readonly timeout?: Duration.DurationInput | undefined }
  ): Effect.Effect<boolean, WriteError>
} = dual(
  (args) => isTcpConnection(args[0]),
  (
    connection: TcpConnection,
    options?: { readonly timeout?: Duration.DurationInput | undefined }
  ): Effect.Effect<boolean, WriteError> =>
    optionalDuration(options?.timeout, "timeout", (message) =>
      new WriteError({
        reason: "InvalidArgument",
        message: `Tcp.gracefulClose: ${message}`,
        address: format(connection.remoteAddress)
      })).pipe(
        Effect.flatMap((timeout) =>
          connection.endWrite.pipe(
            Effect.zipRight(internalRead.discardToEnd(connection)),
            Effect.as(true),
            (waitForPeer) => Effect.raceFirst(waitForPeer, Effect.as(sleepEitherClock(timeout ?? defaultGracePeriod), false)),
            Effect.interruptible,
            Effect.catchAll(() => Effect.succeed(false))
          )
        ),
        Effect.ensuring(connection.close)
      )
)
