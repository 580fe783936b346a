/**
 * TestNetwork's property of a retrying client (test/testnetwork-properties
 * .test.ts), rerun on real loopback sockets through a real Proxy.tcp under
 * the same generated faults: the client returns exactly the reply or fails
 * with a typed error within its budget, and leaves nothing open. Real time
 * passes here, so the runs are fewer and the latencies shorter.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as NodeNetwork from "../src/NodeNetwork.js"
import * as Proxy from "../src/Proxy.js"
import * as Tcp from "../src/Tcp.js"
import * as TestNetwork from "../src/TestNetwork.js"
import * as Udp from "../src/Udp.js"
import { checkNoSocketLeaks, waitForNoSocketHandles } from "./utils/handles.js"
import { readAllText } from "./utils/tcp.js"

checkNoSocketLeaks()

class RequestTimeout extends Data.TaggedError("RequestTimeout") {}

const attempts = 3
const attemptTimeout = Duration.seconds(1)
const retryDelay = Duration.millis(100)
const budget = Duration.sum(Duration.times(attemptTimeout, attempts), Duration.times(retryDelay, attempts - 1))
/** Real time is not exact: the scheduler may start the last timer a little late. */
const slack = Duration.millis(250)

const request = (port: number, id: number) =>
  Effect.scoped(Effect.gen(function*() {
    const conn = yield* Tcp.connect({ host: "127.0.0.1", port, timeout: "500 millis" })
    yield* conn.send(`request ${id}`)
    yield* conn.endWrite
    return yield* readAllText(conn)
  })).pipe(
    Effect.timeoutFail({ duration: attemptTimeout, onTimeout: () => new RequestTimeout() }),
    Effect.retry(Schedule.intersect(Schedule.recurs(attempts - 1), Schedule.spaced(retryDelay)))
  )

const typedFailure = <A, E>(exit: Exit.Exit<A, E>): Option.Option<E> =>
  Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()

/** A server answering one request per connection, behind a proxy with `faults`, for the life of the scope. */
const proxiedServer = (faults: TestNetwork.Faults, seed: number) =>
  Effect.gen(function*() {
    const listener = yield* Tcp.listen()
    yield* Effect.forkScoped(Tcp.serve(listener, (conn) =>
      Effect.gen(function*() {
        const received = yield* readAllText(conn)
        yield* conn.send(`reply to ${received}`)
        yield* conn.endWrite
        // A reset is one of the faults: the server just drops that connection.
      }).pipe(Effect.ignore), { shutdownTimeout: 0 }))
    return yield* Proxy.tcp({ upstream: listener.address, faults, seed })
  })

const run = <A, E>(effect: Effect.Effect<A, E, any>) =>
  // `any`: the property needs Network and Scope, both provided here.
  effect.pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)) as Effect.Effect<A, E>

describe("the TestNetwork retrying-client property, through a real Proxy", () => {
  it.live.prop(
    "returns exactly the reply or a typed error within the budget, and leaves nothing open",
    {
      faults: TestNetwork.arbitraryFaultsWith({ maxLatencyMillis: 50 }),
      seed: FastCheck.integer(),
      id: FastCheck.nat(1_000_000)
    },
    ({ faults, id, seed }) =>
      Effect.gen(function*() {
        const [elapsed, exit] = yield* run(Effect.gen(function*() {
          const proxy = yield* proxiedServer(faults, seed)
          return yield* Effect.timed(Effect.exit(request(proxy.address.port, id)))
        }))
        expect(Duration.lessThanOrEqualTo(elapsed, Duration.sum(budget, slack))).toBe(true)
        if (Exit.isSuccess(exit)) {
          expect(exit.value).toBe(`reply to request ${id}`)
        } else {
          const failure = typedFailure(exit)
          expect(Option.isSome(failure)).toBe(true)
          expect(["ConnectError", "ReadError", "WriteError", "RequestTimeout"]).toContain(Option.getOrThrow(failure)._tag)
        }
        expect(yield* Effect.promise(() => waitForNoSocketHandles())).toEqual([])
      }),
    { fastCheck: { numRuns: 12 }, timeout: 60_000 }
  )

  it.live.prop(
    "without faults that break connections, a reply always arrives",
    {
      faults: TestNetwork.arbitraryFaultsWith({ exclude: ["refuse", "stall", "resetAfterBytes"], maxLatencyMillis: 50 }),
      seed: FastCheck.integer(),
      id: FastCheck.nat(1_000_000)
    },
    ({ faults, id, seed }) =>
      run(Effect.gen(function*() {
        const proxy = yield* proxiedServer(faults, seed)
        expect(yield* request(proxy.address.port, id)).toBe(`reply to request ${id}`)
      })),
    { fastCheck: { numRuns: 8 }, timeout: 60_000 }
  )

  describe("UDP", () => {
    const udpAttempts = 5
    const udpBudget = Duration.millis(udpAttempts * 500)
    const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

    /** One attempt: send, then wait for the matching reply (duplicates and strays ignored). */
    const udpRequest = (socket: Udp.UdpSocket, id: number) =>
      Effect.gen(function*() {
        yield* socket.send(`request ${id}`)
        for (let i = 0; i < 100; i++) {
          const reply = text((yield* socket.recv).payload)
          if (reply === `reply to request ${id}`) return reply
        }
        return yield* new RequestTimeout()
      }).pipe(
        Effect.timeoutFail({ duration: "500 millis", onTimeout: () => new RequestTimeout() }),
        Effect.retry({ times: udpAttempts - 1 })
      )

    it.live.prop(
      "returns exactly the reply or RequestTimeout within the budget, and leaves nothing open",
      {
        faults: TestNetwork.arbitraryFaultsWith({ maxLatencyMillis: 50 }),
        seed: FastCheck.integer(),
        id: FastCheck.nat(1_000_000)
      },
      ({ faults, id, seed }) =>
        Effect.gen(function*() {
          const [elapsed, exit] = yield* run(Effect.gen(function*() {
            const server = yield* Udp.bind()
            yield* Effect.forkScoped(
              Stream.runForEach(server.datagrams, (d) => Effect.ignore(server.send(`reply to ${text(d.payload)}`, d.from)))
            )
            const proxy = yield* Proxy.udp({ upstream: server.address, faults, seed })
            const client = yield* Udp.connect({ host: proxy.address.host, port: proxy.address.port })
            return yield* Effect.timed(Effect.exit(udpRequest(client, id)))
          }))
          expect(Duration.lessThanOrEqualTo(elapsed, Duration.sum(udpBudget, slack))).toBe(true)
          if (Exit.isSuccess(exit)) expect(exit.value).toBe(`reply to request ${id}`)
          else expect(Option.map(typedFailure(exit), (e) => e._tag)).toEqual(Option.some("RequestTimeout"))
          expect(yield* Effect.promise(() => waitForNoSocketHandles())).toEqual([])
        }),
      { fastCheck: { numRuns: 10 }, timeout: 60_000 }
    )
  })
})
