/**
 * Backpressure through Proxy.tcp: a fast sender in front of the proxy and a
 * slow reader behind it. If the proxy read without waiting for its writes it
 * would hold the whole transfer; it holds a bounded window instead.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as Proxy from "../../src/Proxy.js"
import * as Tcp from "../../src/Tcp.js"
import { transferToSlowReader } from "../reliability/slowReader.js"
import { mib, report } from "../reliability/support.js"
import { checkNoSocketLeaks } from "../utils/handles.js"
import { live } from "../utils/live.js"

checkNoSocketLeaks()

const MiB = 1024 * 1024

/**
 * What the proxy may hold on top of the two connections' own buffers (about
 * 200 KiB each, see test/reliability/backpressure.test.ts): 16 chunks of at
 * most 64 KiB per direction. The bounds below leave room for the garbage
 * collector's slack and are still far below the 256 MiB sent.
 */
const heapBound = 16 * MiB
const rssBound = 96 * MiB

describe("Proxy.tcp backpressure", () => {
  it.live("256 MiB through the proxy to a slow reader: memory stays bounded and every byte arrives", () =>
    live(Effect.gen(function*() {
      const total = 256 * MiB
      const listener = yield* Tcp.listen()
      const proxy = yield* Proxy.tcp({ upstream: listener.address })
      const accepting = yield* Effect.fork(listener.accept)
      const client = yield* Tcp.connect({ host: proxy.address.host, port: proxy.address.port })
      const server = yield* Fiber.join(accepting)

      const { corrupt, heapBefore, heapPeak, pulls, received, rssBefore, rssPeak } = yield* transferToSlowReader({
        sender: client,
        reader: server,
        total
      })
      const stats = yield* proxy.stats
      report("proxy backpressure, 256 MiB to a slow reader", {
        transferred: mib(received),
        pulls,
        liveHeapGrowth: mib(heapPeak - heapBefore),
        liveHeapBound: mib(heapBound),
        rssGrowth: mib(rssPeak - rssBefore),
        rssBound: mib(rssBound)
      })
      expect(received).toBe(total)
      expect(corrupt).toBe(0)
      expect(stats.bytesUp).toBe(total)
      expect(heapPeak - heapBefore).toBeLessThan(heapBound)
      expect(rssPeak - rssBefore).toBeLessThan(rssBound)
    })), 180_000)
})
