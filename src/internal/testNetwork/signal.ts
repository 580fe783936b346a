import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"

/**
 * What a poll of the simulation decides: done (an `Exit`), wait until the
 * Clock reaches a time (a number, the next arrival), or wait for any change
 * (`null`).
 *
 * @internal
 */
export type Step<A, E> = Exit.Exit<A, E> | number | null

/**
 * One change notification for the whole simulated network. Every state
 * change bumps the version and wakes every waiter, which then polls again;
 * the version closes the gap between a poll and the registration of its
 * waiter, so no wake-up is ever missed.
 *
 * @internal
 */
export class Signal {
  private version = 0
  private waiters = new Set<() => void>()

  notify(): void {
    this.version++
    const waiting = this.waiters
    this.waiters = new Set()
    for (const wake of waiting) wake()
  }

  private changedSince(version: number): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      if (this.version !== version) {
        resume(Effect.void)
        return
      }
      const wake = () => resume(Effect.void)
      this.waiters.add(wake)
      return Effect.sync(() => {
        this.waiters.delete(wake)
      })
    })
  }

  /**
   * Polls `step` until it is done. Polling (and `acquired`, which registers
   * whatever the step created) is uninterruptible; only the waiting between
   * polls can be interrupted, so nothing a step creates is ever lost.
   */
  await<A, E, R = never>(
    clock: Clock.Clock,
    step: (now: number) => Step<A, E>,
    acquired?: (a: A) => Effect.Effect<void, never, R>
  ): Effect.Effect<A, E, R> {
    return Effect.uninterruptibleMask((restore) => {
      const loop: Effect.Effect<A, E, R> = Effect.suspend(() => {
        const now = clock.unsafeCurrentTimeMillis()
        const version = this.version
        const result = step(now)
        if (Exit.isExit(result)) {
          return acquired === undefined || Exit.isFailure(result)
            ? result
            : Effect.as(acquired(result.value), result.value)
        }
        const changed = this.changedSince(version)
        const wait = result === null
          ? changed
          // Whole milliseconds (arrivals are whole too): a sub-nanosecond
          // sleep would be a zero Duration, waking at once with the Clock
          // standing still, forever.
          : Effect.raceFirst(changed, clock.sleep(Duration.millis(Math.max(1, Math.ceil(result - now)))))
        return Effect.zipRight(restore(wait), loop)
      })
      return loop
    })
  }
}
