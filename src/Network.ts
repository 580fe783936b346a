/**
 * The `Network` service: the one place a program gets sockets from. Programs
 * written against it run on real sockets (`NodeNetwork.layer`) or on the
 * deterministic simulated network (`TestNetwork.layer`), unchanged.
 *
 * This module also defines the shapes the service hands out: `TcpListener`,
 * `TcpConnection`, `UdpSocket` and `Datagram`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Sink from "effect/Sink"
import type * as Stream from "effect/Stream"
import type { SocketAddress } from "./Address.js"
import type {
  AcceptError,
  AddressError,
  BindError,
  ConnectError,
  MulticastError,
  ReadError,
  ReceiveError,
  SendError,
  WriteError
} from "./NetError.js"

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
 * An established TCP connection. Closes when the scope it was opened in
 * ends, or earlier with `close`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TcpConnection {
  readonly localAddress: SocketAddress
  readonly remoteAddress: SocketAddress
  /** The next chunk of bytes; `None` once the peer has ended its side (EOF). */
  readonly recv: Effect.Effect<Option.Option<Uint8Array>, ReadError>
  /** Incoming bytes until EOF, with backpressure: an unpulled stream stops the socket reading. */
  readonly stream: Stream.Stream<Uint8Array, ReadError>
  /**
   * Hands bytes (strings as UTF-8) to the socket. Returns once the socket has
   * accepted them; waits only while its buffers are full.
   */
  readonly send: (data: Uint8Array | string) => Effect.Effect<void, WriteError>
  readonly sink: Sink.Sink<void, Uint8Array | string, never, WriteError>
  /** Half-close: sends FIN once buffered bytes are flushed. Reading goes on. */
  readonly endWrite: Effect.Effect<void, WriteError>
  /** Idempotent; flushes for a bounded time, then frees the socket. */
  readonly close: Effect.Effect<void>
}

/**
 * A listening TCP socket.
 *
 * @since 0.1.0
 * @category models
 */
export interface TcpListener {
  readonly address: SocketAddress
  /** One `accept()`: the connection closes with the calling scope. */
  readonly accept: Effect.Effect<TcpConnection, AcceptError, Scope.Scope>
  /**
   * The accept loop. Each connection is closed by you or, at the latest,
   * when the stream ends.
   */
  readonly connections: Stream.Stream<TcpConnection, AcceptError>
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
 * A bound UDP socket.
 *
 * @since 0.1.0
 * @category models
 */
export interface UdpSocket {
  readonly address: SocketAddress
  /** `sendto()`; `to` may be left out on a connected socket. Completes when the datagram is sent. */
  readonly send: (
    payload: Uint8Array | string,
    to?: SocketAddress | { readonly host: string; readonly port: number }
  ) => Effect.Effect<void, SendError>
  /** `recvfrom()`: the next datagram, waiting for one. */
  readonly recv: Effect.Effect<Datagram, ReceiveError>
  /** The receive loop. */
  readonly datagrams: Stream.Stream<Datagram, ReceiveError>
  /** Datagrams dropped because the receive buffer was full, so far. */
  readonly dropped: Effect.Effect<number>
  /** Joins a multicast group; leaves it when the scope ends. */
  readonly joinMulticast: (group: string, iface?: string) => Effect.Effect<void, MulticastError, Scope.Scope>
  readonly close: Effect.Effect<void>
}

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
