/**
 * @effect/rpc over effect-net: `RpcClient.layerProtocolSocket` on
 * `PlatformSocket.layerNet`, `RpcServer.layerProtocolSocketServer` on
 * `PlatformSocket.layerServer`, with both serializations, on real loopback
 * and on simulated hosts (client 127.0.0.3, server 127.0.0.2).
 */
import { RpcSerialization } from "@effect/rpc"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Network } from "../../src/Network.js"
import * as NodeNetwork from "../../src/NodeNetwork.js"
import * as TestNetwork from "../../src/TestNetwork.js"
import { checkNoSocketLeaks } from "../utils/handles.js"
import { makeClient, Refused, startServer } from "../utils/rpc.js"

checkNoSocketLeaks()

const serializations = [
  ["ndjson", RpcSerialization.layerNdjson],
  ["msgpack", RpcSerialization.layerMsgPack]
] as const

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

      live("a stream's consumer that calls the same client for each element gets every reply", () =>
        Effect.gen(function*() {
          // The stream's chunk waits for its consumer, which waits for a reply
          // read from the same connection: reading must go on meanwhile.
          const { client } = yield* setup
          const echoed = yield* client.Count({ to: 100 }).pipe(
            Stream.mapEffect((n) => client.Echo({ text: String(n) })),
            Stream.runCollect
          )
          expect(Chunk.toReadonlyArray(echoed)).toEqual(Array.from({ length: 100 }, (_, i) => String(i + 1)))
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
