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
import * as Proxy from "../src/Proxy.js"
import * as Tcp from "../src/Tcp.js"
import * as TestNetwork from "../src/TestNetwork.js"
import * as Udp from "../src/Udp.js"
import { checkNoSocketLeaks, waitForNoSocketHandles } from "./utils/handles.js"
import { live } from "./utils/live.js"
import {
  expectReplyOrTypedFailure,
  replyTo,
  requestInputs,
  tcpAnswer,
  tcpBudget,
  tcpRequest,
  type TcpRetry,
  udpAnswer,
  udpBudget,
  udpRequest
} from "./utils/retryingClient.js"

checkNoSocketLeaks()

const retry: TcpRetry = { attempts: 3, attemptTimeout: Duration.seconds(1), retryDelay: Duration.millis(100) }
const budget = tcpBudget(retry)
/** Real time is not exact: the scheduler may start the last timer a little late. */
const slack = Duration.millis(250)

const request = (port: number, id: number) =>
  tcpRequest(retry, { host: "127.0.0.1", port, timeout: "500 millis" }, id)

/** A server answering one request per connection, behind a proxy with `faults`, for the life of the scope. */
const proxiedServer = (faults: TestNetwork.Faults, seed: number) =>
  Effect.gen(function*() {
    const listener = yield* Tcp.listen()
    // A reset is one of the faults: the server just drops that connection.
    yield* Effect.forkScoped(Tcp.serve(listener, (conn) => Effect.ignore(tcpAnswer(conn)), { shutdownTimeout: 0 }))
    return yield* Proxy.tcp({ upstream: listener.address, faults, seed })
  })

describe("the TestNetwork retrying-client property, through a real Proxy", () => {
  it.live.prop(
    "returns exactly the reply or a typed error within the budget, and leaves nothing open",
    requestInputs(TestNetwork.arbitraryFaultsWith({ maxLatencyMillis: 50 })),
    ({ faults, id, seed }) =>
      Effect.gen(function*() {
        const [elapsed, exit] = yield* live(Effect.gen(function*() {
          const proxy = yield* proxiedServer(faults, seed)
          return yield* Effect.timed(Effect.exit(request(proxy.address.port, id)))
        }))
        expect(Duration.lessThanOrEqualTo(elapsed, Duration.sum(budget, slack))).toBe(true)
        expectReplyOrTypedFailure(exit, id, ["ConnectError", "ReadError", "WriteError", "RequestTimeout"])
        expect(yield* Effect.promise(() => waitForNoSocketHandles())).toEqual([])
      }),
    { fastCheck: { numRuns: 12 }, timeout: 60_000 }
  )

  it.live.prop(
    "without faults that break connections, a reply always arrives",
    requestInputs(
      TestNetwork.arbitraryFaultsWith({ exclude: ["refuse", "stall", "resetAfterBytes"], maxLatencyMillis: 50 })
    ),
    ({ faults, id, seed }) =>
      live(Effect.gen(function*() {
        const proxy = yield* proxiedServer(faults, seed)
        expect(yield* request(proxy.address.port, id)).toBe(replyTo(id))
      })),
    { fastCheck: { numRuns: 8 }, timeout: 60_000 }
  )

  describe("UDP", () => {
    const udpAttempts = 5

    it.live.prop(
      "returns exactly the reply or RequestTimeout within the budget, and leaves nothing open",
      requestInputs(TestNetwork.arbitraryFaultsWith({ maxLatencyMillis: 50 })),
      ({ faults, id, seed }) =>
        Effect.gen(function*() {
          const [elapsed, exit] = yield* live(Effect.gen(function*() {
            const server = yield* Udp.bind()
            const answer = udpAnswer(server)
            yield* Effect.forkScoped(Stream.runForEach(server.datagrams, (d) => Effect.ignore(answer(d))))
            const proxy = yield* Proxy.udp({ upstream: server.address, faults, seed })
            const client = yield* Udp.connect({ host: proxy.address.host, port: proxy.address.port })
            return yield* Effect.timed(Effect.exit(udpRequest(client, id, udpAttempts)))
          }))
          expect(Duration.lessThanOrEqualTo(elapsed, Duration.sum(udpBudget(udpAttempts), slack))).toBe(true)
          expectReplyOrTypedFailure(exit, id, ["RequestTimeout"])
          expect(yield* Effect.promise(() => waitForNoSocketHandles())).toEqual([])
        }),
      { fastCheck: { numRuns: 10 }, timeout: 60_000 }
    )
  })
})
