/**
 * The seed's UDP client: socket → sendto → recvfrom → close. UDP promises
 * nothing, so unlike the seed's client it gives up after `timeout` instead
 * of waiting forever for a reply that may have been lost.
 *
 *   npx tsx scratchpad/seed/udp-client.ts [port] [host]    (default 127.0.0.1:12345)
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Option } from "effect"
import type { Duration } from "effect"
import { NodeNetwork, Udp } from "effect-net"
import { isMain } from "../isMain.js"

const decoder = new TextDecoder()

/** Sends one datagram, returns the reply (`undefined` when none came in time). */
export const udpClient = (options: {
  readonly host?: string
  readonly port?: number
  readonly timeout?: Duration.DurationInput
}) =>
  Effect.gen(function*() {
    const host = options.host ?? "127.0.0.1"
    // Bind in the server's family: an IPv6 server needs an IPv6 socket.
    const socket = yield* Udp.bind(host.includes(":") ? { family: "IPv6" } : {})
    yield* socket.send("Hello, UDP Server!", { host, port: options.port ?? 12345 })
    const received = yield* socket.recvWithin(options.timeout ?? "5 seconds")
    if (Option.isNone(received)) {
      yield* Console.log("No reply")
      return undefined
    }
    const reply = decoder.decode(received.value.payload)
    yield* Console.log(`Received: ${reply}`)
    return reply
  }).pipe(Effect.scoped)

if (isMain(import.meta.url)) {
  const port = Number(process.argv[2] ?? 12345)
  udpClient({ port, host: process.argv[3] }).pipe(Effect.provide(NodeNetwork.layer), NodeRuntime.runMain)
}
