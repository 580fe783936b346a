/**
 * A deterministic, in-memory `Network` with fault injection, for testing
 * network programs.
 *
 * Programs written against `Network` (through `Tcp` and `Udp`) run on it
 * unchanged, with the semantics of real sockets: ephemeral ports,
 * `AddressInUse`, refused connects, EOF, half-close, reset, backpressure,
 * datagram boundaries, `MessageTooLarge`, receive-buffer overflow with
 * counted drops. A host is an IP address: a program picks its own with
 * `host` (listen, bind) or `localAddress` (connect); every address exists.
 *
 * Time passes only through Effect's `Clock` (so `TestClock` drives latency,
 * jitter, bandwidth and timeouts, instantly and exactly) and chance only
 * through a PRNG seeded by `layer({ seed })`: the same seed, program and
 * faults give the same outcome, event for event.
 *
 * @example
 * ```ts
 * import { Effect, Fiber, TestClock } from "effect"
 * import { Tcp, TestNetwork } from "effect-net"
 *
 * // A connect to a hung server, timed out by the TestClock in no real time.
 * const test = Effect.gen(function*() {
 *   const listener = yield* Tcp.listen({ host: "127.0.0.2" })
 *   yield* TestNetwork.setFaults({ stall: true })
 *   const connecting = yield* Effect.fork(Tcp.connect({ host: "127.0.0.2", port: listener.address.port, timeout: "5 seconds" }))
 *   yield* TestClock.adjust("5 seconds")
 *   const error = yield* Effect.flip(Fiber.join(connecting)) // ConnectError, reason "TimedOut"
 * }).pipe(Effect.scoped, Effect.provide(TestNetwork.layer({ seed: 42 })))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import type { SocketAddress } from "./Address.js"
import { withArgumentChecks } from "./internal/shared/arguments.js"
import * as internalFaults from "./internal/testNetwork/faults.js"
import { LazyArbitrary } from "./internal/testNetwork/lazyArbitrary.js"
import * as internal from "./internal/testNetwork/network.js"
import { Network } from "./Network.js"

/**
 * What the network does to traffic. Every field is optional; `{}` is a
 * perfect network. Probabilities are drawn from the seeded PRNG.
 *
 * @since 0.1.0
 * @category models
 */
export interface Faults {
  /** Added to every packet's trip, measured by the `Clock`. */
  readonly latency?: Duration.DurationInput | undefined
  /** A uniformly random extra delay in `0..jitter` per packet (TCP still arrives in order). */
  readonly jitter?: Duration.DurationInput | undefined
  /** UDP: probability that a datagram is lost. */
  readonly drop?: number | undefined
  /** UDP: probability that a datagram arrives twice. */
  readonly duplicate?: number | undefined
  /** UDP: probability that a datagram is overtaken by the next one of its flow. */
  readonly reorder?: number | undefined
  /** TCP: deliver in chunks of at most this many bytes (toxiproxy's slicer). */
  readonly sliceBytes?: number | undefined
  /** TCP: after this many bytes in one direction, reset the connection (both sides see `ConnectionReset`). */
  readonly resetAfterBytes?: number | undefined
  /** TCP: refuse new connections (`ConnectError` `ConnectionRefused`). */
  readonly refuse?: boolean | undefined
  /** TCP: connects and data hang, for testing timeouts; traffic flows again once lifted. */
  readonly stall?: boolean | undefined
  /** Bytes per second a link carries; traffic queues behind earlier traffic. */
  readonly bandwidth?: number | undefined
  /** TCP: a FIN arrives this much later than the data before it (toxiproxy's slow_close). */
  readonly slowClose?: Duration.DurationInput | undefined
}

/**
 * One direction of the link between two hosts.
 *
 * @since 0.1.0
 * @category models
 */
export interface Link {
  readonly from: string
  readonly to: string
}

/**
 * A packet not yet delivered: delayed by latency or bandwidth, or held
 * (by `hold`, a partition or `stall`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Packet {
  readonly protocol: "tcp" | "udp"
  readonly kind: "data" | "fin" | "rst"
  readonly from: SocketAddress
  readonly to: SocketAddress
  readonly payload: Uint8Array
  /** When it arrives (Clock milliseconds) unless held. */
  readonly arrival: number
  readonly held: boolean
}

/**
 * A listening TCP socket as `snapshot` reports it.
 *
 * @since 0.1.0
 * @category models
 */
export interface TcpListenerInfo {
  /** The host it is on, as `snapshot(host)` matches it: for an IPv4-mapped address, the IPv4 address. */
  readonly host: string
  readonly address: SocketAddress
  /** Connections established and not yet accepted. */
  readonly pending: number
}

/**
 * An open TCP connection as `snapshot` reports it, with the bytes still queued each way.
 *
 * @since 0.1.0
 * @category models
 */
export interface TcpConnectionInfo {
  /** The host it is on, as `snapshot(host)` matches it: for an IPv4-mapped address, the IPv4 address. */
  readonly host: string
  readonly localAddress: SocketAddress
  readonly remoteAddress: SocketAddress
  /** `FinWait`: this side ended writing; `CloseWait`: the peer did; `Closing`: both. */
  readonly state: "Established" | "FinWait" | "CloseWait" | "Closing" | "Reset"
  /** Bytes received and not yet read. */
  readonly unread: number
  /** Bytes sent and not yet delivered. */
  readonly inFlight: number
}

/**
 * A bound UDP socket as `snapshot` reports it.
 *
 * @since 0.1.0
 * @category models
 */
export interface UdpSocketInfo {
  /** The host it is on, as `snapshot(host)` matches it: for an IPv4-mapped address, the IPv4 address. */
  readonly host: string
  readonly address: SocketAddress
  readonly remoteAddress?: SocketAddress
  /** Datagrams waiting in the receive buffer. */
  readonly queued: number
  readonly dropped: number
}

/**
 * What is open, like `netstat`: every listener, connection side and UDP
 * socket not yet closed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  readonly tcpListeners: ReadonlyArray<TcpListenerInfo>
  readonly tcpConnections: ReadonlyArray<TcpConnectionInfo>
  readonly udpSockets: ReadonlyArray<UdpSocketInfo>
}

/**
 * A control of the simulated network (or `layer`) was given a value its
 * type rules out — a probability of 2, a negative latency, a host that is
 * neither an IP address nor a known name — as JavaScript callers and
 * configuration files can. Nothing was changed. `operation` is the control
 * (`"setFaults"`, `"partition"`, `"layer"` …), `argument` the value at fault
 * (`"faults.drop"`, `"a"`, `"hosts.db"` …).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TestNetwork } from "effect-net"
 *
 * // A fault plan read from a configuration file: reported, not a defect.
 * const applied = TestNetwork.setFaults(JSON.parse('{ "drop": 2 }')).pipe(
 *   Effect.catchTag("InvalidArgument", (error) => Effect.logError(error.message)),
 *   Effect.provide(TestNetwork.layer())
 * )
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class InvalidArgument extends Schema.TaggedError<InvalidArgument>("effect-net/TestNetwork/InvalidArgument")(
  "InvalidArgument",
  {
    operation: Schema.String,
    argument: Schema.String,
    message: Schema.String
  }
) {}

/**
 * True for a `TestNetwork.InvalidArgument`.
 *
 * @since 0.2.0
 * @category refinements
 */
export const isInvalidArgument = (u: unknown): u is InvalidArgument =>
  Predicate.isTagged(u, "InvalidArgument") && u instanceof InvalidArgument

/**
 * Options of `TestNetwork.layer`: the seed of every random choice, and host names that resolve to simulated addresses.
 *
 * @since 0.1.0
 * @category options
 */
export interface LayerOptions {
  /** Seeds every random choice: an integer (its low 32 bits count). Default a fixed seed, so runs repeat. */
  readonly seed?: number | undefined
  /**
   * Host names and the IP addresses they resolve to, in order. `localhost`
   * is `127.0.0.1` unless given here (say `["127.0.0.1", "::1"]` for a
   * machine whose resolver also returns `::1`).
   */
  readonly hosts?: Readonly<Record<string, string | ReadonlyArray<string>>> | undefined
}

/**
 * The fault controls of the simulated network. A control given a value its
 * type rules out (a host that is neither an IP address nor a known name, a
 * probability of 2) fails with `InvalidArgument` and changes nothing.
 *
 * @since 0.1.0
 * @category tags
 */
export class TestNetwork extends Context.Tag("effect-net/TestNetwork")<TestNetwork, {
  /** Faults for all traffic from now on, replacing the previous ones. */
  readonly setFaults: (faults: Faults) => Effect.Effect<void, InvalidArgument>
  /**
   * Faults for one direction of one link, over the global ones field by
   * field. A TCP connection is hit with probability `toxicity` (default 1),
   * decided once per connection; a datagram, per datagram.
   */
  readonly setLinkFaults: (
    link: Link,
    faults: Faults,
    options?: { readonly toxicity?: number | undefined }
  ) => Effect.Effect<void, InvalidArgument>
  readonly clearLinkFaults: (link: Link) => Effect.Effect<void, InvalidArgument>
  /**
   * The hosts stop reaching each other: connects hang (then time out),
   * datagrams vanish, TCP data waits (and flows again once healed).
   */
  readonly partition: (a: string, b: string) => Effect.Effect<void, InvalidArgument>
  readonly heal: (a: string, b: string) => Effect.Effect<void, InvalidArgument>
  /** Traffic on the link stops and waits, to be looked at with `inFlight`. */
  readonly hold: (link: Link) => Effect.Effect<void, InvalidArgument>
  /** Lets held traffic go, in order. */
  readonly release: (link: Link) => Effect.Effect<void, InvalidArgument>
  /** Every packet not yet delivered, in arrival order. */
  readonly inFlight: Effect.Effect<ReadonlyArray<Packet>>
  /** What is open, on every host or on `host` only. */
  readonly snapshot: (host?: string) => Effect.Effect<Snapshot, InvalidArgument>
}>() {}

/**
 * A fresh simulated network: `Network` for the program, `TestNetwork` for
 * the test. Options outside their types (a host that is not an IP address,
 * a seed that is not an integer) fail it with `InvalidArgument`; without
 * options it cannot fail.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Tcp, TestNetwork } from "effect-net"
 *
 * // A client and a server on two simulated hosts, 10 ms apart.
 * const program = Effect.gen(function*() {
 *   yield* TestNetwork.setFaults({ latency: "10 millis" })
 *   const listener = yield* Tcp.listen({ host: "127.0.0.2", port: 80 })
 *   yield* Effect.forkScoped(Tcp.serve(listener, (conn) => conn.send("hi")))
 *   const conn = yield* Tcp.connect({ host: "127.0.0.2", port: 80, localAddress: "127.0.0.3" })
 *   return Option.map(yield* conn.recv, (bytes) => new TextDecoder().decode(bytes))
 * }).pipe(Effect.scoped, Effect.provide(TestNetwork.layer({ seed: 1 })))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export function layer(): Layer.Layer<Network | TestNetwork>
export function layer(options: LayerOptions | undefined): Layer.Layer<Network | TestNetwork, InvalidArgument>
export function layer(options?: LayerOptions): Layer.Layer<Network | TestNetwork, InvalidArgument> {
  const services = ({ control, network }: internal.Services) =>
    Context.make(Network, withArgumentChecks(network)).pipe(Context.add(TestNetwork, control))
  // Without options there is nothing to reject, and the type says so.
  return options === undefined
    ? Layer.effectContext(Effect.sync(() => services(internal.makeDefault())))
    : Layer.effectContext(Effect.map(internal.make(options), services))
}

/**
 * Sets the faults of all traffic from now on, replacing the previous ones.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TestNetwork } from "effect-net"
 *
 * // Every TCP chunk arrives 50 ms late, in pieces of at most 3 bytes.
 * const slowAndSliced = TestNetwork.setFaults({ latency: "50 millis", sliceBytes: 3 })
 *
 * const program = Effect.gen(function*() {
 *   yield* slowAndSliced
 *   // … run the client and server under test …
 * }).pipe(Effect.provide(TestNetwork.layer({ seed: 42 })))
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const setFaults = (faults: Faults): Effect.Effect<void, InvalidArgument, TestNetwork> =>
  Effect.flatMap(TestNetwork, (network) => network.setFaults(faults))

/**
 * Sets the faults of one link (one direction between two hosts), on top of the network-wide ones.
 *
 * @since 0.1.0
 * @category accessors
 */
export const setLinkFaults = (
  link: Link,
  faults: Faults,
  options?: { readonly toxicity?: number | undefined }
): Effect.Effect<void, InvalidArgument, TestNetwork> =>
  Effect.flatMap(TestNetwork, (network) => network.setLinkFaults(link, faults, options))

/**
 * Removes the faults of one link, leaving the network-wide ones.
 *
 * @since 0.1.0
 * @category accessors
 */
export const clearLinkFaults = (link: Link): Effect.Effect<void, InvalidArgument, TestNetwork> =>
  Effect.flatMap(TestNetwork, (network) => network.clearLinkFaults(link))

/**
 * Cuts the two hosts apart: from now on nothing passes between them, in either direction, until `heal`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const partition = (a: string, b: string): Effect.Effect<void, InvalidArgument, TestNetwork> =>
  Effect.flatMap(TestNetwork, (network) => network.partition(a, b))

/**
 * Ends a `partition` of the two hosts.
 *
 * @since 0.1.0
 * @category accessors
 */
export const heal = (a: string, b: string): Effect.Effect<void, InvalidArgument, TestNetwork> =>
  Effect.flatMap(TestNetwork, (network) => network.heal(a, b))

/**
 * Holds everything sent on a link in flight (see `inFlight`) until `release`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const hold = (link: Link): Effect.Effect<void, InvalidArgument, TestNetwork> =>
  Effect.flatMap(TestNetwork, (network) => network.hold(link))

/**
 * Delivers what `hold` kept on a link, and stops holding.
 *
 * @since 0.1.0
 * @category accessors
 */
export const release = (link: Link): Effect.Effect<void, InvalidArgument, TestNetwork> =>
  Effect.flatMap(TestNetwork, (network) => network.release(link))

/**
 * What `hold` keeps in flight now, oldest first.
 *
 * @since 0.1.0
 * @category accessors
 */
export const inFlight: Effect.Effect<ReadonlyArray<Packet>, never, TestNetwork> = Effect.flatMap(
  TestNetwork,
  (network) => network.inFlight
)

/**
 * A netstat-like view of the simulated sockets, of one host or of all.
 *
 * @since 0.1.0
 * @category accessors
 */
export const snapshot = (host?: string): Effect.Effect<Snapshot, InvalidArgument, TestNetwork> =>
  Effect.flatMap(TestNetwork, (network) => network.snapshot(host))

/**
 * True when nothing is open: no listener, connection or UDP socket.
 *
 * @since 0.1.0
 * @category utils
 */
export const isEmpty = (snapshot: Snapshot): boolean =>
  snapshot.tcpListeners.length === 0 && snapshot.tcpConnections.length === 0 && snapshot.udpSockets.length === 0

/**
 * Any `Faults`, for property tests: `FastCheck.assert(FastCheck.property(arbitraryFaults, …))`.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const arbitraryFaults: FastCheck.Arbitrary<Faults> = new LazyArbitrary(() => internalFaults.arbitrary())

/**
 * Any seed for `layer({ seed })`, so that a property runs on many networks
 * and a failing run shows the seed that reproduces it.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const arbitrarySeed: FastCheck.Arbitrary<number> = new LazyArbitrary(() => FastCheck.integer())

/**
 * `Faults` with some fields left out (say `["stall", "refuse"]` for a
 * property that needs connections to succeed) and latencies up to
 * `maxLatencyMillis` (default 200).
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const arbitraryFaultsWith = (options: {
  readonly exclude?: ReadonlyArray<keyof Faults> | undefined
  readonly maxLatencyMillis?: number | undefined
}): FastCheck.Arbitrary<Faults> => internalFaults.arbitrary(options)
