/**
 * The `Network` service: the one place a program gets sockets from. Programs
 * written against it run on real sockets (`NodeNetwork.layer`) or on the
 * deterministic simulated network (`TestNetwork.layer`), unchanged.
 *
 * The shapes the service hands out are defined where users look for them,
 * in `Tcp` (`TcpListener`, `TcpConnection` and their options) and `Udp`
 * (`UdpSocket`, `Datagram` and their options), and named here too.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { AddressError, BindError, ConnectError } from "./NetError.js"
import type * as Tcp from "./Tcp.js"
import type * as Udp from "./Udp.js"

/**
 * Options every TCP socket takes: see `Tcp.TcpSocketOptions`.
 *
 * @since 0.1.0
 * @category options
 */
export type TcpSocketOptions = Tcp.TcpSocketOptions

/**
 * The options of `Tcp.listen`: see `Tcp.ListenOptions`.
 *
 * @since 0.1.0
 * @category options
 */
export type ListenOptions = Tcp.ListenOptions

/**
 * The options of `Tcp.connect`: see `Tcp.ConnectOptions`.
 *
 * @since 0.1.0
 * @category options
 */
export type ConnectOptions = Tcp.ConnectOptions

/**
 * The options of `Udp.bind`: see `Udp.UdpBindOptions`.
 *
 * @since 0.1.0
 * @category options
 */
export type UdpBindOptions = Udp.UdpBindOptions

/**
 * The options of `Udp.connect`: see `Udp.UdpConnectOptions`.
 *
 * @since 0.1.0
 * @category options
 */
export type UdpConnectOptions = Udp.UdpConnectOptions

/**
 * An established TCP connection: see `Tcp.TcpConnection`.
 *
 * @since 0.1.0
 * @category models
 */
export type TcpConnection = Tcp.TcpConnection

/**
 * A listening TCP socket: see `Tcp.TcpListener`.
 *
 * @since 0.1.0
 * @category models
 */
export type TcpListener = Tcp.TcpListener

/**
 * A received datagram: see `Udp.Datagram`.
 *
 * @since 0.1.0
 * @category models
 */
export type Datagram = Udp.Datagram

/**
 * A bound UDP socket: see `Udp.UdpSocket`.
 *
 * @since 0.1.0
 * @category models
 */
export type UdpSocket = Udp.UdpSocket

/**
 * The service every socket comes from. Provide `NodeNetwork.layer` for real
 * sockets or `TestNetwork.layer()` for the simulated network; the `Tcp` and
 * `Udp` modules are accessors over it.
 *
 * @since 0.1.0
 * @category tags
 */
export class Network extends Context.Tag("effect-net/Network")<Network, {
  readonly tcpListen: (options: ListenOptions) => Effect.Effect<TcpListener, BindError | AddressError, Scope.Scope>
  readonly tcpConnect: (
    options: ConnectOptions
  ) => Effect.Effect<TcpConnection, ConnectError | AddressError, Scope.Scope>
  readonly udpBind: (options: UdpBindOptions) => Effect.Effect<UdpSocket, BindError | AddressError, Scope.Scope>
  readonly udpConnect: (
    options: UdpConnectOptions
  ) => Effect.Effect<UdpSocket, BindError | ConnectError | AddressError, Scope.Scope>
}>() {}
