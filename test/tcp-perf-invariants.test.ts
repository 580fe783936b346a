/**
 * The scheduler of served connections on real sockets (issue 16, item 3):
 * one queue for every handler fiber instead of a runner per fiber, and an
 * op-count check for yielding. What it must keep from effect's default:
 * order, and that no fiber, busy or yielding, holds the event loop.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as NodeNetwork from "../src/NodeNetwork.js"
import * as Tcp from "../src/Tcp.js"
import { connectionScheduler } from "../src/internal/node/waiters.js"
import { checkNoSocketLeaks } from "./utils/handles.js"

checkNoSocketLeaks()

const host = "127.0.0.1"

/** Resolves once the event loop has reached its check phase. */
const nextImmediate = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

describe("the connection scheduler", () => {
  it.effect("runs tasks in the order they came, lower priorities first", () =>
    Effect.gen(function*() {
      const ran: Array<string> = []
      connectionScheduler.scheduleTask(() => ran.push("a0"), 0)
      connectionScheduler.scheduleTask(() => ran.push("b1"), 1)
      connectionScheduler.scheduleTask(() => ran.push("c0"), 0)
      connectionScheduler.scheduleTask(() => {
        ran.push("d0")
        // Scheduled while draining: runs after what was queued before it.
        connectionScheduler.scheduleTask(() => ran.push("e0"), 0)
      }, 0)
      yield* nextImmediate
      expect(ran).toEqual(["a0", "c0", "d0", "b1", "e0"])
    }))

  it.effect("lets the event loop turn while fibers keep yielding to each other", () =>
    Effect.gen(function*() {
      let yields = 0
      const spin = Effect.forever(Effect.zipRight(Effect.yieldNow(), Effect.sync(() => yields++)))
      const spinners = yield* Effect.forEach([1, 2], () => Effect.fork(Effect.withScheduler(spin, connectionScheduler)))
      // Only reached if an immediate can run while the spinners are alive.
      yield* nextImmediate
      const alive = yield* Effect.forEach(spinners, (fiber) => fiber.poll)
      yield* Effect.forEach(spinners, Fiber.interrupt)
      expect(alive.every(Option.isNone)).toBe(true)
      expect(yields).toBeGreaterThan(0)
    }))

  it.live("runs served handlers, and a busy handler yields so that others are served", () =>
    Effect.gen(function*() {
      const listener = yield* Tcp.listen({ host })
      const schedulers: Array<unknown> = []
      let busy = true
      yield* Effect.forkScoped(Tcp.serve(listener, (connection) =>
        Effect.gen(function*() {
          schedulers.push(yield* FiberRef.get(FiberRef.currentScheduler))
          const first = yield* connection.recv
          if (Option.isSome(first) && first.value[0] === 0) {
            // Never waits: only yielding lets the event loop, and the other handler, run.
            yield* Effect.whileLoop({ while: () => busy, body: () => Effect.void, step: () => {} })
          } else yield* connection.send("pong")
        })))
      const spinning = yield* Tcp.connect({ host, port: listener.address.port })
      yield* spinning.send(new Uint8Array([0]))
      const client = yield* Tcp.connect({ host, port: listener.address.port })
      yield* client.send(new Uint8Array([1]))
      const reply = yield* client.recv.pipe(Effect.timeout("10 seconds"))
      busy = false
      expect(Option.map(reply, (bytes) => Buffer.from(bytes).toString())).toEqual(Option.some("pong"))
      expect(schedulers).toEqual([connectionScheduler, connectionScheduler])
    }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)))
})
