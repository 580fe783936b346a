import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Ref } from "effect"
import * as Net from "node:net"
import type { TcpConnection } from "../../src/Network.js"
import { checkNoSocketLeaks } from "../utils/handles.js"
import { rss, transferToSlowReader } from "./slowReader.js"
import { collectGarbage, connectedPair, live, mib, report } from "./support.js"

checkNoSocketLeaks()

const MiB = 1024 * 1024

/**
 * What one connection may hold in this process, from the design: 64 KiB of
 * unread chunks before the socket pauses (plus the one read that crosses the
 * mark, at most 64 KiB), Node's writable buffer (16 KiB high-water mark plus
 * the one chunk that crosses it, 64 KiB here) on the sending side. The kernel's
 * socket buffers are not process memory. About 200 KiB.
 *
 * The test checks that figure on Node's stream buffers directly, the live JS
 * heap after a collection, and the process's RSS. RSS also holds the garbage
 * collector's slack (every read is a fresh 64 KiB Buffer, freed only by a
 * collection), hence its generous bound, still a quarter of what buffering
 * the transfer would take.
 */
const designBound = 64 * 1024 + 64 * 1024 + 16 * 1024 + 64 * 1024
const rssBound = 64 * MiB

const heapBound = 8 * MiB
/** Bytes in Node's stream buffers of a connection, when it is node:net underneath. */
const nodeBuffered = (connection: TcpConnection): number | undefined => {
  // An implementation detail, looked at only to print and check the design's figure.
  const socket = (connection as { readonly socket?: unknown }).socket
  return socket instanceof Net.Socket ? socket.readableLength + socket.writableLength : undefined
}
const nodeBufferBound = MiB

describe("backpressure", () => {
  it.live("256 MiB to a slow reader: memory growth stays bounded and every byte arrives", () =>
    live(Effect.gen(function*() {
      const total = 256 * MiB
      const { client, server } = yield* connectedPair()
      let bufferedPeak = 0
      const { heapBefore, heapPeak, pulls, received, rssBefore, rssPeak } = yield* transferToSlowReader({
        sender: client,
        reader: server,
        total,
        sample: () => {
          bufferedPeak = Math.max(bufferedPeak, (nodeBuffered(client) ?? 0) + (nodeBuffered(server) ?? 0))
        }
      })
      const growth = rssPeak - rssBefore
      report("backpressure, 256 MiB to a slow reader", {
        transferred: mib(received),
        pulls,
        rssBefore: mib(rssBefore),
        rssPeak: mib(rssPeak),
        rssGrowth: mib(growth),
        rssBound: mib(rssBound),
        liveHeapGrowth: mib(heapPeak - heapBefore),
        liveHeapBound: mib(heapBound),
        nodeStreamBuffersPeak: `${Math.round(bufferedPeak / 1024)} KiB`,
        nodeStreamBuffersBound: mib(nodeBufferBound),
        designBoundPerConnection: `${designBound / 1024} KiB`
      })
      expect(received).toBe(total)
      expect(heapPeak - heapBefore).toBeLessThan(heapBound)
      expect(bufferedPeak).toBeLessThan(nodeBufferBound)
      expect(growth).toBeLessThan(rssBound)
    })), 120_000)

  it.live("send to a peer that never reads suspends instead of buffering, and can be interrupted", () =>
    live(Effect.gen(function*() {
      const { client } = yield* connectedPair()
      const chunk = new Uint8Array(MiB)
      const accepted = yield* Ref.make(0)
      collectGarbage()
      const rssBefore = rss()
      // 256 MiB offered; the peer never reads.
      const writer = yield* Effect.fork(
        Effect.forEach(Array.from({ length: 256 }), () => Effect.zipRight(client.send(chunk), Ref.update(accepted, (n) => n + 1)), {
          discard: true
        })
      )
      // Wait until the writer stops making progress (the kernel's buffers are full).
      let previous = -1
      for (let round = 0; round < 100; round++) {
        yield* Effect.sleep("20 millis")
        const now = yield* Ref.get(accepted)
        if (now === previous) break
        previous = now
      }
      const parkedAt = yield* Ref.get(accepted)
      const growth = rss() - rssBefore
      const stillRunning = writer.unsafePoll() === null
      const exit = yield* Fiber.interrupt(writer)
      report("backpressure, send to a peer that never reads", {
        offered: "256 MiB",
        acceptedBeforeSuspending: `${parkedAt} MiB`,
        rssGrowth: mib(growth),
        interrupted: Exit.isInterrupted(exit)
      })
      expect(stillRunning).toBe(true)
      // The kernel takes a few MiB on loopback; everything else waits in the writer.
      expect(parkedAt).toBeLessThan(64)
      expect(growth).toBeLessThan(rssBound)
      expect(Exit.isInterrupted(exit)).toBe(true)
    })), 60_000)
})
