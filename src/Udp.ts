/**
 * UDP: `bind` (socket → bind) gives a socket that sends datagrams to any
 * address and receives from any; `connect` gives one that talks to a single
 * peer. Datagram boundaries are kept; received datagrams wait in a bounded
 * buffer whose overflow is counted, never unbounded memory.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { SocketAddress } from "./Address.js"
import type { AddressError, BindError, ConnectError, MulticastError, ReceiveError, SendError } from "./NetError.js"
import { Network } from "./Network.js"

/**
 * Options of `Udp.bind`: where to bind, socket options, and the bounded
 * receive buffer with its overflow policy.
 *
 * @since 0.1.0
 * @category options
 */
export interface UdpBindOptions {
  /** Default `"127.0.0.1"` (or `"::1"` for `family: "IPv6"`). */
  readonly host?: string | undefined
  /** Default 0: an ephemeral port. */
  readonly port?: number | undefined
  /** Default: the family of `host`, else IPv4. */
  readonly family?: "IPv4" | "IPv6" | undefined
  readonly reuseAddress?: boolean | undefined
  readonly broadcast?: boolean | undefined
  readonly ttl?: number | undefined
  /** Datagrams held in memory until received. Default 1024. */
  readonly receiveBufferSize?: number | undefined
  /** What a full receive buffer does with a new datagram. Default `"dropNewest"`. */
  readonly overflow?: "dropNewest" | "dropOldest" | undefined
}

/**
 * Options of `Udp.connect`: the one peer to send to and hear from, and how
 * to bind the local end.
 *
 * @since 0.1.0
 * @category options
 */
export interface UdpConnectOptions {
  readonly host: string
  readonly port: number
  readonly bind?: Omit<UdpBindOptions, "family"> | undefined
  readonly receiveBufferSize?: number | undefined
  readonly overflow?: "dropNewest" | "dropOldest" | undefined
}

/**
 * One received datagram: its bytes, whole, and the address it came from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Datagram {
  readonly payload: Uint8Array
  readonly from: SocketAddress
}

/**
 * Marks a `UdpSocket`, on every network: see `isUdpSocket`.
 *
 * @since 0.2.0
 * @category type ids
 */
export const UdpSocketTypeId: unique symbol = Symbol.for("effect-net/UdpSocket")

/**
 * The type of `UdpSocketTypeId`.
 *
 * @since 0.2.0
 * @category type ids
 */
export type UdpSocketTypeId = typeof UdpSocketTypeId

/**
 * A bound UDP socket.
 *
 * @since 0.1.0
 * @category models
 */
export interface UdpSocket {
  readonly [UdpSocketTypeId]: UdpSocketTypeId
  /** The bound address, with the port the kernel picked for port 0. */
  readonly address: SocketAddress
  /**
   * `sendto()`; `to` may be left out on a connected socket. Completes when
   * the datagram is sent.
   *
   * A datagram goes whole or not at all, never split. Interrupted before it
   * runs (while a host name in `to` is looked up, say), it sends nothing.
   * Once it runs the datagram is handed to the OS in that step: an
   * interruption then only stops the wait for Node's callback, and the
   * datagram may still go out. No timeouts; TestNetwork delivers on its
   * `Clock` (latency, jitter).
   */
  readonly send: (
    payload: Uint8Array | string,
    to?: SocketAddress | { readonly host: string; readonly port: number }
  ) => Effect.Effect<void, SendError>
  /**
   * Sends every payload, in order, to `to` (the peer of a connected socket
   * when left out), and completes when all of them are sent: the datagrams
   * are handed to the OS at once and their completions awaited together, so
   * a batch costs one wait where `Effect.forEach(payloads, send)` costs one
   * per datagram (and a fiber each with `concurrency`).
   *
   * Every payload is checked as `send` checks it and `to` once, before
   * anything goes: a payload that is not a `Uint8Array` or a string, or one
   * too large for a datagram, fails the batch with `send`'s error and sends
   * none of it. A datagram the OS refuses fails the batch with the first
   * such error, once every completion has come; the others may have gone.
   * A string is no batch (it would go one character a datagram): it fails
   * with `InvalidArgument`, as anything that is not iterable does. An empty
   * batch sends nothing. Interrupted before it runs, it sends
   * nothing; once it runs, every datagram is in the OS's hands, and an
   * interruption only stops the wait.
   *
   * @since 0.2.0
   */
  readonly sendAll: (
    payloads: Iterable<Uint8Array | string>,
    to?: SocketAddress | { readonly host: string; readonly port: number }
  ) => Effect.Effect<void, SendError>
  /**
   * `recvfrom()`: the next datagram, waiting for one.
   *
   * Interruption loses nothing: a datagram leaves the receive buffer only
   * in the step that returns it. It has no timeout of its own: see
   * `recvWithin`.
   */
  readonly recv: Effect.Effect<Datagram, ReceiveError>
  /**
   * `recv` with a deadline: the next datagram, or `None` when none arrived
   * within `timeout`. A buffered datagram is returned at once.
   *
   * Use it instead of `recv.pipe(Effect.timeoutOption(timeout))`, which
   * races the receive against a sleep in a fiber of its own on every call:
   * this waits with one timer and no other fiber. The timeout runs in real
   * time on NodeNetwork and on the `Clock` on TestNetwork, as the simulated
   * network's latency does (so a `TestClock` drives it there).
   *
   * Interruption loses nothing, as with `recv`: a datagram arriving after
   * it is there for the next receive. A `timeout` that is not a
   * non-negative duration (negative, NaN, malformed, as a configuration
   * file may hold) fails with `InvalidArgument` rather than being read as
   * zero; an infinite one waits like `recv`.
   *
   * @example
   * ```ts
   * import { Effect, Option } from "effect"
   * import { NodeNetwork, Udp } from "effect-net"
   *
   * // Ask until answered: UDP may lose the request or the reply.
   * const ask = (socket: Udp.UdpSocket, request: string) =>
   *   Effect.gen(function*() {
   *     while (true) {
   *       yield* socket.send(request)
   *       const reply = yield* socket.recvWithin("200 millis")
   *       if (Option.isSome(reply)) return reply.value
   *     }
   *   })
   *
   * const program = Effect.gen(function*() {
   *   const socket = yield* Udp.connect({ host: "127.0.0.1", port: 12345 })
   *   return yield* ask(socket, "time?")
   * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
   * ```
   *
   * @since 0.2.0
   */
  readonly recvWithin: (timeout: Duration.DurationInput) => Effect.Effect<Option.Option<Datagram>, ReceiveError>
  /**
   * The receive loop.
   *
   * Interrupted while it waits, it loses nothing. Each pull takes every
   * buffered datagram at once, and what it took belongs to the stream, as
   * with `TcpConnection.stream`.
   */
  readonly datagrams: Stream.Stream<Datagram, ReceiveError>
  /** Datagrams dropped because the receive buffer was full, so far. */
  readonly dropped: Effect.Effect<number>
  /** Joins a multicast group; leaves it when the scope ends. Done in one step: nothing to interrupt. */
  readonly joinMulticast: (group: string, iface?: string) => Effect.Effect<void, MulticastError, Scope.Scope>
  /**
   * Idempotent; also runs when the scope ends. Committed at once:
   * datagrams still in the receive buffer are discarded, and a `recv`
   * waiting (or any later one) fails `Closed`.
   */
  readonly close: Effect.Effect<void>
}

/**
 * Whether a value is a `UdpSocket` (from `bind` or `connect`, on any network).
 *
 * @since 0.2.0
 * @category guards
 */
export const isUdpSocket = (u: unknown): u is UdpSocket => Predicate.hasProperty(u, UdpSocketTypeId)

/**
 * The largest UDP payload each family can carry in one datagram.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxPayload = { IPv4: 65_507, IPv6: 65_527 } as const

/**
 * Opens a UDP socket bound to `host:port` (127.0.0.1 and an ephemeral port
 * unless told otherwise). It closes when the scope ends.
 *
 * Interrupted, the bind still completes (it acquires a resource) and the
 * socket is then closed; a host name being looked up finishes unobserved.
 * Nothing here has a timeout.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { NodeNetwork, Udp } from "effect-net"
 *
 * // The seed's UDP server: answer every datagram with its upper-case copy.
 * const server = Effect.gen(function*() {
 *   const socket = yield* Udp.bind({ host: "127.0.0.1", port: 0 })
 *   while (true) {
 *     const { from, payload } = yield* socket.recv
 *     yield* socket.send(new TextDecoder().decode(payload).toUpperCase(), from)
 *   }
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const bind = (
  options?: UdpBindOptions
): Effect.Effect<UdpSocket, BindError | AddressError, Network | Scope.Scope> =>
  Effect.flatMap(Network, (network) => network.udpBind(options ?? {}))

/**
 * Opens a UDP socket connected to one peer: `send` needs no destination and
 * only that peer's datagrams are received.
 *
 * Interrupted, the bind and connect still completes (it acquires a resource) and the
 * socket is then closed; a host name being looked up finishes unobserved.
 * Nothing here has a timeout.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { NodeNetwork, Udp } from "effect-net"
 *
 * const client = Effect.gen(function*() {
 *   const socket = yield* Udp.connect({ host: "127.0.0.1", port: 12345 })
 *   yield* socket.send("Hello")
 *   // UDP may lose the reply: wait for it a bounded time.
 *   const reply = yield* socket.recvWithin("1 second")
 *   return reply
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (
  options: UdpConnectOptions
): Effect.Effect<UdpSocket, BindError | ConnectError | AddressError, Network | Scope.Scope> =>
  Effect.flatMap(Network, (network) => network.udpConnect(options))
