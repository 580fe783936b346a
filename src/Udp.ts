/**
 * UDP: `bind` (socket → bind) gives a socket that sends datagrams to any
 * address and receives from any; `connect` gives one that talks to a single
 * peer. Datagram boundaries are kept; received datagrams wait in a bounded
 * buffer whose overflow is counted, never unbounded memory.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { AddressError, BindError, ConnectError } from "./NetError.js"
import type { Datagram as Dgram, UdpSocket as Socket } from "./Network.js"
import type * as NetworkTypes from "./Network.js"
import { Network } from "./Network.js"

/**
 * A bound UDP socket: `send` (sendto), `recv` (recvfrom), the `datagrams` stream, drop count, multicast and `close`.
 *
 * @since 0.1.0
 * @category models
 */
export type UdpSocket = Socket

/**
 * One received datagram: its payload, whole, and the address it came from.
 *
 * @since 0.1.0
 * @category models
 */
export type Datagram = Dgram

/**
 * Options of `Udp.bind`.
 *
 * @since 0.1.0
 * @category options
 */
export type UdpBindOptions = NetworkTypes.UdpBindOptions

/**
 * Options of `Udp.connect`.
 *
 * @since 0.1.0
 * @category options
 */
export type UdpConnectOptions = NetworkTypes.UdpConnectOptions

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
