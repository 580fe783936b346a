/**
 * The floor under memory per idle connection: heap per parked fiber on
 * effect 3, with no socket involved. 2,000 fibers wait forever in an async,
 * as a connection's handler waits for data; the heap growth after GC, per
 * fiber, is what any one-fiber-per-connection server pays before its socket.
 *
 *   node --expose-gc --import tsx bench/fiberMemory.ts
 */
import { Chunk, Effect, Fiber, Option, Scope, Stream } from "effect"
import { fromPull } from "../src/internal/shared/pullStream.js"

const fibers = 2000
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error("run with node --expose-gc")

const never = Effect.async<void>(() => {})
const neverChunk = Effect.async<Chunk.Chunk<number>, Option.Option<never>>(() => {})

const variants: Record<string, () => Effect.Effect<unknown>> = {
  "a fiber in an async": () => never,
  "a fiber in an async, with a scope": () =>
    Effect.flatMap(Scope.make(), (scope) => Effect.onExit(never, (exit) => Scope.close(scope, exit))),
  "a recv loop (Effect.gen)": () =>
    Effect.gen(function*() {
      while (true) yield* never
    }),
  "Stream.runDrain, repeatEffectChunkOption": () => Stream.runDrain(Stream.repeatEffectChunkOption(neverChunk)),
  "Stream.runDrain, channel loop": () => Stream.runDrain(fromPull(Effect.as(never, Chunk.empty<number>()))),
  "Stream.runForEach, channel loop": () =>
    Stream.runForEach(fromPull(Effect.as(never, Chunk.empty<number>())), () => Effect.void)
}

const heapUsed = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

// The first round compiles and warms up; the second is the one reported.
for (const round of [1, 2]) {
  for (const [name, make] of Object.entries(variants)) {
    const before = heapUsed()
    const running = await Effect.runPromise(Effect.forEach(Array.from({ length: fibers }), () => Effect.forkDaemon(make())))
    await Effect.runPromise(Effect.sleep(50))
    const perFiber = (heapUsed() - before) / fibers / 1024
    if (round === 2) console.log(`${name.padEnd(44)} ${perFiber.toFixed(1).padStart(5)} KB heap per fiber`)
    await Effect.runPromise(Fiber.interruptAll(running))
  }
}
