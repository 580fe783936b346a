/**
 * UDP: `bind` (socket → bind) gives a socket that sends datagrams to any
 * address and receives from any; `connect` gives one that talks to a single
 * peer. Datagram boundaries are kept; received datagrams wait in a bounded
 * buffer whose overflow is counted, never unbounded memory.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
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
   * `recvfrom()`: the next datagram, waiting for one.
   *
   * Interruption loses nothing: a datagram leaves the receive buffer only
   * in the step that returns it. It has no timeout of its own.
   */
  readonly recv: Effect.Effect<Datagram, ReceiveError>
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
 *   const reply = yield* socket.recv.pipe(Effect.timeoutOption("1 second"))
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
