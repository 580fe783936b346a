/**
 * What Proxy.tcp costs without faults: 256 MiB from a client to a server
 * that reads as fast as it can, directly and through a proxy, and a 1-byte
 * round trip both ways. Run it alone (`flock /tmp/bench.lock npx tsx
 * scratchpad/proxy/throughput.ts`): the figures are this machine's.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Fiber, Stream } from "effect"
import type { SocketAddress } from "effect-net/Address"
import { NodeNetwork, Proxy, Tcp } from "effect-net"
import { isMain } from "../isMain.js"

const total = 256 * 1024 * 1024
const block = new Uint8Array(64 * 1024)

const bulk = (target: SocketAddress, listener: Tcp.TcpListener) =>
  Effect.scoped(Effect.gen(function*() {
    const accepting = yield* Effect.fork(listener.accept)
    const client = yield* Tcp.connect({ host: target.host, port: target.port })
    const server = yield* Fiber.join(accepting)
    const started = performance.now()
    const writer = yield* Effect.fork(Stream.repeatValue(block).pipe(
      Stream.take(total / block.length),
      Stream.run(client.sink),
      Effect.zipRight(client.endWrite)
    ))
    yield* Stream.runDrain(server.stream)
    yield* Fiber.join(writer)
    return (total / 1024 / 1024) / ((performance.now() - started) / 1000)
  }))

const roundTrips = (target: SocketAddress, listener: Tcp.TcpListener, count: number) =>
  Effect.scoped(Effect.gen(function*() {
    yield* Effect.forkScoped(Tcp.serve(listener, (conn) => Stream.run(conn.stream, conn.sink), { shutdownTimeout: 0 }))
    const client = yield* Tcp.connect({ host: target.host, port: target.port, noDelay: true })
    const started = performance.now()
    for (let i = 0; i < count; i++) {
      yield* client.send("x")
      yield* client.recv
    }
    return ((performance.now() - started) * 1000) / count
  }))

export const program = Effect.gen(function*() {
  const listener = yield* Tcp.listen({ noDelay: true })
  const proxy = yield* Proxy.tcp({ upstream: listener.address })
  const direct = yield* bulk(listener.address, listener)
  const proxied = yield* bulk(proxy.address, listener)
  yield* Console.log(`bulk 256 MiB: direct ${direct.toFixed(0)} MiB/s, through the proxy ${proxied.toFixed(0)} MiB/s`)
  const echo = yield* Tcp.listen({ noDelay: true })
  const echoProxy = yield* Proxy.tcp({ upstream: echo.address })
  const directRtt = yield* roundTrips(echo.address, echo, 2000)
  const proxiedRtt = yield* roundTrips(echoProxy.address, echo, 2000)
  yield* Console.log(`1-byte round trip: direct ${directRtt.toFixed(0)} µs, through the proxy ${proxiedRtt.toFixed(0)} µs`)
}).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))

if (isMain(import.meta.url)) NodeRuntime.runMain(program)
