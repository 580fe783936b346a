/**
 * An echo server behind Proxy.tcp, and a client that measures what the
 * faults do: round-trip time under latency, how many reads a sliced reply
 * takes, and the reset after a byte budget. Real sockets, real time.
 *
 *   npx tsx scratchpad/proxy/flaky-echo.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Stream } from "effect"
import { NodeNetwork, Proxy, Tcp } from "effect-net"
import { isMain } from "../isMain.js"

const echoServer = Effect.gen(function*() {
  const listener = yield* Tcp.listen()
  yield* Effect.forkScoped(Tcp.serve(listener, (conn) => Effect.zipRight(Stream.run(conn.stream, conn.sink), conn.endWrite)))
  return listener.address
})

/** Sends `message`, half-closes, and counts the reads and bytes of the reply. */
const exchange = (proxy: Proxy.TcpProxy, message: string) =>
  Effect.scoped(Effect.gen(function*() {
    const conn = yield* Tcp.connect({ host: proxy.address.host, port: proxy.address.port })
    const started = performance.now()
    yield* conn.send(message)
    yield* conn.endWrite
    let reads = 0
    let bytes = 0
    const outcome = yield* Stream.runForEach(conn.stream, (chunk) =>
      Effect.sync(() => {
        reads++
        bytes += chunk.length
      })).pipe(Effect.either)
    return { millis: Math.round(performance.now() - started), reads, bytes, failed: outcome._tag === "Left" ? outcome.left.reason : "no" }
  }))

export const program = Effect.gen(function*() {
  const upstream = yield* echoServer
  const proxy = yield* Proxy.tcp({ upstream, seed: 1 })

  yield* proxy.setFaults({ latency: "100 millis", jitter: "20 millis" })
  yield* Console.log("latency 100 ms ± 20 ms:", yield* exchange(proxy, "ping"))

  yield* proxy.setFaults({}) // a perfect link again, both ways
  yield* proxy.setFaults({ sliceBytes: 1 }, "downstream")
  yield* Console.log("downstream sliced to 1 byte:", yield* exchange(proxy, "twelve bytes"))

  yield* proxy.setFaults({ resetAfterBytes: 5 }, "downstream")
  yield* Console.log("reset after 5 bytes back:", yield* exchange(proxy, "more than five"))

  yield* Console.log("stats:", yield* proxy.stats)
}).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))

if (isMain(import.meta.url)) NodeRuntime.runMain(program)
