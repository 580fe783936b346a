/**
 * The main demo: the seed's TCP and UDP exchanges, server and client in one
 * process on ephemeral loopback ports, with a transcript of each step.
 *
 *   npm run demo
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Deferred, Effect, Fiber } from "effect"
import type { SocketAddress } from "effect-net/Address"
import { NodeNetwork } from "effect-net"
import { tcpClient } from "./seed/tcp-client.js"
import { tcpServer } from "./seed/tcp-server.js"
import { udpClient } from "./seed/udp-client.js"
import { udpServer } from "./seed/udp-server.js"

/** Prefixes every line `effect` logs with `[label]`, so the transcript says who spoke. */
const labelled = (label: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.console, (console) =>
    Effect.withConsole(effect, {
      ...console,
      log: (...args) => console.log(`[${label}]`, ...args),
      unsafe: { ...console.unsafe, log: (...args) => console.unsafe.log(`[${label}]`, ...args) }
    }))

/** Runs a server and, once it is bound, its client against the bound port. */
const exchange = <E1, E2, R1, R2>(
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

const demo = Effect.gen(function*() {
  yield* Console.log("TCP: socket → bind → listen → accept → recv/send → close")
  yield* exchange(
    (onListening) => tcpServer({ port: 0, onListening }),
    (port) => tcpClient({ port })
  )
  yield* Console.log("")
  yield* Console.log("UDP: socket → bind → recvfrom/sendto → close")
  yield* exchange(
    (onListening) => udpServer({ port: 0, onListening }),
    (port) => udpClient({ port })
  )
})

demo.pipe(Effect.provide(NodeNetwork.layer), NodeRuntime.runMain)
