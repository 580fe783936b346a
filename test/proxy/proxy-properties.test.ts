/**
 * TestNetwork's property of a retrying client (test/testnetwork-properties
 * .test.ts), rerun on real loopback sockets through a real Proxy.tcp under
 * the same generated faults: the client returns exactly the reply or fails
 * with a typed error within its budget, and leaves nothing open. Real time
 * passes here, so the runs are fewer and the latencies shorter.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Proxy from "../../src/Proxy.js"
import * as Tcp from "../../src/Tcp.js"
import * as TestNetwork from "../../src/TestNetwork.js"
import * as Udp from "../../src/Udp.js"
import { checkNoSocketLeaks, waitForNoSocketHandles } from "../utils/handles.js"
import { live } from "../utils/live.js"
import * as RetryingClient from "../utils/retryingClient.js"

checkNoSocketLeaks()

const retry: RetryingClient.TcpRetry = { attempts: 3, attemptTimeout: Duration.seconds(1), retryDelay: Duration.millis(100) }
const budget = RetryingClient.tcpBudget(retry)
/** Real time is not exact: the scheduler may start the last timer a little late. */
const slack = Duration.millis(250)

const request = (port: number, id: number) =>
  RetryingClient.tcpRequest(retry, { host: "127.0.0.1", port, timeout: "500 millis" }, id)

/** A server answering one request per connection, behind a proxy with `faults`, for the life of the scope. */
const proxiedServer = (faults: TestNetwork.Faults, seed: number) =>
  Effect.gen(function*() {
    const listener = yield* Tcp.listen()
    // A reset is one of the faults: the server just drops that connection.
    yield* Effect.forkScoped(Tcp.serve(listener, (conn) => Effect.ignore(RetryingClient.tcpAnswer(conn)), { shutdownTimeout: 0 }))
    return yield* Proxy.tcp({ upstream: listener.address, faults, seed })
  })

describe("the TestNetwork retrying-client property, through a real Proxy", () => {
  it.live.prop(
    "returns exactly the reply or a typed error within the budget, and leaves nothing open",
    RetryingClient.requestInputs(TestNetwork.arbitraryFaultsWith({ maxLatencyMillis: 50 })),
    ({ faults, id, seed }) =>
      Effect.gen(function*() {
        const [elapsed, exit] = yield* live(Effect.gen(function*() {
          const proxy = yield* proxiedServer(faults, seed)
          return yield* Effect.timed(Effect.exit(request(proxy.address.port, id)))
        }))
        expect(Duration.lessThanOrEqualTo(elapsed, Duration.sum(budget, slack))).toBe(true)
        RetryingClient.expectReplyOrTypedFailure(exit, id, ["ConnectError", "ReadError", "WriteError", "RequestTimeout"])
        expect(yield* Effect.promise(() => waitForNoSocketHandles())).toEqual([])
      }),
    { fastCheck: { numRuns: 12 }, timeout: 60_000 }
  )

  it.live.prop(
    "without faults that break connections, a reply always arrives",
    RetryingClient.requestInputs(
      TestNetwork.arbitraryFaultsWith({ exclude: ["refuse", "stall", "resetAfterBytes"], maxLatencyMillis: 50 })
    ),
    ({ faults, id, seed }) =>
      live(Effect.gen(function*() {
        const proxy = yield* proxiedServer(faults, seed)
        expect(yield* request(proxy.address.port, id)).toBe(RetryingClient.replyTo(id))
      })),
    { fastCheck: { numRuns: 8 }, timeout: 60_000 }
  )

  describe("UDP", () => {
    const udpAttempts = 5

    it.live.prop(
      "returns exactly the reply or RequestTimeout within the budget, and leaves nothing open",
      RetryingClient.requestInputs(TestNetwork.arbitraryFaultsWith({ maxLatencyMillis: 50 })),
      ({ faults, id, seed }) =>
        Effect.gen(function*() {
          const [elapsed, exit] = yield* live(Effect.gen(function*() {
            const server = yield* Udp.bind()
            const answer = RetryingClient.udpAnswer(server)
            yield* Effect.forkScoped(Stream.runForEach(server.datagrams, (d) => Effect.ignore(answer(d))))
            const proxy = yield* Proxy.udp({ upstream: server.address, faults, seed })
            const client = yield* Udp.connect({ host: proxy.address.host, port: proxy.address.port })
            return yield* Effect.timed(Effect.exit(RetryingClient.udpRequest(client, id, udpAttempts)))
          }))
          expect(Duration.lessThanOrEqualTo(elapsed, Duration.sum(RetryingClient.udpBudget(udpAttempts), slack))).toBe(true)
          RetryingClient.expectReplyOrTypedFailure(exit, id, ["RequestTimeout"])
          expect(yield* Effect.promise(() => waitForNoSocketHandles())).toEqual([])
        }),
      { fastCheck: { numRuns: 10 }, timeout: 60_000 }
    )
  })
})
