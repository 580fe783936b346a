import type * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"
import type * as Tracer from "effect/Tracer"
import type { SocketAddress } from "../../Address.js"
import { familyOf } from "../../Address.js"
import type { NetError } from "../../NetError.js"
import { isNetError } from "../../NetError.js"

/**
 * Whether sockets opened under this context are instrumented. Read once when
 * a socket is opened: a socket's callbacks run outside any fiber, so the
 * choice travels with the socket, as its instruments or their absence.
 *
 * A context entry rather than a FiberRef set by a layer: a FiberRef set while
 * a merged layer is built stays set in the fiber that provided it, after the
 * program it was provided to has ended.
 *
 * @internal
 */
export class TelemetryEnabled extends Context.Reference<TelemetryEnabled>()("effect-net/Telemetry/Enabled", {
  defaultValue: () => false
}) {}

/** @internal */
export const isEnabled: Effect.Effect<boolean> = TelemetryEnabled

const activeConnections = Metric.gauge("effect_net.tcp.connections.active", {
  description: "TCP connections open now"
})
/** Every counter here only goes up: `incremental` makes the OpenTelemetry exporter report it as a sum. */
const counter = (name: string, description: string) => Metric.counter(name, { description, incremental: true })

const connections = counter("effect_net.tcp.connections", "TCP connections established, by effect_net.role")
const connectionDuration = Metric.histogram(
  "effect_net.tcp.connection.duration",
  // 1 ms to about 4.7 hours, each bucket 4 times the last.
  MetricBoundaries.exponential({ start: 0.001, factor: 4, count: 12 }),
  "How long TCP connections stayed open, in seconds"
)
const io = counter("effect_net.io", "Bytes sent and received, by network.io.direction and network.transport")
const datagrams = counter("effect_net.udp.datagrams", "UDP datagrams sent and received, by network.io.direction")
const dropped = counter("effect_net.udp.dropped", "UDP datagrams dropped because a socket's receive buffer was full")
const errors = counter(
  "effect_net.errors",
  "Failed socket steps and operations, by error.type and effect_net.error.reason"
)

// Metrics find their registry entry by the identity of the tag array (a
// WeakMap in effect's Metric), so every update reuses one of these arrays
// instead of building tags: counting costs a lookup and an addition.
const labels = (entries: Record<string, string>): ReadonlyArray<MetricLabel.MetricLabel> =>
  Object.entries(entries).map(([key, value]) => MetricLabel.make(key, value))
const noLabels: ReadonlyArray<MetricLabel.MetricLabel> = []
const serverRole = labels({ "effect_net.role": "server" })
const clientRole = labels({ "effect_net.role": "client" })
const tcpReceive = labels({ "network.io.direction": "receive", "network.transport": "tcp" })
const tcpTransmit = labels({ "network.io.direction": "transmit", "network.transport": "tcp" })
const udpReceive = labels({ "network.io.direction": "receive", "network.transport": "udp" })
const udpTransmit = labels({ "network.io.direction": "transmit", "network.transport": "udp" })
const datagramReceive = labels({ "network.io.direction": "receive" })
const datagramTransmit = labels({ "network.io.direction": "transmit" })
const errorLabels = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()

/**
 * Counts one failure in `effect_net.errors`. Anything that is not an
 * effect-net error (a defect, an interruption) is not counted.
 */
const countError = (error: unknown): void => {
  if (!isNetError(error)) return
  const key = `${error._tag}/${error.reason}`
  let tags = errorLabels.get(key)
  if (tags === undefined) {
    tags = labels({ "error.type": error._tag, "effect_net.error.reason": error.reason })
    errorLabels.set(key, tags)
  }
  errors.unsafeUpdate(1, tags)
}

/**
 * The instruments of one TCP connection, made only when telemetry is on.
 * Every method is plain code, called from the connection's own paths.
 *
 * @internal
 */
export class TcpInstruments {
  private readonly openedAt: number
  private open = true

  constructor(private readonly clock: Clock.Clock, role: "server" | "client") {
    this.openedAt = clock.unsafeCurrentTimeMillis()
    connections.unsafeUpdate(1, role === "server" ? serverRole : clientRole)
    activeConnections.unsafeModify(1, noLabels)
  }

  received(bytes: number): void {
    io.unsafeUpdate(bytes, tcpReceive)
  }

  transmitted(bytes: number): void {
    io.unsafeUpdate(bytes, tcpTransmit)
  }

  failed(error: NetError): void {
    countError(error)
  }

  /** Idempotent: the first call ends the connection's lifetime. */
  closed(): void {
    if (!this.open) return
    this.open = false
    activeConnections.unsafeModify(-1, noLabels)
    connectionDuration.unsafeUpdate((this.clock.unsafeCurrentTimeMillis() - this.openedAt) / 1000, noLabels)
  }
}

/**
 * The instruments of one UDP socket, made only when telemetry is on.
 *
 * @internal
 */
export class UdpInstruments {
  received(bytes: number): void {
    datagrams.unsafeUpdate(1, datagramReceive)
    io.unsafeUpdate(bytes, udpReceive)
  }

  transmitted(bytes: number): void {
    datagrams.unsafeUpdate(1, datagramTransmit)
    io.unsafeUpdate(bytes, udpTransmit)
  }

  dropped(count: number): void {
    dropped.unsafeUpdate(count, noLabels)
  }

  failed(error: NetError): void {
    countError(error)
  }
}

/** @internal */
export const makeTcpInstruments = (role: "server" | "client"): Effect.Effect<TcpInstruments | undefined> =>
  Effect.flatMap(
    isEnabled,
    (enabled) => enabled ? Effect.clockWith((clock) => Effect.succeed(new TcpInstruments(clock, role))) : Effect.succeed(undefined)
  )

/** @internal */
export const makeUdpInstruments: Effect.Effect<UdpInstruments | undefined> = Effect.map(
  isEnabled,
  (enabled) => enabled ? new UdpInstruments() : undefined
)

type Attributes = Record<string, string | number>

const networkType = (host: string): string | undefined => {
  const family = familyOf(host)
  return family === undefined ? undefined : family === "IPv6" ? "ipv6" : "ipv4"
}

/**
 * OpenTelemetry's names for one end of a socket: `server.address`,
 * `client.port`, `network.peer.address`, … The network type is taken from
 * the first address that is an IP literal.
 *
 * @internal
 */
export const endpointAttributes = (
  transport: "tcp" | "udp",
  ends: {
    readonly server?: { readonly host: string; readonly port: number } | undefined
    readonly client?: { readonly host: string; readonly port: number } | undefined
    readonly peer?: { readonly host: string; readonly port: number } | undefined
  }
): Attributes => {
  const attributes: Attributes = { "network.transport": transport }
  const put = (prefix: string, end: { readonly host: string; readonly port: number } | undefined) => {
    if (end === undefined) return
    attributes[`${prefix}.address`] = end.host
    attributes[`${prefix}.port`] = end.port
    const type = networkType(end.host)
    if (type !== undefined && attributes["network.type"] === undefined) attributes["network.type"] = type
  }
  put("network.peer", ends.peer)
  put("server", ends.server)
  put("client", ends.client)
  return attributes
}

const failureAttributes = (error: unknown): Attributes | undefined =>
  isNetError(error) ? { "error.type": error._tag, "effect_net.error.reason": error.reason } : undefined

/**
 * Runs a socket step (listen, connect, bind) in a span named `name` when
 * telemetry is on, and as it is otherwise. `describe` adds what is known
 * once the step has succeeded (the bound port, the peer). A failure sets
 * `error.type` and `effect_net.error.reason` on the span and is counted.
 *
 * @internal
 */
export const step = <A, E, R>(
  name: string,
  options: {
    readonly kind: Tracer.SpanKind
    /** Made only when telemetry is on, from arguments not yet checked. */
    readonly attributes: () => Attributes
    readonly describe?: ((value: A) => Attributes) | undefined
  },
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.flatMap(isEnabled, (enabled) => {
    if (!enabled) return effect
    const describe = options.describe
    return effect.pipe(
      Effect.tapBoth({
        onFailure: (error) => {
          countError(error)
          const attributes = failureAttributes(error)
          return attributes === undefined ? Effect.void : Effect.annotateCurrentSpan(attributes)
        },
        onSuccess: (value) => describe === undefined ? Effect.void : Effect.annotateCurrentSpan(describe(value))
      }),
      Effect.withSpan(name, { kind: options.kind, attributes: options.attributes(), captureStackTrace: false })
    )
  })

/**
 * A step that binds a socket (`Tcp.listen`, `Udp.bind`): a server span with
 * the address asked for, then the one bound.
 *
 * @internal
 */
export const bindStep = <A extends { readonly address: SocketAddress }, E, R>(
  name: string,
  transport: "tcp" | "udp",
  requested: () => { readonly host: string; readonly port: number } | undefined,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  step(name, {
    kind: "server",
    attributes: () => endpointAttributes(transport, { server: requested() }),
    describe: (bound) => endpointAttributes(transport, { server: bound.address })
  }, effect)

/**
 * Wraps one served connection's handler in `effect_net.tcp.connection`, so
 * the handler's own spans are its children.
 *
 * @internal
 */
export const servedConnection = <A, E, R>(
  listenerAddress: SocketAddress,
  remoteAddress: SocketAddress,
  handler: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  handler.pipe(
    Effect.tapError((error) => {
      const attributes = failureAttributes(error)
      return attributes === undefined ? Effect.void : Effect.annotateCurrentSpan(attributes)
    }),
    Effect.withSpan("effect_net.tcp.connection", {
      kind: "server",
      captureStackTrace: false,
      attributes: endpointAttributes("tcp", { server: listenerAddress, client: remoteAddress, peer: remoteAddress })
    })
  )
