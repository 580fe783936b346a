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
import type { Datagram as Dgram, UdpBindOptions, UdpConnectOptions, UdpSocket as Socket } from "./Network.js"
import { Network } from "./Network.js"

/**
 * @since 0.1.0
 * @category models
 */
export type UdpSocket = Socket

/**
 * @since 0.1.0
 * @category models
 */
export type Datagram = Dgram

/**
 * @since 0.1.0
 * @category options
 */
export type { UdpBindOptions, UdpConnectOptions }

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
 * @since 0.1.0
 * @category constructors
 */
export const connect = (
  options: UdpConnectOptions
): Effect.Effect<UdpSocket, BindError | ConnectError | AddressError, Network | Scope.Scope> =>
  Effect.flatMap(Network, (network) => network.udpConnect(options))
