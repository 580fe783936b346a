import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { SocketAddress } from "../../Address.js"
import type { AddressError, BindError, ConnectError, ReadError, WriteError } from "../../NetError.js"
import type { TimeoutClock } from "./time.js"

/**
 * What only a real or a simulated socket can do. The shared front
 * (`shared/tcp.ts`) builds the public `TcpListener` and `TcpConnection` on
 * top of it: option checks, defaults, timeouts, streams, sinks and error
 * messages live there, once.
 *
 * Every step that can complete without waiting is synchronous, so that the
 * front answers from a buffer or a socket with room without an extra
 * Effect; the `await…` methods wait until a synchronous step may give a
 * different answer, then run `next` (which takes the step again).
 */

/**
 * What `take` found: the bytes, `null` at EOF (or once the connection was
 * closed locally), `undefined` while more may come, or why reading failed.
 *
 * @internal
 */
export type Taken<A> = A | null | undefined | ReadError

/**
 * What `write` did with `data[offset..]`: took it all with room to spare
 * (`true`), took it all and is full (`false`: `send` waits for room, then
 * returns), took bytes up to the returned offset and is full (`send` waits
 * for room, then writes the rest), or why it cannot.
 *
 * @internal
 */
export type Written = boolean | number | WriteError

/** @internal */
export interface TcpConnectionOwner {
  /** Called once, when the backend's socket is fully closed. */
  readonly backendClosed: () => void
}

/** @internal */
export interface TcpConnectionBackend {
  readonly localAddress: SocketAddress
  readonly remoteAddress: SocketAddress
  /** The clock of this connection's idle timeouts. */
  readonly clock: TimeoutClock
  /** The front connection, told when the socket is fully closed. */
  attach(owner: TcpConnectionOwner): void
  /** Takes one buffered chunk, or (`all`) every buffered chunk. */
  take(all: boolean): Taken<Uint8Array | Array<Uint8Array>>
  /** Waits until `take` may find something, then runs `next`. */
  awaitReadable<A, E>(next: () => Effect.Effect<A, E>): Effect.Effect<A, E | ReadError>
  /** `data` is a payload (`isPayload`): the front checks it. */
  write(data: Uint8Array | string, offset: number): Written
  /** Waits until there is room to write, failing when writing no longer can. */
  readonly awaitWritable: Effect.Effect<void, WriteError>
  /** Sends FIN after the bytes written (committed at once), and waits as `TcpConnection.endWrite` says. */
  readonly endWrite: Effect.Effect<void, WriteError>
  /** Sends RST, where the backend can; `close` follows. */
  reset(): void
  /** Commits the close, and waits as `TcpConnection.close` says. */
  readonly close: Effect.Effect<void>
}

/**
 * A claim on a pending connection, made synchronously when one is taken so
 * that it is never lost: `false` when its taker can no longer own one (its
 * scope has closed), and the connection then stays pending.
 *
 * @internal
 */
export type Claim = (connection: TcpConnectionBackend) => boolean

/** @internal */
export interface TcpListenerBackend {
  readonly address: SocketAddress
  /**
   * Takes the next pending connection for `claim`, waiting for one; fails
   * with `"closed"` once the listener is closed or `claim` refused.
   */
  take(claim: Claim): Effect.Effect<TcpConnectionBackend, "closed">
  /** Hands every connection pending now to `claim`, which always accepts them here. */
  takeReady(claim: Claim): void
}

/** The options every connection takes, checked, with their defaults. @internal */
export interface ConnectionSettings {
  readonly idleTimeout: Duration.Duration | undefined
  readonly closeTimeout: Duration.Duration
}

/** Checked `keepAlive`: on or off, and the initial delay in milliseconds when one was given. @internal */
export interface KeepAliveSettings {
  readonly keepAlive: boolean
  readonly keepAliveInitialDelay?: number
}

/** @internal */
export interface ListenSettings {
  readonly host: string
  readonly port: number
  readonly backlog: number
  readonly ipv6Only: boolean
  readonly noDelay: boolean
  readonly keepAlive: KeepAliveSettings
  readonly connection: ConnectionSettings
}

/** @internal */
export interface ConnectSettings {
  readonly host: string
  readonly port: number
  readonly localAddress: string | undefined
  readonly localPort: number | undefined
  readonly noDelay: boolean
  readonly keepAlive: KeepAliveSettings
  readonly connection: ConnectionSettings
}

/**
 * A network's TCP: its clock (for the connect timeout) and how it opens
 * listeners and connections from checked settings. Both are scoped: the
 * socket closes with the scope.
 *
 * @internal
 */
export interface TcpBackend {
  readonly clock: TimeoutClock
  listen(settings: ListenSettings): Effect.Effect<TcpListenerBackend, BindError | AddressError, Scope.Scope>
  connect(settings: ConnectSettings): Effect.Effect<TcpConnectionBackend, ConnectError | AddressError, Scope.Scope>
}
