/**
 * The seed's UDP server: socket → bind → recvfrom → sendto, each step an
 * Effect with a typed error, the socket closed when the scope ends.
 *
 *   npx tsx scratchpad/seed/udp-server.ts [port] [host]    (default 127.0.0.1:12345)
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { Address, NodeNetwork, Udp } from "effect-net"
import type { SocketAddress } from "effect-net/Address"
import { isMain } from "../isMain.js"

const decoder = new TextDecoder()

/** Answers one datagram and returns what it said. */
export const udpServer = (options: {
  readonly host?: string
  readonly port?: number
  readonly onListening?: (address: SocketAddress) => Effect.Effect<void>
}) =>
  Effect.gen(function*() {
    const socket = yield* Udp.bind({ host: options.host ?? "127.0.0.1", port: options.port ?? 12345 })
    if (options.onListening) yield* options.onListening(socket.address)
    yield* Console.log("Waiting for message...")
    const { from, payload } = yield* socket.recv
    const message = decoder.decode(payload)
    yield* Console.log(`Received from ${Address.format(from)}: ${message}`)
    yield* socket.send("Hello, UDP Client!", from)
    return message
  }).pipe(Effect.scoped)

if (isMain(import.meta.url)) {
  const port = Number(process.argv[2] ?? 12345)
  udpServer({ port, host: process.argv[3] }).pipe(Effect.provide(NodeNetwork.layer), NodeRuntime.runMain)
}
