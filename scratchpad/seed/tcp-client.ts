/**
 * The seed's TCP client: socket → connect → send → recv → close.
 *
 *   npx tsx scratchpad/seed/tcp-client.ts [port] [host]    (default 127.0.0.1:12345)
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Option } from "effect"
import { NodeNetwork, Tcp } from "effect-net"
import { isMain } from "../isMain.js"

const decoder = new TextDecoder()

export const tcpClient = (options: { readonly host?: string; readonly port?: number }) =>
  Effect.gen(function*() {
    const conn = yield* Tcp.connect({ host: options.host ?? "127.0.0.1", port: options.port ?? 12345 })
    yield* conn.send("Hello, Server!")
    const data = yield* conn.recv
    const reply = Option.match(data, { onNone: () => "", onSome: (bytes) => decoder.decode(bytes) })
    yield* Console.log(`Received: ${reply}`)
    return reply
  }).pipe(Effect.scoped)

if (isMain(import.meta.url)) {
  const port = Number(process.argv[2] ?? 12345)
  tcpClient({ port, host: process.argv[3] }).pipe(Effect.provide(NodeNetwork.layer), NodeRuntime.runMain)
}
