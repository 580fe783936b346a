/**
 * An @effect/rpc client over effect-net, calling the server of server.ts:
 * a unary call, a call that fails with a typed error, and a stream.
 *
 *   npx tsx scratchpad/rpc/client.ts [port] [host]    (default 127.0.0.1:7008)
 *
 * If the server is not up yet, or restarts, the client reconnects by itself
 * (every connection attempt is a new `run` of effect-net's Socket); a call
 * made meanwhile fails with `RpcClientError`, hence the timeout below.
 */
import { NodeRuntime } from "@effect/platform-node"
import { RpcClient, RpcSerialization } from "@effect/rpc"
import { Console, Effect, Layer, Stream } from "effect"
import * as NodeNetwork from "effect-net/NodeNetwork"
import * as PlatformSocket from "effect-net/PlatformSocket"
import { isMain } from "../isMain.js"
import { Calculator, defaultPort } from "./api.js"

/** The client side of @effect/rpc's socket protocol, on an effect-net connection. */
export const CalculatorProtocol = (options: { readonly host?: string; readonly port?: number }) =>
  RpcClient.layerProtocolSocket().pipe(
    Layer.provide(PlatformSocket.layerNet({
      host: options.host ?? "127.0.0.1",
      port: options.port ?? defaultPort,
      timeout: "2 seconds"
    })),
    Layer.provide(RpcSerialization.layerMsgPack)
  )

/** What the example does with a client; returns what it printed. */
export const session = Effect.gen(function*() {
  const client = yield* RpcClient.make(Calculator)
  const lines: Array<string> = []
  const say = (line: string) => Effect.zipRight(Console.log(line), Effect.sync(() => lines.push(line)))

  yield* say(yield* client.Greet({ name: "newcomer" }))
  yield* say(`7 / 2 = ${yield* client.Divide({ dividend: 7, divisor: 2 })}`)
  // The typed error arrives as the call's failure, with its fields.
  const failed = yield* Effect.flip(client.Divide({ dividend: 1, divisor: 0 }))
  yield* say(failed._tag === "DivisionByZero" ? `1 / 0: ${failed._tag} (dividend ${failed.dividend})` : String(failed))
  yield* client.Countdown({ from: 3 }).pipe(Stream.runForEach((n) => say(`countdown ${n}`)))
  return lines
}).pipe(Effect.timeout("10 seconds"))

if (isMain(import.meta.url)) {
  const port = Number(process.argv[2] ?? defaultPort)
  session.pipe(
    Effect.scoped,
    Effect.provide(CalculatorProtocol({ port, host: process.argv[3] })),
    Effect.provide(NodeNetwork.layer),
    NodeRuntime.runMain
  )
}
