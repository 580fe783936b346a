import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, type Scope } from "effect"
import { pipe } from "effect/Function"
import * as Net from "node:net"
import type { Network } from "../../src/Network.js"
import * as NodeNetwork from "../../src/NodeNetwork.js"
import * as Tcp from "../../src/Tcp.js"
import * as TestNetwork from "../../src/TestNetwork.js"
import { checkNoSocketLeaks } from "../utils/handles.js"

checkNoSocketLeaks()

const decoder = new TextDecoder()

const networks: ReadonlyArray<readonly [string, Layer.Layer<Network, unknown>]> = [
  ["NodeNetwork", NodeNetwork.layer],
  ["TestNetwork", TestNetwork.layer()],
  // Every chunk of at most 1,000 bytes: readToEnd joins many chunks into one reply.
  ["TestNetwork, sliced", Layer.tap(TestNetwork.layer(), (context) => Effect.provide(TestNetwork.setFaults({ sliceBytes: 1000 }), context))]
]

const on = (layer: Layer.Layer<Network, unknown>) => <A, E>(test: Effect.Effect<A, E, Network | Scope.Scope>) =>
  test.pipe(Effect.scoped, Effect.provide(layer))

const pair = Effect.gen(function*() {
  const listener = yield* Tcp.listen()
  const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
  const server = yield* listener.accept
  return { client, server }
})

for (const [name, layer] of networks) {
  const run = on(layer)
  describe(`Tcp.readToEnd on ${name}`, () => {
    it.live("returns every byte the peer sent before its FIN, in order, as one array", () =>
      run(Effect.gen(function*() {
        const { client, server } = yield* pair
        const parts = Array.from({ length: 400 }, (_, index) => `part ${index};`)
        for (const part of parts) yield* server.send(part)
        yield* server.endWrite
        const reply = yield* Tcp.readToEnd(client)
        expect(reply).toBeInstanceOf(Uint8Array)
        expect(decoder.decode(reply)).toBe(parts.join(""))
        // After EOF there is nothing more: a second read is empty.
        expect((yield* Tcp.readToEnd(client)).length).toBe(0)
      })))

    it.live("is data-last too, and an immediate EOF is an empty array", () =>
      run(Effect.gen(function*() {
        const { client, server } = yield* pair
        yield* server.endWrite
        const reply = yield* pipe(client, Tcp.readToEnd({ maxBytes: 10 }))
        expect(reply.length).toBe(0)
      })))

    it.live("takes exactly maxBytes, and fails FrameTooLarge at one byte more", () =>
      run(Effect.gen(function*() {
        const first = yield* pair
        yield* first.server.send("x".repeat(100))
        yield* first.server.endWrite
        expect((yield* Tcp.readToEnd(first.client, { maxBytes: 100 })).length).toBe(100)

        const second = yield* pair
        yield* second.server.send("x".repeat(101))
        yield* second.server.endWrite
        const error = yield* Effect.flip(Tcp.readToEnd(second.client, { maxBytes: 100 }))
        expect(error).toMatchObject({ _tag: "FrameError", reason: "FrameTooLarge" })
        expect(error.message).toContain("maxBytes (100)")
      })))

    it.live("stops at the limit without waiting for a peer that never ends", () =>
      run(Effect.gen(function*() {
        const { client, server } = yield* pair
        yield* server.send(new Uint8Array(2048))
        // No FIN: the limit alone ends the read.
        const error = yield* Effect.flip(Tcp.readToEnd(client, { maxBytes: 1024 }))
        expect(error).toMatchObject({ _tag: "FrameError", reason: "FrameTooLarge" })
      })))

    it.live("maxBytes: Infinity has no limit", () =>
      run(Effect.gen(function*() {
        const { client, server } = yield* pair
        const big = new Uint8Array(3 * 1024 * 1024).fill(7)
        const sending = yield* Effect.fork(Effect.zipRight(server.send(big), server.endWrite))
        const reply = yield* Tcp.readToEnd(client, { maxBytes: Infinity })
        yield* Fiber.join(sending)
        expect(reply.length).toBe(big.length)
        expect(reply.every((byte) => byte === 7)).toBe(true)
      })))

    it.live("a maxBytes or options outside their types are ReadError InvalidArgument, and nothing is read", () =>
      run(Effect.gen(function*() {
        const { client, server } = yield* pair
        yield* server.send("kept")
        yield* server.endWrite
        for (const maxBytes of [-1, 1.5, Number.NaN, "10" as unknown as number]) {
          const error = yield* Effect.flip(Tcp.readToEnd(client, { maxBytes }))
          expect(error).toMatchObject({ _tag: "ReadError", reason: "InvalidArgument" })
          expect(error.message).toContain("maxBytes")
        }
        for (const options of [5, "1024", true]) {
          const error = yield* Effect.flip(Tcp.readToEnd(client, options as unknown as { maxBytes: number }))
          expect(error).toMatchObject({ _tag: "ReadError", reason: "InvalidArgument" })
          expect(error.message).toContain("not an object")
        }
        // null and undefined options mean the defaults.
        expect(decoder.decode(yield* Tcp.readToEnd(client, null as unknown as undefined))).toBe("kept")
      })))

    it.live("an interrupted read leaves the connection usable", () =>
      run(Effect.gen(function*() {
        const { client, server } = yield* pair
        const reading = yield* Effect.fork(Tcp.readToEnd(client))
        yield* Effect.yieldNow()
        expect(Exit.isInterrupted(yield* Fiber.interrupt(reading))).toBe(true)
        yield* server.send("after")
        yield* server.endWrite
        expect(decoder.decode(yield* Tcp.readToEnd(client))).toBe("after")
      })))
  })
}

describe("Tcp.readToEnd on NodeNetwork, failures", () => {
  it.live("a reset after some bytes fails with ReadError ConnectionReset", () =>
    on(NodeNetwork.layer)(Effect.gen(function*() {
      const port = yield* Effect.acquireRelease(
        Effect.async<Net.Server>((resume) => {
          const server = Net.createServer((socket) => {
            socket.write("partial")
            // After the bytes have arrived: the reset comes while the client reads.
            setTimeout(() => socket.resetAndDestroy(), 50)
          })
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
        }),
        (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
      ).pipe(Effect.map((server) => (server.address() as Net.AddressInfo).port))
      const client = yield* Tcp.connect({ host: "127.0.0.1", port })
      const error = yield* Effect.flip(Tcp.readToEnd(client))
      expect(error).toMatchObject({ _tag: "ReadError", reason: "ConnectionReset" })
    })))

  it.live("idleTimeout applies to each wait", () =>
    on(NodeNetwork.layer)(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port, idleTimeout: "50 millis" })
      const server = yield* listener.accept
      yield* server.send("some")
      const error = yield* Effect.flip(Tcp.readToEnd(client))
      expect(error).toMatchObject({ _tag: "ReadError", reason: "TimedOut" })
    })))
})
