import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import * as NodeNetwork from "../../src/NodeNetwork.js"
import { udpClient } from "../../scratchpad/seed/udp-client.js"
import { udpServer } from "../../scratchpad/seed/udp-server.js"
import { checkNoSocketLeaks } from "../utils/handles.js"
import { python } from "../utils/process.js"

checkNoSocketLeaks()

const live = <A, E>(effect: Effect.Effect<A, E, any>) =>
  // `any`: the tests' effects need Network and Scope, both provided here.
  effect.pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)) as Effect.Effect<A, E>

/** Fails the test instead of waiting for the whole test timeout. */
const within = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(effect, { duration: "10 seconds", onTimeout: () => new Error("timed out after 10 seconds") })

describe("the seed's UDP programs", () => {
  it.live("the seed's Python UDP client talks to the effect-net UDP server", () =>
    live(Effect.gen(function*() {
      const bound = yield* Deferred.make<number>()
      const server = yield* Effect.fork(udpServer({ port: 0, onListening: (address) => Deferred.succeed(bound, address.port) }))
      const port = yield* within(Deferred.await(bound))
      const client = yield* python("seed_udp_client.py", [String(port)])
      expect(yield* within(client.exited)).toBe(0)
      expect(client.lines).toEqual(["Received: Hello, UDP Client!"])
      expect(yield* within(Fiber.join(server))).toBe("Hello, UDP Server!")
    })))

  it.live("the effect-net UDP client talks to the seed's Python UDP server", () =>
    live(Effect.gen(function*() {
      const server = yield* python("seed_udp_server.py", ["0"])
      const port = Number((yield* within(server.waitForLine(/^Bound to 127\.0\.0\.1:(\d+)$/)))[1])
      expect(yield* within(udpClient({ port }))).toBe("Hello, UDP Client!")
      expect(yield* within(server.exited)).toBe(0)
      expect(server.lines.some((line) => /^Received from \('127\.0\.0\.1', \d+\): Hello, UDP Server!$/.test(line))).toBe(true)
    })))

  it.live("the effect-net UDP client and server talk to each other in one process", () =>
    live(Effect.gen(function*() {
      const bound = yield* Deferred.make<number>()
      const server = yield* Effect.fork(udpServer({ port: 0, onListening: (address) => Deferred.succeed(bound, address.port) }))
      const port = yield* within(Deferred.await(bound))
      expect(yield* within(udpClient({ port }))).toBe("Hello, UDP Client!")
      expect(yield* within(Fiber.join(server))).toBe("Hello, UDP Server!")
    })))
})
