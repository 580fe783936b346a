import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * Sleeps on the host's real clock, whatever `Clock` the fiber has. Real
 * sockets live in real time: under a `TestClock` (the default of
 * `it.effect`) a Clock-driven timeout on a real socket would never fire.
 *
 * @internal
 */
export const sleepReal = (duration: Duration.Duration): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), Duration.toMillis(duration))
    return Effect.sync(() => clearTimeout(timer))
  })

/**
 * Fails with `onTimeout()` when `effect` has not completed within `duration`
 * of real time; `effect` is then interrupted.
 *
 * @internal
 */
export const timeoutFailReal = <A, E, R, E2>(
  effect: Effect.Effect<A, E, R>,
  duration: Duration.Duration,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> =>
  Effect.raceFirst(effect, Effect.zipRight(sleepReal(duration), Effect.suspend(() => Effect.fail(onTimeout()))))

/**
 * Ends when `duration` has passed on the fiber's `Clock` or in real time,
 * whichever comes first: a bound in code that serves both the simulated
 * network (driven by a `TestClock`) and real sockets.
 *
 * @internal
 */
export const sleepEitherClock = (duration: Duration.Duration): Effect.Effect<void> =>
  Effect.race(Effect.sleep(duration), sleepReal(duration))
