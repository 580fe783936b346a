/**
 * Backpressure through Proxy.tcp: a fast sender in front of the proxy and a
 * slow reader behind it. If the proxy read without waiting for its writes it
 * would hold the whole transfer; it holds a bounded window instead.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Stream } from "effect"
import * as Proxy from "../src/Proxy.js"
import * as Tcp from "../src/Tcp.js"
import { collectGarbage, live, mib, report } from "./reliability/support.js"
import { checkNoSocketLeaks } from "./utils/handles.js"

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

const liveHeap = () => {
  collectGarbage()
  return process.memoryUsage().heapUsed
}

describe("Proxy.tcp backpressure", () => {
  it.live("256 MiB through the proxy to a slow reader: memory stays bounded and every byte arrives", () =>
    live(Effect.gen(function*() {
      const total = 256 * MiB
      const block = new Uint8Array(64 * 1024)
      for (let i = 0; i < block.length; i++) block[i] = (i * 7 + 3) & 0xff
      const listener = yield* Tcp.listen()
      const proxy = yield* Proxy.tcp({ upstream: listener.address })
      const accepting = yield* Effect.fork(listener.accept)
      const client = yield* Tcp.connect({ host: proxy.address.host, port: proxy.address.port })
      const server = yield* Fiber.join(accepting)

      const heapBefore = liveHeap()
      let heapPeak = heapBefore
      const rssBefore = process.memoryUsage().rss
      let rssPeak = rssBefore
      const writer = yield* Stream.repeatValue(block).pipe(
        Stream.take(total / block.length),
        Stream.run(client.sink),
        Effect.zipRight(client.endWrite),
        Effect.fork
      )
      let received = 0
      let corrupt = 0
      let pulls = 0
      yield* server.stream.pipe(
        Stream.runForEachChunk((chunks) =>
          Effect.gen(function*() {
            Chunk.forEach(chunks, (chunk) => {
              // The pattern repeats every 64 KiB: check one byte per chunk where it must be.
              const offset = received % block.length
              if (chunk.length > 0 && chunk[0] !== block[offset]) corrupt++
              received += chunk.length
            })
            if (++pulls % 2 === 0) yield* Effect.sleep("1 millis")
            if (pulls % 16 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage().rss)
            if (pulls % 256 === 0) heapPeak = Math.max(heapPeak, liveHeap())
          })
        )
      )
      yield* Fiber.join(writer)
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
