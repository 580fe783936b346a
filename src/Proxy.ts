/**
 * A fault-injecting proxy for real sockets: TestNetwork's `Faults` between
 * any two programs, toxiproxy-style.
 *
 * `Proxy.tcp` and `Proxy.udp` listen on an address and relay to an
 * upstream, applying latency, jitter, bandwidth, slicing, resets, stalls,
 * refused connections and slow closes to TCP, and drops, duplicates,
 * reordering, latency, jitter and bandwidth to UDP, per direction
 * (`upstream` is client to server, `downstream` the way back) and
 * changeable while they run. Faults mean what they mean on TestNetwork, in
 * real time: the traffic is real. Random choices come from `seed`.
 *
 * The proxy is written on `Network`, so it runs on `NodeNetwork` (and on
 * `TestNetwork`, in real time). Backpressure holds end to end: a slow
 * reader behind the proxy slows the sender in front of it. Closing the
 * proxy's scope closes every proxied connection.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { SocketAddress } from "./Address.js"
import { validateHost, validatePort } from "./Address.js"
import type { AddressError } from "./NetError.js"
import { BindError } from "./NetError.js"
import type { ListenOptions, Network, UdpBindOptions } from "./Network.js"
import type { Faults } from "./TestNetwork.js"
import type { Relay } from "./internal/proxy/control.js"
import { Control, defaultSeed } from "./internal/proxy/control.js"
import * as internalTcp from "./internal/proxy/tcp.js"
import * as internalUdp from "./internal/proxy/udp.js"
import * as Fault from "./internal/testNetwork/faults.js"

/**
 * Which way traffic flows: `upstream` is from the client to the server,
 * `downstream` from the server back to the client.
 *
 * @since 0.2.0
 * @category models
 */
export type Direction = "upstream" | "downstream"

/**
 * What has passed through a proxy so far. `connections`: TCP connections
 * accepted, or UDP clients seen. `bytesUp` / `bytesDown`: bytes delivered
 * to the server / back to clients. `dropped`: TCP connections reset by a
 * fault; UDP datagrams lost (to `drop`, or to a full delay buffer or a
 * failed send).
 *
 * @since 0.2.0
 * @category models
 */
export interface Stats {
  readonly connections: number
  readonly bytesUp: number
  readonly bytesDown: number
  readonly dropped: number
}

/**
 * Faults that make no sense (a probability over 1, a negative latency, a
 * slice of 0 bytes): `setFaults` fails with this and keeps the faults it had.
 *
 * @since 0.2.0
 * @category errors
 */
export class FaultsError extends Schema.TaggedError<FaultsError>("effect-net/FaultsError")("FaultsError", {
  message: Schema.String
}) {}

/**
 * A running proxy.
 *
 * @since 0.2.0
 * @category models
 */
export interface Proxy {
  /** Where clients connect (TCP) or send (UDP). */
  readonly address: SocketAddress
  /**
   * Replaces the faults of `direction` (default both) from now on; data
   * already on its way keeps the faults it was sent under, as on
   * TestNetwork. Lifting TCP's `refuse` listens on the same address again,
   * which fails with `BindError` if another socket has taken it meanwhile.
   */
  readonly setFaults: (
    faults: Faults,
    direction?: Direction | "both"
  ) => Effect.Effect<void, FaultsError | BindError | AddressError>
  readonly stats: Effect.Effect<Stats>
}

/**
 * A running TCP proxy.
 *
 * @since 0.2.0
 * @category models
 */
export interface TcpProxy extends Proxy {}

/**
 * A running UDP proxy.
 *
 * @since 0.2.0
 * @category models
 */
export interface UdpProxy extends Proxy {}

/**
 * Where a proxy relays to.
 *
 * @since 0.2.0
 * @category options
 */
export interface Upstream {
  readonly host: string
  readonly port: number
}

/**
 * What `Proxy.tcp` listens on, relays to, and does to the traffic.
 *
 * @since 0.2.0
 * @category options
 */
export interface TcpProxyOptions {
  /** Where to listen; default an ephemeral port on 127.0.0.1, with `noDelay`. */
  readonly listen?: ListenOptions | undefined
  readonly upstream: Upstream
  /** Faults for both directions to start with; default none. */
  readonly faults?: Faults | undefined
  /** Seeds every random choice (jitter, drop, duplicate, reorder). */
  readonly seed?: number | undefined
}

/**
 * What `Proxy.udp` binds, relays to, and does to the datagrams.
 *
 * @since 0.2.0
 * @category options
 */
export interface UdpProxyOptions {
  /** Where to bind; default an ephemeral port on 127.0.0.1. */
  readonly listen?: UdpBindOptions | undefined
  readonly upstream: Upstream
  /** Faults for both directions to start with; default none. */
  readonly faults?: Faults | undefined
  /** Seeds every random choice (jitter, drop, duplicate, reorder). */
  readonly seed?: number | undefined
}

/** The faults, or why they are unusable; TestNetwork's own check, so both accept the same. */
const validFaults = (faults: Faults): Effect.Effect<Faults, FaultsError> =>
  Fault.validate(faults, "faults", (_, message) => new FaultsError({ message: `Proxy: ${message}` }))

/**
 * Checks the faults, the seed and the upstream address before a socket
 * opens, then starts the relay `make` on `listen` and hands out its
 * controls.
 */
const start = <Listen>(
  options: TcpProxyOptions | UdpProxyOptions,
  listen: Listen,
  make: Relay<Listen>
): Effect.Effect<Proxy, BindError | AddressError, Network | Scope.Scope> =>
  Effect.gen(function*() {
    const initialFaults = yield* Effect.mapError(
      validFaults(options.faults ?? {}),
      (error) => new BindError({ reason: "InvalidArgument", message: error.message })
    )
    const seed = options.seed ?? defaultSeed
    if (!Number.isFinite(seed)) {
      return yield* new BindError({ reason: "InvalidArgument", message: `Proxy: seed ${seed} is not a finite number` })
    }
    yield* validateHost(options.upstream.host)
    yield* validatePort(options.upstream.port, { allowZero: false })
    const control = yield* Control.make(initialFaults, seed)
    const running = yield* make({ listen, upstream: options.upstream, control })
    return {
      address: running.address,
      setFaults: (faults: Faults, direction: Direction | "both" = "both") =>
        validFaults(faults).pipe(
          Effect.flatMap((valid) => Effect.sync(() => control.set(valid, direction))),
          Effect.zipRight(running.applyFaults)
        ),
      stats: Effect.sync(() => running.counters.snapshot)
    }
  })

/**
 * Listens (by default on an ephemeral port of 127.0.0.1) and relays each
 * connection to `upstream` under `faults`, until the scope ends. Invalid
 * faults fail with `BindError` `InvalidArgument` before anything opens.
 *
 * A reset (`resetAfterBytes`, a failed side) resets both connections, so
 * both peers see `ConnectionReset`; `refuse` closes the listening socket
 * while it is set (connects fail with `ConnectionRefused`, proxied
 * connections go on); `stall` holds new upstream connects and data until
 * lifted; slices are written 1 ms apart, so that each arrives on its own
 * read.
 *
 * @example
 * ```ts
 * import { Effect, Option, Stream } from "effect"
 * import { NodeNetwork, Proxy, Tcp } from "effect-net"
 *
 * // An echo server behind a proxy that adds 100 ms each way.
 * const program = Effect.gen(function*() {
 *   const server = yield* Tcp.listen()
 *   yield* Effect.forkScoped(Tcp.serve(server, (conn) => Stream.run(conn.stream, conn.sink)))
 *   const proxy = yield* Proxy.tcp({ upstream: server.address, faults: { latency: "100 millis" } })
 *   const conn = yield* Tcp.connect({ host: proxy.address.host, port: proxy.address.port })
 *   yield* conn.send("ping")
 *   const reply = yield* conn.recv // 200 ms or more later
 *   yield* proxy.setFaults({ resetAfterBytes: 0 }, "downstream")
 *   return Option.isSome(reply)
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const tcp = (options: TcpProxyOptions): Effect.Effect<TcpProxy, BindError | AddressError, Network | Scope.Scope> =>
  start(options, options.listen ?? {}, internalTcp.make)

/**
 * Binds (by default an ephemeral port of 127.0.0.1) and relays datagrams
 * to `upstream` under `faults`, until the scope ends; each client gets its
 * own upstream socket, so replies go back to the client that asked.
 * Invalid faults fail with `BindError` `InvalidArgument` before anything
 * opens.
 *
 * @since 0.2.0
 * @category constructors
 */
export const udp = (options: UdpProxyOptions): Effect.Effect<UdpProxy, BindError | AddressError, Network | Scope.Scope> =>
  start(options, options.listen ?? {}, internalUdp.make)
