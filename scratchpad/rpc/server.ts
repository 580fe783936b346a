/**
 * An @effect/rpc server over effect-net: the `Calculator` handlers, the
 * socket protocol of @effect/rpc, and effect-net's `SocketServer` underneath.
 *
 *   npx tsx scratchpad/rpc/server.ts [port] [host]    (default 127.0.0.1:7008)
 *
 * then, in a second terminal, `npx tsx scratchpad/rpc/client.ts`.
 */
import { NodeRuntime } from "@effect/platform-node"
import { SocketServer } from "@effect/platform/SocketServer"
import { RpcSerialization, RpcServer } from "@effect/rpc"
import { Effect, Layer, Schedule, Stream } from "effect"
import * as NodeNetwork from "effect-net/NodeNetwork"
import * as PlatformSocket from "effect-net/PlatformSocket"
import { isMain } from "../isMain.js"
import { Calculator, defaultPort, DivisionByZero } from "./api.js"

const CalculatorHandlers = Calculator.toLayer({
  Greet: ({ name }) => Effect.succeed(`Hello, ${name}!`),
  Divide: ({ dividend, divisor }) =>
    divisor === 0 ? Effect.fail(new DivisionByZero({ dividend })) : Effect.succeed(dividend / divisor),
  // One number every 100 ms, so that a stream visibly streams.
  Countdown: ({ from }) => Stream.iterate(from, (n) => n - 1).pipe(Stream.take(from + 1), Stream.schedule(Schedule.spaced("100 millis")))
})

/**
 * The whole server as a layer: it listens when built and stops when its
 * scope closes. The `SocketServer` is in its output, so a caller can read
 * the bound port (`port: 0` picks a free one).
 */
export const CalculatorServer = (options: { readonly host?: string; readonly port?: number }) =>
  RpcServer.layer(Calculator).pipe(
    Layer.provide(CalculatorHandlers),
    Layer.provide(RpcServer.layerProtocolSocketServer),
    Layer.provideMerge(PlatformSocket.layerServer({ host: options.host ?? "127.0.0.1", port: options.port ?? defaultPort })),
    Layer.provide(RpcSerialization.layerMsgPack)
  )

if (isMain(import.meta.url)) {
  const port = Number(process.argv[2] ?? defaultPort)
  Effect.gen(function*() {
    const server = yield* SocketServer
    if (server.address._tag === "TcpAddress") {
      yield* Effect.log(`Calculator listening on ${server.address.hostname}:${server.address.port}`)
    }
    return yield* Effect.never
  }).pipe(
    Effect.provide(CalculatorServer({ port, host: process.argv[3] })),
    Effect.provide(NodeNetwork.layer),
    NodeRuntime.runMain
  )
}
