/**
 * effect-net's spans and metrics, exported through @effect/opentelemetry to
 * the OpenTelemetry SDK's console exporters: a served TCP echo ("Hello"), a
 * refused connect and the seed's UDP exchange, on loopback.
 *
 *   npx tsx scratchpad/telemetry.ts
 *
 * To send them to a collector instead, swap the console exporters for
 * `OTLPTraceExporter` / `OTLPMetricExporter` from
 * `@opentelemetry/exporter-trace-otlp-http` and
 * `@opentelemetry/exporter-metrics-otlp-http` (they read
 * `OTEL_EXPORTER_OTLP_ENDPOINT`, default http://localhost:4318).
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { NodeRuntime } from "@effect/platform-node"
import { ConsoleMetricExporter, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import { ConsoleSpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Console, Effect, Fiber, Layer, Stream } from "effect"
import { NodeNetwork, Tcp, Telemetry } from "effect-net"
import { exchange } from "./seed/exchange.js"
import { udpClient } from "./seed/udp-client.js"
import { udpServer } from "./seed/udp-server.js"

/** An echo server that runs each connection in a `Tcp.serve` handler, and one client; returns the port it used. */
const tcpEcho = Effect.scoped(Effect.gen(function*() {
  const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
  const server = yield* Effect.fork(
    Tcp.serve(listener, (connection) =>
      Stream.run(connection.stream, connection.sink).pipe(
        Effect.zipRight(connection.endWrite),
        Effect.withSpan("echo")
      ))
  )
  const reply = yield* Effect.scoped(Effect.gen(function*() {
    const connection = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
    yield* connection.send("Hello")
    yield* connection.endWrite
    return yield* Stream.runFold(connection.stream, "", (text, chunk) => text + new TextDecoder().decode(chunk))
  }))
  yield* Console.log(`TCP echo: ${reply}`)
  yield* Effect.sleep("10 millis")
  yield* Fiber.interrupt(server)
  return listener.address.port
}))

const program = Effect.gen(function*() {
  const port = yield* tcpEcho
  // The listener is closed: this connect is refused, and its span and the
  // error metric say why.
  const refused = yield* Effect.flip(Effect.scoped(Tcp.connect({ host: "127.0.0.1", port })))
  yield* Console.log(`TCP connect after close: ${refused.reason}`)
  yield* exchange(
    (onListening) => udpServer({ port: 0, onListening }),
    (port) => udpClient({ port })
  )
})

const OpenTelemetry = NodeSdk.layer(() => ({
  resource: { serviceName: "effect-net-telemetry-example" },
  spanProcessor: new SimpleSpanProcessor(new ConsoleSpanExporter()),
  // The final export happens at shutdown, when the program has ended.
  metricReader: new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter(), exportIntervalMillis: 60_000 })
}))

program.pipe(
  Effect.withSpan("telemetry-example"),
  Effect.provide(Layer.mergeAll(NodeNetwork.layer, Telemetry.layer, OpenTelemetry)),
  NodeRuntime.runMain
)
