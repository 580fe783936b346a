/**
 * The main demo: the seed's TCP and UDP exchanges, server and client in one
 * process on ephemeral loopback ports, with a transcript of each step.
 *
 *   npm run demo
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { NodeNetwork } from "effect-net"
import { exchange } from "./seed/exchange.js"
import { tcpClient } from "./seed/tcp-client.js"
import { tcpServer } from "./seed/tcp-server.js"
import { udpClient } from "./seed/udp-client.js"
import { udpServer } from "./seed/udp-server.js"

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
