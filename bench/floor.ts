/**
 * The floor under any Effect socket API: the CPU that Effect's own machinery
 * costs per message, with no socket involved. A producer delivers one 64-byte
 * message per macrotask (as a socket's 'data' event does) and wakes a waiting
 * consumer; the consumer is plain callbacks, a `recv`-style Effect loop, or a
 * Stream built with `Stream.repeatEffectChunkOption` or on a channel loop, as
 * effect-net's `stream` is (`src/internal/shared/pullStream.ts`).
 *
 *   npx tsx bench/floor.ts
 */
import { Chunk, Effect, Option, Stream } from "effect"
import { fromPull } from "../src/internal/shared/pullStream.js"

const messages = 100_000
const message = new Uint8Array(64)
let waiter: (() => void) | undefined
let pending: Array<Uint8Array> = []

const produce = (left: number, done: () => void): void => {
  if (left === 0) return done()
  pending.push(message)
  const wake = waiter
  waiter = undefined
  wake?.()
  setImmediate(() => produce(left - 1, done))
}

const awaitMessage = Effect.async<void>((resume) => {
  waiter = () => resume(Effect.void)
})
const pullAll: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<never>> = Effect.suspend(() => {
  if (pending.length === 0) return Effect.zipRight(awaitMessage, pullAll)
  const chunk = Chunk.unsafeFromArray(pending)
  pending = []
  return Effect.succeed(chunk)
})
const recv: Effect.Effect<Uint8Array> = Effect.suspend(() =>
  pending.length > 0 ? Effect.succeed(pending.shift()!) : Effect.zipRight(awaitMessage, recv)
)

const report = (name: string, usage: NodeJS.CpuUsage) =>
  console.log(`${name.padEnd(34)} ${((usage.user + usage.system) / messages).toFixed(2).padStart(6)} µs CPU per message`)

const measure = async (name: string, consume: Effect.Effect<unknown>) => {
  pending = []
  const start = process.cpuUsage()
  await Promise.all([new Promise<void>((resolve) => produce(messages, resolve)), Effect.runPromise(consume)])
  report(name, process.cpuUsage(start))
}

for (let round = 1; round <= 2; round++) {
  console.log(`round ${round}`)
  pending = []
  const start = process.cpuUsage()
  await new Promise<void>((resolve) => produce(messages, resolve))
  report("producer alone (callbacks)", process.cpuUsage(start))
  await measure("recv loop (Effect.gen)", Effect.gen(function*() {
    for (let i = 0; i < messages; i++) yield* recv
  }))
  await measure("Stream.runForEach", Stream.repeatEffectChunkOption(pullAll).pipe(
    Stream.take(messages),
    Stream.runForEach(() => Effect.void)
  ))
  await measure("Stream.runDrain", Stream.repeatEffectChunkOption(pullAll).pipe(Stream.take(messages), Stream.runDrain))
  await measure(
    "Stream.runDrain, channel loop",
    fromPull(Effect.orElseSucceed(pullAll, () => undefined)).pipe(Stream.take(messages), Stream.runDrain)
  )
}
