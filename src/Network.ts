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
