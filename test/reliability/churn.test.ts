import { describe, expect, it } from "@effect/vitest"
import { Effect, Ref, Schedule } from "effect"
import * as Tcp from "../../src/Tcp.js"
import { checkNoSocketLeaks, openSocketHandles } from "../utils/handles.js"
import { readAllText, readText } from "../utils/tcp.js"
import { lingeringHandles, live, mib, report, settledHeap, tcpHandleCount } from "./support.js"

checkNoSocketLeaks()

const sequential = 5_000
const concurrent = 5_000
const concurrency = 50
/** Heap growth allowed over the whole churn: a leak of even 1 KiB per connection would be 10 MiB. */
const heapBound = 4 * 1024 * 1024

/** One client: connect, send a request, read the reply until the server hangs up. */
const exchange = (port: number, index: number) =>
  Effect.scoped(Effect.gen(function*() {
    const client = yield* Tcp.connect({ host: "127.0.0.1", port })
    const request = `request ${String(index).padStart(6, "0")}`
    yield* client.send(request)
    return (yield* readAllText(client)) === `reply to ${request}`
  }))

const countTrue = (results: ReadonlyArray<boolean>) => results.filter((ok) => ok).length

describe("churn", () => {
  it.live(`${sequential + concurrent} connections through Tcp.serve leave no handle and no heap behind`, () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const port = listener.address.port
      const handled = yield* Ref.make(0)
      yield* Effect.forkScoped(Tcp.serve(listener, (connection) =>
        Effect.gen(function*() {
          const request = yield* readText(connection, "request 000000".length)
          yield* connection.send(`reply to ${request}`)
          yield* Ref.update(handled, (n) => n + 1)
        }), { concurrency: 2 * concurrency }))

      // Warm up first, so that the baseline already holds what is allocated once.
      yield* Effect.forEach(Array.from({ length: 200 }, (_, i) => i), (i) => exchange(port, i), { concurrency })
      const heapBefore = settledHeap()
      const handlesBefore = openSocketHandles()

      const startSequential = Date.now()
      const sequentialOk = countTrue(yield* Effect.forEach(Array.from({ length: sequential }, (_, i) => i), (i) => exchange(port, i)))
      const sequentialMs = Date.now() - startSequential
      const startConcurrent = Date.now()
      const concurrentOk = countTrue(
        yield* Effect.forEach(Array.from({ length: concurrent }, (_, i) => i), (i) => exchange(port, i), { concurrency })
      )
      const concurrentMs = Date.now() - startConcurrent

      // Handlers close their side as they end; give the last closes a moment.
      yield* Effect.sync(tcpHandleCount).pipe(
        Effect.repeat({ until: (count) => count <= 1, schedule: Schedule.spaced("10 millis").pipe(Schedule.upTo("3 seconds")) })
      )
      const handlesAfter = openSocketHandles()
      const heapAfter = settledHeap()
      const served = (yield* Ref.get(handled)) - 200

      report("churn", {
        sequential: { connections: sequential, ok: sequentialOk, ms: sequentialMs },
        concurrent: { connections: concurrent, concurrency, ok: concurrentOk, ms: concurrentMs },
        served,
        handlesBefore,
        handlesAfter,
        heapBefore: mib(heapBefore),
        heapAfter: mib(heapAfter),
        heapGrowth: mib(heapAfter - heapBefore),
        heapBound: mib(heapBound)
      })
      expect(sequentialOk).toBe(sequential)
      expect(concurrentOk).toBe(concurrent)
      expect(served).toBe(sequential + concurrent)
      // Only the listener is left.
      expect(handlesAfter).toEqual(handlesBefore)
      expect(handlesAfter).toEqual(["TCPServerWrap"])
      expect(heapAfter - heapBefore).toBeLessThan(heapBound)
    })), 120_000)

  it.live("after the server's scope ends, nothing is left", () =>
    Effect.gen(function*() {
      const left = yield* lingeringHandles()
      report("churn, after the scope", { handles: left })
      expect(left).toEqual([])
    }))
})
