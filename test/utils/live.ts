import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Network } from "../../src/Network.js"
import * as NodeNetwork from "../../src/NodeNetwork.js"

/** Runs a test program on real sockets (NodeNetwork), in its own scope. */
export const live = <A, E>(effect: Effect.Effect<A, E, Network | Scope.Scope>): Effect.Effect<A, E> =>
  effect.pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
