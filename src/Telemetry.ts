/**
 * Spans and metrics for effect-net's sockets, named after OpenTelemetry's
 * semantic conventions, on `NodeNetwork` and `TestNetwork` alike.
 *
 * Without `Telemetry.layer` nothing is recorded: no span is made and no
 * metric touched. With it, every socket opened under it is instrumented:
 *
 * - spans `effect_net.tcp.listen`, `effect_net.tcp.connect`,
 *   `effect_net.udp.bind` (and `effect_net.udp.connect`) around those steps,
 *   and `effect_net.tcp.connection` around each `Tcp.serve` handler, so the
 *   handler's own spans are its children; attributes `network.transport`,
 *   `network.type`, `server.*`, `client.*`, `network.peer.*`, and on failure
 *   `error.type` and `effect_net.error.reason`;
 * - metrics `effect_net.tcp.connections.active`, `effect_net.tcp.connections`
 *   (by `effect_net.role`), `effect_net.tcp.connection.duration` (seconds),
 *   `effect_net.io` (bytes, by `network.io.direction` and
 *   `network.transport`), `effect_net.udp.datagrams` (by
 *   `network.io.direction`), `effect_net.udp.dropped` and `effect_net.errors`
 *   (by `error.type` and `effect_net.error.reason`).
 *
 * Spans go to the current `Tracer` and metrics to effect's metric registry,
 * so `@effect/opentelemetry` exports both. Bytes and datagrams are counted in
 * the sockets' own code paths, without an Effect per chunk.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import { TelemetryEnabled } from "./internal/shared/telemetry.js"

/**
 * Turns telemetry on for the sockets opened by the program it is provided
 * to. A socket keeps the choice made when it was opened: connections accepted
 * by an instrumented listener are instrumented.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { NodeNetwork, Tcp, Telemetry } from "effect-net"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     const connection = yield* Tcp.connect({ host: "127.0.0.1", port: 7000 })
 *     yield* connection.send("Hello")
 *   })
 * )
 *
 * // Spans and metrics for every socket the program opens.
 * program.pipe(Effect.provide(Layer.merge(NodeNetwork.layer, Telemetry.layer)))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<never> = Layer.succeedContext(
  // A `Context.Reference` is read with its default where it is absent, so no
  // program requires it: the layer's output need not appear in its type.
  Context.make(TelemetryEnabled, true) as Context.Context<never>
)
