import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { Waiters } from "../../src/internal/node/waiters.js"

/** After the immediates scheduled now (the end-of-turn wake among them) have run. */
const nextTurn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve))))

describe("Waiters.wakeOncePerTurn (real sockets' read wake)", () => {
  it.live("wakes a parked reader at once for the first data of a turn", () =>
    Effect.gen(function*() {
      let unread = 1
      const waiters = new Waiters({ hasUnread: () => unread > 0 })
      const reader = yield* Effect.fork(waiters.waitThen(() => Effect.succeed("woken")))
      yield* Effect.yieldNow()
      waiters.wakeOncePerTurn()
      unread = 0
      expect(yield* Fiber.join(reader)).toBe("woken")
    }))

  it.live("wakes again at the end of the turn only while data waits unread", () =>
    Effect.gen(function*() {
      let unread = 0
      const waiters = new Waiters({ hasUnread: () => unread > 0 })
      let wakes = 0
      const park = Effect.fork(waiters.waitThen(() => Effect.sync(() => ++wakes)))

      // The first reader takes the turn's first data; the second parks for the next message.
      const first = yield* park
      yield* Effect.yieldNow()
      waiters.wakeOncePerTurn()
      yield* Fiber.join(first)
      const second = yield* park
      yield* Effect.yieldNow()
      yield* nextTurn
      // Nothing came in after the first read: the end-of-turn wake let it sleep.
      expect(wakes).toBe(1)
      expect(second.unsafePoll()).toBeNull()

      // A later turn: the first read wakes the parked reader, which parks
      // again; a second read of the same turn is left unread for the end of it.
      waiters.wakeOncePerTurn()
      yield* Fiber.join(second)
      const third = yield* park
      yield* Effect.yieldNow()
      unread = 1
      waiters.wakeOncePerTurn() // within the same turn: no wake now
      expect(third.unsafePoll()).toBeNull()
      yield* nextTurn
      expect(yield* Fiber.join(third)).toBe(3)
    }))
})
