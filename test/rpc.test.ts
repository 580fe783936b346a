/**
 * @effect/rpc over effect-net: `RpcClient.layerProtocolSocket` on
 * `PlatformSocket.layerNet`, `RpcServer.layerProtocolSocketServer` on
 * `PlatformSocket.layerServer`, with both serializations, on real loopback
 * and on simulated hosts (client 127.0.0.3, server 127.0.0.2).
 */
import { Rpc, RpcClient, RpcGroup, RpcSerialization, RpcServer } from "@effect/rpc"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type * as Scope from "effect/Scope"
import type { Network } from "../src/Network.js"
import * as NodeNetwork from "../src/NodeNetwork.js"
import * as PlatformSocket from "../src/PlatformSocket.js"
import * as TestNetwork from "../src/TestNetwork.js"
import { SocketServer } from "@effect/platform/SocketServer"
import { checkNoSocketLeaks } from "./utils/handles.js"

checkNoSocketLeaks()

class Refused extends Schema.TaggedError<Refused>()("Refused", { why: Schema.String }) {}

class Api extends RpcGroup.make(
  Rpc.make("Echo", { payload: { text: Schema.String }, success: Schema.String }),
  Rpc.make("Refuse", { payload: { why: Schema.String }, error: Refused }),
  Rpc.make("Count", { payload: { to: Schema.Number }, success: Schema.Number, stream: true }),
  Rpc.make("Ticks", { success: Schema.Number, stream: true }),
  Rpc.make("Hang", {})
) {}

/** Tells the test when the server's `Ticks` stream has been interrupted. */
class TicksInterrupted extends Context.Tag("test/TicksInterrupted")<TicksInterrupted, Deferred.Deferred<void>>() {}

const handlers = Api.toLayer(Effect.gen(function*() {
  const ticksInterrupted = yield* TicksInterrupted
  return {
    Echo: ({ text }) => Effect.succeed(text),
    Refuse: ({ why }) => Effect.fail(new Refused({ why })),
    Count: ({ to }) => Stream.range(1, to),
    Ticks: () =>
      Stream.iterate(0, (n) => n + 1).pipe(
        Stream.schedule(Schedule.spaced("1 millis")),
        Stream.ensuringWith((exit) => exit._tag === "Failure" ? Deferred.succeed(ticksInterrupted, undefined) : Effect.void)
      ),
    Hang: () => Effect.never
  }
}))

const serializations = [
  ["ndjson", RpcSerialization.layerNdjson],
  ["msgpack", RpcSerialization.layerMsgPack]
] as const

/** Starts the RPC server on `host` (and `port`, default ephemeral) in `scope`; its port. */
const startServer = (
  serialization: Layer.Layer<RpcSerialization.RpcSerialization>,
  ticksInterrupted: Deferred.Deferred<void>,
  options: { readonly host: string; readonly port?: number },
  scope: Scope.Scope
) =>
  RpcServer.layer(Api).pipe(
    Layer.provide(handlers),
    Layer.provide(RpcServer.layerProtocolSocketServer),
    Layer.provideMerge(PlatformSocket.layerServer({ ...options, shutdownTimeout: "10 millis" })),
    Layer.provide(serialization),
    Layer.provide(Layer.succeed(TicksInterrupted, ticksInterrupted)),
    Layer.buildWithScope(scope),
    Effect.map((context) => {
      const address = Context.get(context, SocketServer).address
      return address._tag === "TcpAddress" ? address.port : -1
    })
  )

const makeClient = (
  serialization: Layer.Layer<RpcSerialization.RpcSerialization>,
  options: { readonly host: string; readonly port: number; readonly localAddress?: string }
) =>
  Effect.gen(function*() {
    const protocol = yield* Layer.build(RpcClient.layerProtocolSocket().pipe(
      Layer.provide(PlatformSocket.layerNet(options)),
      Layer.provide(serialization)
    ))
    return yield* Effect.provide(RpcClient.make(Api), protocol)
  })

const hosts = {
  NodeNetwork: { layer: NodeNetwork.layer as Layer.Layer<Network>, server: "127.0.0.1", client: undefined },
  TestNetwork: { layer: TestNetwork.layer({ seed: 1 }) as Layer.Layer<Network>, server: "127.0.0.2", client: "127.0.0.3" }
} as const

const text1MiB = "x".repeat(1024 * 1024)

for (const [serializationName, serialization] of serializations) {
  for (const [networkName, network] of Object.entries(hosts)) {
    describe(`@effect/rpc, ${serializationName}, on ${networkName}`, () => {
      const setup = Effect.gen(function*() {
        const ticksInterrupted = yield* Deferred.make<void>()
        const port = yield* startServer(serialization, ticksInterrupted, { host: network.server }, yield* Effect.scope)
        const client = yield* makeClient(serialization, {
          host: network.server,
          port,
          ...(network.client === undefined ? {} : { localAddress: network.client })
        })
        return { client, ticksInterrupted }
      })
      const live = <A, E>(name: string, test: () => Effect.Effect<A, E, Network | Scope.Scope>) =>
        it.live(name, () => test().pipe(Effect.scoped, Effect.provide(network.layer), Effect.timeout("20 seconds")))

      live("a unary call and a call failing with a TaggedError", () => Effect.gen(function*() {
        const { client } = yield* setup
        expect(yield* client.Echo({ text: "hello" })).toBe("hello")
        const error = yield* Effect.flip(client.Refuse({ why: "no" }))
        expect(error).toBeInstanceOf(Refused)
        expect(error).toMatchObject({ _tag: "Refused", why: "no" })
      }))

      live("a stream of 1,000 elements, and interrupting its consumer interrupts the server's stream", () => Effect.gen(function*() {
        const { client, ticksInterrupted } = yield* setup
        const counted = yield* Stream.runCollect(client.Count({ to: 1000 }))
        expect(Chunk.toReadonlyArray(counted)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1))
        const firstTicks = yield* Stream.runCollect(Stream.take(client.Ticks(), 5))
        expect(Chunk.toReadonlyArray(firstTicks)).toEqual([0, 1, 2, 3, 4])
        yield* Effect.timeoutFail(Deferred.await(ticksInterrupted), {
          duration: "5 seconds",
          onTimeout: () => new Error("the server's stream was not interrupted")
        })
      }))

      live("200 concurrent calls and a 1 MiB payload", () => Effect.gen(function*() {
        const { client } = yield* setup
        const replies = yield* Effect.forEach(
          Array.from({ length: 200 }, (_, i) => `call ${i}`),
          (text) => client.Echo({ text }),
          { concurrency: "unbounded" }
        )
        expect(replies).toEqual(Array.from({ length: 200 }, (_, i) => `call ${i}`))
        const big = yield* client.Echo({ text: text1MiB })
        expect(big.length).toBe(text1MiB.length)
        expect(big === text1MiB).toBe(true)
      }))
    })
  }
}
