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
import * as Predicate from "effect/Predicate"
import * as Stream from "effect/Stream"
import type * as Scope from "effect/Scope"
import { format } from "./Address.js"
import { describeValue, optionsProblem } from "./internal/shared/arguments.js"
import { optionalDuration } from "./internal/shared/options.js"
import * as internalServe from "./internal/shared/serve.js"
import { sleepEitherClock } from "./internal/shared/time.js"
import type { AddressError, BindError, ConnectError } from "./NetError.js"
import { AcceptError, WriteError } from "./NetError.js"
import type { TcpConnection as Connection, TcpListener as Listener } from "./Network.js"
import type * as NetworkTypes from "./Network.js"
import { Network } from "./Network.js"

/**
 * An established TCP connection: `recv`, `stream`, `send`, `sink`, `endWrite` (half-close) and `close`.
 *
 * @since 0.1.0
 * @category models
 */
export type TcpConnection = Connection

/**
 * A listening TCP socket: its bound `address`, one `accept`, and the `connections` stream.
 *
 * @since 0.1.0
 * @category models
 */
export type TcpListener = Listener

/**
 * Options of `Tcp.connect`.
 *
 * @since 0.1.0
 * @category options
 */
export type ConnectOptions = NetworkTypes.ConnectOptions

/**
 * Options of `Tcp.listen`.
 *
 * @since 0.1.0
 * @category options
 */
export type ListenOptions = NetworkTypes.ListenOptions

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
 * Whether a value is a `TcpListener`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isTcpListener = (u: unknown): u is TcpListener =>
  Predicate.hasProperty(u, "accept") && Effect.isEffect(u.accept) &&
  Predicate.hasProperty(u, "connections") && Predicate.hasProperty(u.connections, Stream.StreamTypeId) &&
  Predicate.hasProperty(u, "address") && Predicate.isObject(u.address)

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
  (args) => Predicate.hasProperty(args[0], "endWrite"),
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
            Effect.zipRight(Stream.runDrain(connection.stream)),
            Effect.as(true),
            (waitForPeer) => Effect.raceFirst(waitForPeer, Effect.as(sleepEitherClock(timeout ?? defaultGracePeriod), false)),
            Effect.interruptible,
            Effect.catchAll(() => Effect.succeed(false))
          )
        ),
        Effect.ensuring(connection.close)
      )
)
