/**
 * @effect/rpc over effect-net when the network misbehaves: slow and sliced
 * links, a partition and its heal, and a server that goes away and comes
 * back on the same port. The client is made once per test and never
 * recreated: it reconnects by itself (every `run` of the Socket connects).
 */
import { RpcClientError } from "@effect/rpc/RpcClientError"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Network } from "../../src/Network.js"
import * as NodeNetwork from "../../src/NodeNetwork.js"
import * as TestNetwork from "../../src/TestNetwork.js"
import { checkNoSocketLeaks } from "../utils/handles.js"
import * as ClusterSocket from "../../src/ClusterSocket.js"
import { makeClient, startServer } from "../utils/rpc.js"

checkNoSocketLeaks()

const serverHost = "127.0.0.2"
const clientHost = "127.0.0.3"

/** Calls `Echo` until it answers within 200 ms, at most `attempts` times; how many calls it took. */
const untilAnswered = (client: Effect.Effect.Success<ReturnType<typeof makeClient>>, attempts = 60) =>
  Effect.gen(function*() {
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const reply = yield* client.Echo({ text: "back?" }).pipe(Effect.timeout("200 millis"), Effect.either)
      if (reply._tag === "Right") return attempt
      yield* Effect.sleep("100 millis")
    }
    return yield* Effect.fail(new Error(`no answer after ${attempts} calls`))
  })

const simulated = <A, E>(test: () => Effect.Effect<A, E, Network | TestNetwork.TestNetwork | Scope.Scope>) => () =>
  test().pipe(Effect.scoped, Effect.provide(TestNetwork.layer({ seed: 3 })), Effect.timeout("30 seconds"))

describe("@effect/rpc over TestNetwork faults", () => {
  const serializations = [
    ["msgpack", RpcSerialization.layerMsgPack],
    ["ClusterSocket.layerNdjson", ClusterSocket.layerNdjson()]
  ] as const
  for (const [name, serialization] of serializations) {
    it.live(`${name}: with latency and 3-byte packets every call still returns the right value`, simulated(() =>
      Effect.gen(function*() {
        yield* TestNetwork.setFaults({ latency: "2 millis", sliceBytes: 3 })
        const port = yield* startServer(serialization, yield* Deferred.make<void>(), { host: serverHost }, yield* Effect.scope)
        const client = yield* makeClient(serialization, { host: serverHost, port, localAddress: clientHost })
        const start = Date.now()
        expect(yield* client.Echo({ text: "through a straw" })).toBe("through a straw")
        // At least one trip each way, each at least the injected latency.
        expect(Date.now() - start).toBeGreaterThanOrEqual(4)
        const texts = Array.from({ length: 20 }, (_, i) => `concurrent ${i} ${"é€😀".repeat(i)}`)
        expect(yield* Effect.forEach(texts, (text) => client.Echo({ text }), { concurrency: "unbounded" })).toEqual(texts)
        const counted = yield* Stream.runCollect(client.Count({ to: 50 }))
        expect(Chunk.toReadonlyArray(counted)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
      })))
  }

  // Found with sliceBytes: @effect/rpc's own ndjson parser decodes each chunk
  // as a whole string. ASCII survives any split; a multi-byte character
  // split between packets does not (ClusterSocket.layerNdjson is the workaround above).
  // When this test fails, the parser has been fixed upstream: delete it.
  it.live("@effect/rpc's ndjson (0.76) garbles a multi-byte character that a packet boundary splits", simulated(() =>
    Effect.gen(function*() {
      yield* TestNetwork.setFaults({ sliceBytes: 3 })
      const port = yield* startServer(RpcSerialization.layerNdjson, yield* Deferred.make<void>(), {
        host: serverHost
      }, yield* Effect.scope)
      const client = yield* makeClient(RpcSerialization.layerNdjson, { host: serverHost, port, localAddress: clientHost })
      expect(yield* client.Echo({ text: "plain ascii" })).toBe("plain ascii")
      const text = "é€😀".repeat(4)
      const reply = yield* client.Echo({ text })
      expect(reply).not.toBe(text)
      expect(reply).toContain("\uFFFD")
    })))

  it.live("under a partition a call with a timeout fails; after heal the same client's calls succeed", simulated(() =>
    Effect.gen(function*() {
      const port = yield* startServer(RpcSerialization.layerMsgPack, yield* Deferred.make<void>(), {
        host: serverHost
      }, yield* Effect.scope)
      const client = yield* makeClient(RpcSerialization.layerMsgPack, { host: serverHost, port, localAddress: clientHost })
      expect(yield* client.Echo({ text: "before" })).toBe("before")

      yield* TestNetwork.partition(clientHost, serverHost)
      const cut = yield* Effect.flip(client.Echo({ text: "during" }).pipe(Effect.timeout("300 millis")))
      expect(cut._tag).toBe("TimeoutException")

      yield* TestNetwork.heal(clientHost, serverHost)
      expect(yield* client.Echo({ text: "after" }).pipe(Effect.timeout("5 seconds"))).toBe("after")
    })))

  it.live("when the server's scope closes its calls are interrupted and new ones fail with RpcClientError; a server started again on the same port is reached", simulated(() =>
    Effect.gen(function*() {
      const serverScope = yield* Scope.make()
      const port = yield* startServer(RpcSerialization.layerNdjson, yield* Deferred.make<void>(), {
        host: serverHost
      }, serverScope)
      const client = yield* makeClient(RpcSerialization.layerNdjson, { host: serverHost, port, localAddress: clientHost })
      expect(yield* client.Echo({ text: "first life" })).toBe("first life")

      // @effect/rpc's server interrupts the calls it is running when its
      // scope closes, and says so to the client before the connection ends.
      const hanging = yield* Effect.fork(client.Hang())
      yield* Effect.sleep("20 millis")
      yield* Scope.close(serverScope, Exit.void)
      const exit = yield* Fiber.await(hanging).pipe(Effect.timeout("5 seconds"))
      expect(Exit.isInterrupted(exit)).toBe(true)

      // The connection has ended: a call now fails with RpcClientError.
      const gone = yield* Effect.flip(client.Echo({ text: "anyone?" }).pipe(Effect.timeout("2 seconds")))
      expect(gone).toBeInstanceOf(RpcClientError)
      expect(gone).toMatchObject({ reason: "Protocol" })

      const restarted = yield* startServer(RpcSerialization.layerNdjson, yield* Deferred.make<void>(), {
        host: serverHost,
        port
      }, yield* Effect.scope)
      expect(restarted).toBe(port)
      yield* untilAnswered(client)
      expect(yield* client.Echo({ text: "second life" })).toBe("second life")
    })))
})

describe("@effect/rpc over NodeNetwork when the server goes away", () => {
  it.live("once the server's scope has closed a call fails with RpcClientError, and the same client reaches a server restarted on the same port", () =>
    Effect.gen(function*() {
      const serverScope = yield* Scope.make()
      const port = yield* startServer(RpcSerialization.layerMsgPack, yield* Deferred.make<void>(), {
        host: "127.0.0.1"
      }, serverScope)
      const client = yield* makeClient(RpcSerialization.layerMsgPack, { host: "127.0.0.1", port })
      expect(yield* client.Echo({ text: "first life" })).toBe("first life")
      yield* Scope.close(serverScope, Exit.void)
      const gone = yield* Effect.flip(client.Echo({ text: "anyone?" }).pipe(Effect.timeout("2 seconds")))
      expect(gone).toBeInstanceOf(RpcClientError)

      yield* startServer(RpcSerialization.layerMsgPack, yield* Deferred.make<void>(), { host: "127.0.0.1", port }, yield* Effect.scope)
      const calls = yield* untilAnswered(client)
      expect(calls).toBeGreaterThanOrEqual(1)
      expect(yield* client.Echo({ text: "second life" })).toBe("second life")
    }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer as Layer.Layer<Network>), Effect.timeout(Duration.seconds(30))))
})
