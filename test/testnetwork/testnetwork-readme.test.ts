// The example of the README section "Testing your network program with
// TestNetwork", verbatim: it must work as a user copies it.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Schedule, Stream, TestClock } from "effect"
import { Tcp, TestNetwork } from "effect-net"

// The program under test: asks a server on 127.0.0.2 for a greeting, with a
// connect timeout, an overall timeout per attempt, and two retries.
const fetchGreeting = (port: number) =>
  Effect.gen(function*() {
    const conn = yield* Tcp.connect({ host: "127.0.0.2", port, localAddress: "127.0.0.3", timeout: "1 second" })
    yield* conn.send("hello?")
    yield* conn.endWrite
    return yield* conn.stream.pipe(Stream.decodeText(), Stream.mkString)
  }).pipe(
    Effect.scoped,
    Effect.timeout("2 seconds"),
    Effect.retry(Schedule.recurs(2))
  )

// A server for it to talk to, on another simulated host. It reads the
// request to its end before answering: a server that closes with unread
// bytes resets the connection (as a real kernel does), which the client sees
// as an error.
const greeter = Effect.gen(function*() {
  const listener = yield* Tcp.listen({ host: "127.0.0.2" })
  yield* Effect.forkScoped(Tcp.serve(listener, (conn) => Effect.zipRight(Stream.runDrain(conn.stream), conn.send("hello!"))))
  return listener.address.port
})

describe("fetchGreeting", () => {
  it.scoped("gets the greeting", () =>
    Effect.gen(function*() {
      const port = yield* greeter
      expect(yield* fetchGreeting(port)).toBe("hello!")
    }).pipe(Effect.provide(TestNetwork.layer())))

  it.scoped("copes with latency and one-byte packets", () =>
    Effect.gen(function*() {
      const port = yield* greeter
      yield* TestNetwork.setFaults({ latency: "100 millis", sliceBytes: 1 })
      const fiber = yield* Effect.fork(fetchGreeting(port))
      yield* TestClock.adjust("1 second") // time passes only when the test says so
      expect(yield* Fiber.join(fiber)).toBe("hello!")
    }).pipe(Effect.provide(TestNetwork.layer())))

  it.scoped("fails with ConnectError TimedOut when the server hangs", () =>
    Effect.gen(function*() {
      const port = yield* greeter
      yield* TestNetwork.setFaults({ stall: true })
      const fiber = yield* Effect.fork(fetchGreeting(port))
      yield* TestClock.adjust("3 seconds") // three attempts of one second each
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error._tag === "ConnectError" && error.reason).toBe("TimedOut")
      // ... and left nothing open on the client's host.
      expect(TestNetwork.isEmpty(yield* TestNetwork.snapshot("127.0.0.3"))).toBe(true)
    }).pipe(Effect.provide(TestNetwork.layer())))

  it.scoped("fails fast when the server's host is cut off and then refuses", () =>
    Effect.gen(function*() {
      const port = yield* greeter
      yield* TestNetwork.setLinkFaults({ from: "127.0.0.3", to: "127.0.0.2" }, { refuse: true })
      const error = yield* Effect.flip(fetchGreeting(port))
      expect(error._tag === "ConnectError" && error.reason).toBe("ConnectionRefused")
    }).pipe(Effect.provide(TestNetwork.layer())))

  it.effect.prop(
    "under any faults: the greeting, or a typed error within 7 seconds, and nothing left open",
    { faults: TestNetwork.arbitraryFaults, seed: TestNetwork.arbitrarySeed },
    ({ faults, seed }) =>
      Effect.gen(function*() {
        const port = yield* greeter
        yield* TestNetwork.setFaults(faults)
        const fiber = yield* Effect.fork(Effect.exit(fetchGreeting(port)))
        yield* TestClock.adjust("7 seconds") // 3 × 2 s, and then some
        const exit = yield* Fiber.join(fiber)
        if (Exit.isSuccess(exit)) expect(exit.value).toBe("hello!")
        else expect(exit.cause._tag).toBe("Fail") // a typed error: no defect, no hang
        expect(TestNetwork.isEmpty(yield* TestNetwork.snapshot("127.0.0.3"))).toBe(true)
      }).pipe(Effect.scoped, Effect.provide(TestNetwork.layer({ seed }))),
    { fastCheck: { numRuns: 20 } }
  )
})
