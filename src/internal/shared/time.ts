import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * The longest delay a Node timer takes (2^31 - 1 ms, about 24.8 days): a
 * longer one fires after 1 ms, with a `TimeoutOverflowWarning`.
 */
const maxTimerMillis = 2 ** 31 - 1

const neverCancel = (): void => {}

/**
 * Runs `callback` once `duration` has passed on the host's real clock, and
 * returns what cancels it. Delays beyond a Node timer's range are chained
 * timers; an infinite duration sets no timer at all.
 *
 * @internal
 */
export const afterReal = (duration: Duration.Duration, callback: () => void): () => void => {
  if (!Duration.isFinite(duration)) return neverCancel
  let timer: ReturnType<typeof setTimeout>
  const arm = (remaining: number): void => {
    timer = remaining > maxTimerMillis
      ? setTimeout(arm, maxTimerMillis, remaining - maxTimerMillis)
      : setTimeout(callback, remaining)
  }
  arm(Duration.toMillis(duration))
  return () => clearTimeout(timer)
}

/**
 * Sleeps on the host's real clock, whatever `Clock` the fiber has. Real
 * sockets live in real time: under a `TestClock` (the default of
 * `it.effect`) a Clock-driven timeout on a real socket would never fire.
 *
 * @internal
 */
export const sleepReal = (duration: Duration.Duration): Effect.Effect<void> =>
  Duration.isFinite(duration)
    ? Effect.async<void>((resume) => Effect.sync(afterReal(duration, () => resume(Effect.void))))
    : Effect.never

/**
 * Fails with `onTimeout()` when `effect` has not completed within `duration`
 * of real time; `effect` is then interrupted. An infinite duration is no
 * timeout.
 *
 * @internal
 */
export const timeoutFailReal = <A, E, R, E2>(
  effect: Effect.Effect<A, E, R>,
  duration: Duration.Duration,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> =>
  Duration.isFinite(duration)
    ? Effect.raceFirst(effect, Effect.zipRight(sleepReal(duration), Effect.suspend(() => Effect.fail(onTimeout()))))
    : effect

/**
 * Ends when `duration` has passed on the fiber's `Clock` or in real time,
 * whichever comes first: a bound in code that serves both the simulated
 * network (driven by a `TestClock`) and real sockets. Effect's own clock
 * already reads a delay beyond a timer's range as infinite.
 *
 * @internal
 */
export const sleepEitherClock = (duration: Duration.Duration): Effect.Effect<void> =>
  Duration.isFinite(duration) ? Effect.race(Effect.sleep(duration), sleepReal(duration)) : Effect.never

/**
 * Runs `callback` once the handles closed so far in this turn of the event
 * loop are gone. libuv frees a closed handle in the loop's "closing handles"
 * phase, which comes after the "check" phase of `setImmediate`: the second
 * immediate runs after it, so the handle no longer appears in
 * `process.getActiveResourcesInfo()`.
 *
 * @internal
 */
export const afterClosingHandles = (callback: () => void): void => {
  setImmediate(() => setImmediate(callback))
}

/**
 * The clock a backend's timeouts run on: real time for real sockets (see
 * `sleepReal`), the fiber's `Clock` for the simulated network, whose time
 * is that Clock.
 *
 * @internal
 */
export interface TimeoutClock {
  readonly timeoutFail: <A, E, R, E2>(
    effect: Effect.Effect<A, E, R>,
    duration: Duration.Duration,
    onTimeout: () => E2
  ) => Effect.Effect<A, E | E2, R>
}

/** @internal */
export const realTime: TimeoutClock = { timeoutFail: timeoutFailReal }

/** @internal */
export const fiberClock: TimeoutClock = {
  timeoutFail: (effect, duration, onTimeout) => Effect.timeoutFail(effect, { duration, onTimeout })
}
