import type * as Effect from "effect/Effect"
import type { Family, SocketAddress } from "../../Address.js"
import type { BindError, ConnectError } from "../../NetError.js"
import type { Datagram } from "../../Udp.js"

/**
 * What only a real or a simulated UDP socket can do. The shared front
 * (`shared/udp.ts`) builds the public `UdpSocket` on top of it: option
 * checks and defaults, the receive buffer with its overflow policy,
 * destination, payload and multicast group checks, `recv`, `datagrams`,
 * `send` and the error messages live there, once.
 *
 * Steps that can complete without waiting are synchronous, so that a
 * datagram costs the front no Effect of its own: a backend hands arrivals to
 * the front's `Inbox` from its callbacks, and `wait` parks a receiver until
 * the front may find something new.
 */

/**
 * Where a backend puts the datagrams that arrive. The front owns it (the
 * bounded buffer, its overflow policy and the drop count), so that both
 * networks drop and count alike.
 *
 * @internal
 */
export interface Inbox {
  /** Takes in an arrival: `false` when the overflow policy dropped it, so no receiver needs waking. */
  offer(datagram: Datagram): boolean
  /** Datagrams waiting to be received. */
  readonly size: number
  /** Datagrams dropped on overflow so far. */
  readonly dropped: number
}

/** What an open socket is bound with: checked options, defaults applied, `host` an IP literal of `family`. @internal */
export interface UdpSocketSettings {
  readonly family: Family
  readonly host: string
  readonly port: number
  readonly reuseAddress: boolean
  readonly broadcast: boolean
  readonly ttl: number | undefined
}

/** A destination the front has checked: an IP literal of the socket's family and a port in 1..65535. @internal */
export interface Destination {
  readonly host: string
  readonly port: number
}

/** @internal */
export interface UdpSocketBackend {
  /** The bound address; a connect may change it (a wildcard bind gets its route's source address). */
  readonly address: SocketAddress
  /**
   * Runs `step` at the backend's present time, in milliseconds: the
   * simulator first delivers what has arrived by its `Clock`; a real
   * socket, whose arrivals come by callback, just reads real time.
   */
  atNow<A, E>(step: (now: number) => Effect.Effect<A, E>): Effect.Effect<A, E>
  /**
   * Parks until something may have changed (an arrival, an error, close),
   * or until the backend's time reaches `deadline` (milliseconds, as `atNow`
   * reads them; none: no deadline), then runs `next`, which looks again:
   * waking early is harmless. `ready` says whether the front has anything
   * to give now; a backend that is woken by callbacks needs not ask it.
   * Interrupted, it leaves no timer of its own behind.
   */
  wait<A, E>(ready: () => boolean, next: () => Effect.Effect<A, E>, deadline?: number): Effect.Effect<A, E>
  /** An asynchronous error not yet reported, taken (so it is reported once), or `undefined`. */
  takeFailure(): { readonly cause: unknown } | undefined
  /**
   * The bytes `send` hands over for `payload`: a real socket passes the
   * caller's own to the kernel, which copies them; the simulator keeps the
   * datagram in flight after `send` returns, so it takes a copy.
   */
  toBytes(payload: Uint8Array | string): Uint8Array
  /**
   * Sends one datagram to `to` (the connected peer when `undefined`) and
   * calls `done` once, with nothing when it went and with the cause when it
   * did not; never throws. `now` is the time of the `atNow` step it is in.
   */
  transmit(bytes: Uint8Array, to: Destination | undefined, now: number, done: (cause?: unknown) => void): void
  /** Connects to `peer` (an IP literal): only it is heard afterwards, and `transmit` may omit `to`. */
  connect(peer: SocketAddress): Effect.Effect<void, ConnectError>
  /** Joins a multicast group (checked by the front); throws what the OS refused it with. */
  join(group: string, iface: string | undefined): void
  /** Leaves a group joined before; never throws (closing a socket leaves its groups anyway). */
  leave(group: string, iface: string | undefined): void
  /** Closes the socket, committed at once; idempotent, and each call waits until the socket is gone. */
  readonly close: Effect.Effect<void>
}

/**
 * A network's UDP: how it resolves names and opens sockets. `open` gives a
 * bound socket delivering into `inbox`, or fails having closed what it made.
 *
 * @internal
 */
export interface UdpBackend {
  /**
   * One address of `host` in `family` (without one, an IPv4 address
   * first); an IP literal stands for itself. Fails with the resolver's
   * cause, which the front turns into the step's error.
   */
  lookup(host: string, family: Family | undefined): Effect.Effect<string, unknown>
  /** Where a socket connected to `peer` binds unless told; `undefined`: the loopback of its family. */
  defaultConnectHost(peer: SocketAddress): string | undefined
  open(settings: UdpSocketSettings, inbox: Inbox): Effect.Effect<UdpSocketBackend, BindError>
}
