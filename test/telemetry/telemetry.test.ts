/**
 * `Telemetry.layer`: the spans of a listen, a connect, a served connection,
 * a refused connect and a UDP bind (names, parents, attributes, error
 * attributes), and exact metric counts after scripted exchanges; nothing at
 * all without the layer.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricState from "effect/MetricState"
import * as Stream from "effect/Stream"
import { type Network, NodeNetwork, Tcp, Telemetry, TestNetwork, Udp } from "effect-net"
import { checkNoSocketLeaks } from "../utils/handles.js"
import { attributesOf, endedWith, recordingTracer } from "../utils/tracer.js"

checkNoSocketLeaks()

const networks = {
  TestNetwork: {
    layer: TestNetwork.layer({ seed: 5 }) as Layer.Layer<Network.Network>,
    server: "127.0.0.2",
    client: "127.0.0.3" as string | undefined
  },
  NodeNetwork: { layer: NodeNetwork.layer as Layer.Layer<Network.Network>, server: "127.0.0.1", client: undefined }
} as const

/** The value of a counter or gauge with exactly these tags (0 when never touched). */
const metricValue = (name: string, tags: Record<string, string> = {}) =>
  Effect.map(Metric.snapshot, (pairs) => {
    let total = 0
    for (const pair of pairs) {
      if (pair.metricKey.name !== name) continue
      const labels = Object.fromEntries(pair.metricKey.tags.map((tag) => [tag.key, tag.value]))
      if (Object.keys(labels).length !== Object.keys(tags).length) continue
      if (!Object.entries(tags).every(([key, value]) => labels[key] === value)) continue
      const state = pair.metricState
      if (MetricState.isCounterState(state)) total += Number(state.count)
      else if (MetricState.isGaugeState(state)) total += Number(state.value)
      else if (MetricState.isHistogramState(state)) total += state.count
    }
    return total
  })

const tracked = {
  tcpReceived: ["effect_net.io", { "network.io.direction": "receive", "network.transport": "tcp" }],
  tcpTransmitted: ["effect_net.io", { "network.io.direction": "transmit", "network.transport": "tcp" }],
  udpReceived: ["effect_net.io", { "network.io.direction": "receive", "network.transport": "udp" }],
  udpTransmitted: ["effect_net.io", { "network.io.direction": "transmit", "network.transport": "udp" }],
  serverConnections: ["effect_net.tcp.connections", { "effect_net.role": "server" }],
  clientConnections: ["effect_net.tcp.connections", { "effect_net.role": "client" }],
  active: ["effect_net.tcp.connections.active", {}],
  closedConnections: ["effect_net.tcp.connection.duration", {}],
  datagramsReceived: ["effect_net.udp.datagrams", { "network.io.direction": "receive" }],
  datagramsTransmitted: ["effect_net.udp.datagrams", { "network.io.direction": "transmit" }],
  dropped: ["effect_net.udp.dropped", {}],
  refused: ["effect_net.errors", { "error.type": "ConnectError", "effect_net.error.reason": "ConnectionRefused" }]
} as const satisfies Record<string, readonly [string, Record<string, string>]>

type Counts = Record<keyof typeof tracked, number>

const counts: Effect.Effect<Counts> = Effect.map(
  Effect.forEach(Object.entries(tracked), ([key, [name, tags]]) => Effect.map(metricValue(name, tags), (value) => [key, value] as const)),
  (entries) => Object.fromEntries(entries) as Counts
)

/** How much each tracked metric moved while `effect` ran. */
const countsMovedBy = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const before = yield* counts
    yield* effect
    const after = yield* counts
    return Object.fromEntries(
      Object.keys(tracked).map((key) => [key, after[key as keyof Counts] - before[key as keyof Counts]])
    ) as Counts
  })

const utf8 = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

/**
 * One served echo exchange: the client sends "Hello" (5 bytes), half-closes,
 * reads the echo to EOF; the server's handler echoes inside a span of its
 * own; then a connect to a port nobody listens on is refused.
 */
const tcpExchange = (network: { readonly server: string; readonly client: string | undefined }) =>
  Effect.scoped(Effect.gen(function*() {
    const listener = yield* Tcp.listen({ host: network.server })
    const server = yield* Effect.forkScoped(
      Tcp.serve(listener, (connection) =>
        Stream.run(connection.stream, connection.sink).pipe(
          Effect.zipRight(connection.endWrite),
          Effect.withSpan("handler-work")
        ))
    )
    const echoed = yield* Effect.scoped(Effect.gen(function*() {
      const connection = yield* Tcp.connect({
        host: network.server,
        port: listener.address.port,
        ...(network.client === undefined ? {} : { localAddress: network.client })
      })
      yield* connection.send("Hello")
      yield* connection.endWrite
      const received = yield* Stream.runCollect(connection.stream)
      return Array.from(received, utf8).join("")
    }))
    // The handler's connection closes once its handler ends: wait for that
    // before stopping the server, so every count is final.
    yield* Effect.sleep("20 millis")
    yield* Fiber.interrupt(server)
    // A port just given back: nothing listens on it.
    const freePort = yield* Effect.scoped(Effect.map(Tcp.listen({ host: network.server }), (spare) => spare.address.port))
    const refused = yield* Effect.exit(Effect.scoped(Tcp.connect({ host: network.server, port: freePort })))
    return { echoed, port: listener.address.port, refused }
  }))

for (const [name, network] of Object.entries(networks)) {
  describe(`Telemetry on ${name}`, () => {
    it.live("records listen, connect and served-connection spans, the handler's spans as children, a refused connect's error", () =>
      Effect.gen(function*() {
        const recording = recordingTracer()
        const result = yield* tcpExchange(network).pipe(
          Effect.provide(Layer.merge(network.layer, Telemetry.layer)),
          Effect.withTracer(recording.tracer)
        )
        expect(result.echoed).toBe("Hello")
        expect(Exit.isFailure(result.refused)).toBe(true)

        const [listen] = recording.named("effect_net.tcp.listen")
        expect(attributesOf(listen)).toMatchObject({
          "network.transport": "tcp",
          "network.type": "ipv4",
          "server.address": network.server,
          "server.port": result.port
        })
        expect(listen.kind).toBe("server")
        expect(endedWith(listen)).toBe("success")

        const connects = recording.named("effect_net.tcp.connect")
        expect(connects.length).toBe(2)
        const [connected, refusedSpan] = connects
        expect(connected.kind).toBe("client")
        expect(attributesOf(connected)).toMatchObject({
          "network.transport": "tcp",
          "network.type": "ipv4",
          "server.address": network.server,
          "server.port": result.port,
          "network.peer.address": network.server,
          "network.peer.port": result.port
        })
        expect(attributesOf(connected)["client.port"]).toBeTypeOf("number")
        expect(endedWith(connected)).toBe("success")
        expect(attributesOf(connected)["error.type"]).toBeUndefined()

        expect(endedWith(refusedSpan)).toBe("failure")
        expect(attributesOf(refusedSpan)).toMatchObject({
          "error.type": "ConnectError",
          "effect_net.error.reason": "ConnectionRefused"
        })

        const [served] = recording.named("effect_net.tcp.connection")
        expect(served.kind).toBe("server")
        expect(attributesOf(served)).toMatchObject({
          "network.transport": "tcp",
          "network.type": "ipv4",
          "server.address": network.server,
          "server.port": result.port,
          "client.port": attributesOf(connected)["client.port"],
          "network.peer.port": attributesOf(connected)["client.port"]
        })
        const [work] = recording.named("handler-work")
        expect(work.parent).toBe(served.spanId)
        expect(endedWith(served)).toBe("success")
      }))

    it.live("counts bytes both ways, connections by role, and active connections back to 0", () =>
      Effect.gen(function*() {
        const moved = yield* countsMovedBy(
          tcpExchange(network).pipe(Effect.provide(Layer.merge(network.layer, Telemetry.layer)))
        )
        expect(moved).toMatchObject({
          tcpReceived: 10,
          tcpTransmitted: 10,
          serverConnections: 1,
          clientConnections: 1,
          active: 0,
          closedConnections: 2,
          refused: 1
        })
      }))

    it.live("counts datagrams, their bytes and one drop", () =>
      Effect.gen(function*() {
        const moved = yield* countsMovedBy(
          Effect.scoped(Effect.gen(function*() {
            const receiver = yield* Udp.bind({ host: network.server, receiveBufferSize: 2 })
            const sender = yield* Udp.bind({ host: network.client ?? network.server })
            for (const text of ["one", "two", "six"]) yield* sender.send(text, receiver.address)
            // The receive buffer holds two: the third arrives to a full
            // buffer and is dropped.
            let dropped = 0
            for (let attempt = 0; attempt < 400 && dropped === 0; attempt++) {
              yield* Effect.sleep("5 millis")
              dropped = yield* receiver.dropped
            }
            expect(dropped).toBe(1)
            const first = yield* receiver.recv
            const second = yield* receiver.recv
            expect([utf8(first.payload), utf8(second.payload)]).toEqual(["one", "two"])
          })).pipe(Effect.provide(Layer.merge(network.layer, Telemetry.layer)))
        )
        expect(moved).toMatchObject({
          datagramsTransmitted: 3,
          udpTransmitted: 9,
          datagramsReceived: 2,
          udpReceived: 6,
          dropped: 1
        })
      }))

    it.live("records nothing without Telemetry.layer", () =>
      Effect.gen(function*() {
        const recording = recordingTracer()
        const moved = yield* countsMovedBy(
          tcpExchange(network).pipe(Effect.provide(network.layer), Effect.withTracer(recording.tracer))
        )
        expect(recording.spans.filter((span) => span.name.startsWith("effect_net."))).toEqual([])
        expect(Object.values(moved).every((value) => value === 0)).toBe(true)
        expect(recording.named("handler-work").length).toBe(1)
      }))

    it.live("records a UDP bind span with the bound address", () =>
      Effect.gen(function*() {
        const recording = recordingTracer()
        const port = yield* Effect.scoped(Effect.map(Udp.bind({ host: network.server }), (socket) => socket.address.port)).pipe(
          Effect.provide(Layer.merge(network.layer, Telemetry.layer)),
          Effect.withTracer(recording.tracer)
        )
        const [bind] = recording.named("effect_net.udp.bind")
        expect(attributesOf(bind)).toMatchObject({
          "network.transport": "udp",
          "network.type": "ipv4",
          "server.address": network.server,
          "server.port": port
        })
      }))
  })
}
