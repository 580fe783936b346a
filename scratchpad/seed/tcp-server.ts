/**
 * The seed's TCP server: socket → bind → listen → accept → recv → send →
 * close, each step an Effect with a typed error, every socket closed when
 * the scope ends.
 *
 *   npx tsx scratchpad/seed/tcp-server.ts [port] [host]    (default 127.0.0.1:12345)
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Option } from "effect"
import { Address, NodeNetwork, Tcp } from "effect-net"
import type { SocketAddress } from "effect-net/Address"
import { isMain } from "../isMain.js"

const decoder = new TextDecoder()

export const tcpServer = (options: {
  readonly host?: string
  readonly port?: number
  readonly onListening?: (address: SocketAddress) => Effect.Effect<void>
}) =>
  Effect.gen(function*() {
    const listener = yield* Tcp.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 12345, backlog: 5 })
    if (options.onListening) yield* options.onListening(listener.address)
    yield* Console.log("Waiting for connection...")
    const conn = yield* listener.accept
    yield* Console.log(`Connected by ${Address.format(conn.remoteAddress)}`)
    const data = yield* conn.recv
    yield* Console.log(`Received: ${Option.match(data, { onNone: () => "", onSome: (bytes) => decoder.decode(bytes) })}`)
    yield* conn.send("Hello, Client!")
  }).pipe(Effect.scoped)

if (isMain(import.meta.url)) {
  const port = Number(process.argv[2] ?? 12345)
  tcpServer({ port, host: process.argv[3] }).pipe(Effect.provide(NodeNetwork.layer), NodeRuntime.runMain)
}
