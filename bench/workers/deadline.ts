/** The bound on every Effect-written benchmark operation (the effect-net and platform-node children). */
import * as Effect from "effect/Effect"

/** Fails `effect` with an Error naming `what` when it has not finished within `deadlineMs`. */
export const deadline = <A, E, R>(deadlineMs: number, what: string, effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(effect, { duration: deadlineMs, onTimeout: () => new Error(`${what}: deadline of ${deadlineMs} ms passed`) })
