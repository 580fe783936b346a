/**
 * Telemetry under @effect/rpc over effect-net: the connection that carries
 * the calls has its `effect_net.tcp.connection` span, and the RPC server's
 * span of each call sits in the caller's trace (its parent is the client's
 * span, which @effect/rpc propagates) and links to that connection span;
 * with propagation off, the call's span is the connection span's child.
 */
import { RpcSerialization } from "@effect/rpc"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { NodeNetwork, Telemetry } from "effect-net"
import { checkNoSocketLeaks } from "../utils/handles.js"
import { makeClient, startServer } from "../utils/rpc.js"
import { attributesOf, recordingTracer } from "../utils/tracer.js"

checkNoSocketLeaks()

describe("Telemetry under @effect/rpc", () => {
  it.live("an RPC call's server span links to the effect_net.tcp.connection span that carried it", () =>
    Effect.gen(function*() {
      const recording = recordingTracer()
      const echoed = yield* Effect.scoped(Effect.gen(function*() {
        const port = yield* startServer(
          RpcSerialization.layerNdjson,
          yield* Deferred.make<void>(),
          { host: "127.0.0.1" },
          yield* Effect.scope
        )
        const client = yield* makeClient(RpcSerialization.layerNdjson, { host: "127.0.0.1", port })
        return yield* client.Echo({ text: "Hello" })
      })).pipe(
        Effect.provide(Layer.merge(NodeNetwork.layer, Telemetry.layer)),
        Effect.withTracer(recording.tracer)
      )
      expect(echoed).toBe("Hello")
      const [connection] = recording.named("effect_net.tcp.connection")
      const [connect] = recording.named("effect_net.tcp.connect")
      const [call] = recording.named("RpcClient.Echo")
      const [served] = recording.named("RpcServer.Echo")
      // The server's side of the connection the client opened.
      expect(attributesOf(connection)["client.port"]).toBe(attributesOf(connect)["client.port"])
      expect(served.parent).toBe(call.spanId)
      expect(served.links).toEqual([connection.spanId])
    }))
})
