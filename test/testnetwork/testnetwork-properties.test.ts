/**
 * Property tests of failure paths on the simulated network: under any
 * generated `Faults` (and any network seed), a client with a timeout and a
 * retry schedule returns exactly the right reply or fails with a typed error
 * within its time budget, and leaves nothing open. fast-check prints the
 * seed (and the faults) of a failing run; `fastCheck: { seed }` replays it.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Tcp from "../../src/Tcp.js"
import * as TestNetwork from "../../src/TestNetwork.js"
import * as Udp from "../../src/Udp.js"
import * as RetryingClient from "../utils/retryingClient.js"
import { readAllText } from "../utils/tcp.js"

const decoder = new TextDecoder()
const text = (bytes: Uint8Array) => decoder.decode(bytes)

/** Advances the TestClock in steps until `fiber` is done (at most `limit`). */
const drive = <A, E>(fiber: Fiber.RuntimeFiber<A, E>, step: Duration.DurationInput, limit: Duration.DurationInput) =>
  Effect.gen(function*() {
    const steps = Math.ceil(Duration.toMillis(limit) / Duration.toMillis(step))
    for (let i = 0; i < steps && Option.isNone(yield* Fiber.poll(fiber)); i++) yield* TestClock.adjust(step)
    return yield* Fiber.join(fiber)
  })

const properties = RetryingClient.requestInputs(TestNetwork.arbitraryFaults)

describe("TestNetwork properties", () => {
  describe("TCP request/response with timeout and retry", () => {
    const retry: RetryingClient.TcpRetry = { attempts: 3, attemptTimeout: Duration.seconds(2), retryDelay: Duration.millis(100) }
    const budget = RetryingClient.tcpBudget(retry)

    const request = (port: number, id: number) =>
      RetryingClient.tcpRequest(retry, { host: "127.0.0.2", port, localAddress: "127.0.0.3", timeout: "1 second" }, id)

    it.effect.prop(
      "returns exactly the reply or a typed error within the budget, and leaves nothing open",
      properties,
      ({ faults, id, seed }) =>
        Effect.gen(function*() {
          const serverScope = yield* Scope.make()
          const listener = yield* Scope.extend(Tcp.listen({ host: "127.0.0.2" }), serverScope)
          yield* Effect.forkIn(Tcp.serve(listener, RetryingClient.tcpAnswer, { shutdownTimeout: 0 }), serverScope)
          yield* TestNetwork.setFaults(faults)
          const client = yield* Effect.fork(Effect.timed(Effect.exit(request(listener.address.port, id))))
          const [elapsed, exit] = yield* drive(client, "1 second", Duration.sum(budget, Duration.seconds(1)))

          expect(Duration.lessThanOrEqualTo(elapsed, budget)).toBe(true)
          RetryingClient.expectReplyOrTypedFailure(exit, id, ["ConnectError", "ReadError", "WriteError", "RequestTimeout"])
          expect(TestNetwork.isEmpty(yield* TestNetwork.snapshot("127.0.0.3"))).toBe(true)
          yield* Scope.close(serverScope, Exit.void)
          expect(yield* TestNetwork.snapshot()).toEqual({ tcpListeners: [], tcpConnections: [], udpSockets: [] })
        }).pipe(Effect.provide(TestNetwork.layer({ seed }))),
      { fastCheck: { numRuns: 30 } }
    )

    it.effect.prop(
      "without faults that break connections, a reply always arrives",
      { ...properties, faults: TestNetwork.arbitraryFaultsWith({ exclude: ["refuse", "stall", "resetAfterBytes"] }) },
      ({ faults, id, seed }) =>
        Effect.gen(function*() {
          const listener = yield* Tcp.listen({ host: "127.0.0.2" })
          yield* Effect.forkScoped(Tcp.serve(listener, (conn) =>
            Effect.flatMap(readAllText(conn), (received) => conn.send(`reply to ${received}`)), { shutdownTimeout: 0 }))
          yield* TestNetwork.setFaults(faults)
          const client = yield* Effect.fork(request(listener.address.port, id))
          expect(yield* drive(client, "1 second", budget)).toBe(RetryingClient.replyTo(id))
        }).pipe(Effect.scoped, Effect.provide(TestNetwork.layer({ seed }))),
      { fastCheck: { numRuns: 15 } }
    )
  })

  describe("UDP request/response with timeout and retry", () => {
    const attempts = 5
    const budget = RetryingClient.udpBudget(attempts)

    it.effect.prop(
      "returns exactly the reply or RequestTimeout within the budget, and leaves nothing open",
      properties,
      ({ faults, id, seed }) =>
        Effect.gen(function*() {
          const serverScope = yield* Scope.make()
          const server = yield* Scope.extend(Udp.bind({ host: "127.0.0.2" }), serverScope)
          yield* Effect.forkIn(Stream.runForEach(server.datagrams, RetryingClient.udpAnswer(server)), serverScope)
          yield* TestNetwork.setFaults(faults)
          const client = yield* Effect.fork(Effect.timed(Effect.exit(Effect.scoped(
            Effect.flatMap(Udp.connect({ host: "127.0.0.2", port: server.address.port, bind: { host: "127.0.0.3" } }), (socket) =>
              RetryingClient.udpRequest(socket, id, attempts))
          ))))
          const [elapsed, exit] = yield* drive(client, "1 second", Duration.sum(budget, Duration.seconds(1)))

          expect(Duration.lessThanOrEqualTo(elapsed, budget)).toBe(true)
          RetryingClient.expectReplyOrTypedFailure(exit, id, ["RequestTimeout"])
          expect(TestNetwork.isEmpty(yield* TestNetwork.snapshot("127.0.0.3"))).toBe(true)
          yield* Scope.close(serverScope, Exit.void)
          expect(TestNetwork.isEmpty(yield* TestNetwork.snapshot())).toBe(true)
        }).pipe(Effect.provide(TestNetwork.layer({ seed }))),
      { fastCheck: { numRuns: 30 } }
    )
  })

  describe("determinism", () => {
    /** A TCP echo and a UDP burst under `faults`; every event with its Clock time. */
    const trace = (faults: TestNetwork.Faults, seed: number) =>
      Effect.gen(function*() {
        const events: Array<string> = []
        const start = yield* Clock.currentTimeMillis
        const note = (event: string) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => events.push(`${now - start} ${event}`)))
        const listener = yield* Tcp.listen({ host: "127.0.0.2" })
        yield* Effect.forkScoped(Tcp.serve(listener, (conn) => conn.stream.pipe(Stream.run(conn.sink)), { shutdownTimeout: 0 }))
        const a = yield* Udp.bind({ host: "127.0.0.3" })
        const b = yield* Udp.bind({ host: "127.0.0.2" })
        yield* TestNetwork.setFaults(faults)
        const tcp = Effect.scoped(Effect.gen(function*() {
          const conn = yield* Tcp.connect({ host: "127.0.0.2", port: listener.address.port, localAddress: "127.0.0.3", timeout: "1 second" })
          yield* Effect.forEach(["alpha", "beta", "gamma"], (word) => conn.send(word))
          yield* conn.endWrite
          yield* Stream.runForEach(conn.stream, (chunk) => note(`tcp ${text(chunk)}`))
        })).pipe(Effect.exit, Effect.flatMap((exit) => note(`tcp exit ${Exit.isSuccess(exit) ? "ok" : Cause.pretty(exit.cause)}`)))
        const udp = Effect.zipRight(
          Effect.forEach(Array.from({ length: 20 }, (_, i) => `d${i}`), (payload) => a.send(payload, b.address)),
          Stream.runForEach(b.datagrams, (d) => note(`udp ${text(d.payload)} from ${d.from.port}`))
        )
        const fiber = yield* Effect.fork(Effect.all([tcp, udp], { concurrency: "unbounded" }))
        yield* TestClock.adjust("3 seconds")
        yield* Fiber.interrupt(fiber)
        return events
      }).pipe(Effect.scoped, Effect.provide(TestNetwork.layer({ seed })))

    it.effect.prop(
      "the same seed, program and faults give the same events at the same times",
      { faults: TestNetwork.arbitraryFaults, seed: FastCheck.integer() },
      ({ faults, seed }) =>
        Effect.gen(function*() {
          const first = yield* trace(faults, seed)
          const second = yield* trace(faults, seed)
          expect(second).toEqual(first)
        }),
      { fastCheck: { numRuns: 15 } }
    )

    it.effect("different seeds give different outcomes under random faults", () =>
      Effect.gen(function*() {
        const faults = { drop: 0.3, jitter: "20 millis", reorder: 0.2 } as const
        expect(yield* trace(faults, 1)).not.toEqual(yield* trace(faults, 2))
      }))
  })
})
