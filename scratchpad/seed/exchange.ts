/**
 * Runs one of the seed's servers and its client in one process: the client
 * starts once the server is bound, against the port it was given, and every
 * line either logs says who spoke.
 */
import { Deferred, Effect, Fiber } from "effect"
import type { SocketAddress } from "effect-net/Address"

/** Prefixes every line `effect` logs with `[label]`, so the transcript says who spoke. */
const labelled = (label: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.console, (console) =>
    Effect.withConsole(effect, {
      ...console,
      log: (...args) => console.log(`[${label}]`, ...args),
      unsafe: { ...console.unsafe, log: (...args) => console.unsafe.log(`[${label}]`, ...args) }
    }))

/** Runs a server and, once it is bound, its client against the bound port. */
export const exchange = <E1, E2, R1, R2>(
  server: (onListening: (address: SocketAddress) => Effect.Effect<void>) => Effect.Effect<unknown, E1, R1>,
  client: (port: number) => Effect.Effect<unknown, E2, R2>
) =>
  Effect.gen(function*() {
    const bound = yield* Deferred.make<SocketAddress>()
    const serverFiber = yield* Effect.fork(
      labelled("server")(server((address) => Deferred.succeed(bound, address))
      )
    )
    const address = yield* Deferred.await(bound)
    yield* labelled("client")(client(address.port))
    yield* Fiber.join(serverFiber)
  })
