/**
 * The transfer both backpressure tests measure (test/reliability/
 * backpressure.test.ts on one connection, test/proxy/proxy-backpressure.test.ts
 * through Proxy.tcp): a writer as fast as it can be, a reader that takes a
 * timer turn every other pull, and the memory the process holds meanwhile.
 */
import { Chunk, Effect, Fiber, Stream } from "effect"
import type { ReadError, WriteError } from "../../src/NetError.js"
import type { TcpConnection } from "../../src/Network.js"
import { collectGarbage } from "./support.js"

/** The process's resident set, in bytes. */
export const rss = (): number => process.memoryUsage().rss

/** The JS heap still in use after a full collection. */
const liveHeap = (): number => {
  collectGarbage()
  return process.memoryUsage().heapUsed
}

/** What the transfer measured; peaks are sampled while the reader reads. */
export interface SlowReaderTransfer {
  readonly received: number
  /** Chunks whose first byte is not the pattern's byte at that offset. */
  readonly corrupt: number
  readonly pulls: number
  readonly heapBefore: number
  readonly heapPeak: number
  readonly rssBefore: number
  readonly rssPeak: number
}

/**
 * Sends `total` bytes (a whole number of 64 KiB blocks) from `sender` and
 * reads them on `reader` slowly, until the sender's end. `sample` runs with
 * each RSS sample, for figures of the caller's own.
 */
export const transferToSlowReader = (options: {
  readonly sender: TcpConnection
  readonly reader: TcpConnection
  readonly total: number
  readonly sample?: () => void
}): Effect.Effect<SlowReaderTransfer, ReadError | WriteError> =>
  Effect.gen(function*() {
    const { reader, sender, total } = options
    const block = new Uint8Array(64 * 1024)
    for (let i = 0; i < block.length; i++) block[i] = (i * 7 + 3) & 0xff
    const heapBefore = liveHeap()
    let heapPeak = heapBefore
    const rssBefore = rss()
    let rssPeak = rssBefore

    // The same block again and again: the sender allocates nothing, so what
    // grows is what the connections buffer.
    const writer = yield* Stream.repeatValue(block).pipe(
      Stream.take(total / block.length),
      Stream.run(sender.sink),
      Effect.zipRight(sender.endWrite),
      Effect.fork
    )
    let received = 0
    let corrupt = 0
    let pulls = 0
    yield* reader.stream.pipe(
      Stream.runForEachChunk((chunks) =>
        Effect.gen(function*() {
          Chunk.forEach(chunks, (chunk) => {
            // The pattern repeats every 64 KiB: check one byte per chunk where it must be.
            const offset = received % block.length
            if (chunk.length > 0 && chunk[0] !== block[offset]) corrupt++
            received += chunk.length
          })
          // Slow: a timer turn every other pull, while the writer is as fast as it can be.
          if (++pulls % 2 === 0) yield* Effect.sleep("1 millis")
          if (pulls % 16 === 0) {
            rssPeak = Math.max(rssPeak, rss())
            options.sample?.()
          }
          // Each read is a fresh Buffer, garbage once read: what matters is
          // what is still held after a collection.
          if (pulls % 256 === 0) heapPeak = Math.max(heapPeak, liveHeap())
        })
      )
    )
    yield* Fiber.join(writer)
    return { received, corrupt, pulls, heapBefore, heapPeak, rssBefore, rssPeak }
  })
