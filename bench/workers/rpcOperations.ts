/**
 * @effect/rpc unary ping-pong, the same program on any transport: a server
 * (`RpcServer.layerProtocolSocketServer` on a `SocketServer`) and a client
 * (`RpcClient.layerProtocolSocket` on a `Socket`), msgpack, one connection
 * shared by every caller, as an @effect/rpc client uses it. Only the two
 * transport layers differ between implementations.
 */
import type * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as RpcServer from "@effect/rpc/RpcServer"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type { Figures, Listening, RpcPingArgs } from "./protocol.js"
import { now } from "./protocol.js"

class PingApi extends RpcGroup.make(
  Rpc.make("Ping", { payload: { n: Schema.Number }, success: Schema.Number })
) {}

const handlers = PingApi.toLayer({ Ping: ({ n }) => Effect.succeed(n) })

export interface Transport {
  /** A socket server on 127.0.0.1, an ephemeral port. */
  readonly server: Layer.Layer<SocketServer.SocketServer, SocketServer.SocketServerError>
  /** A socket to 127.0.0.1:port. */
  readonly client: (port: number) => Layer.Layer<Socket.Socket>
}

export const rpcOperations = (transport: Transport): {
  readonly rpcServer: () => Promise<Listening>
  readonly rpcPingClient: (args: RpcPingArgs) => Promise<Figures>
} => ({
  rpcServer: () =>
    new Promise((resolve, reject) => {
      const server = RpcServer.layer(PingApi).pipe(
        Layer.provide([handlers, RpcServer.layerProtocolSocketServer]),
        Layer.provideMerge(transport.server),
        Layer.provide(RpcSerialization.layerMsgPack)
      )
      Effect.runFork(Effect.scoped(Effect.gen(function*() {
        const context = yield* Layer.build(server)
        const { address } = Context.get(context, SocketServer.SocketServer)
        resolve({ port: address._tag === "TcpAddress" ? address.port : 0 })
        return yield* Effect.never
      }))).addObserver((exit) => reject(new Error(`rpc server ended: ${String(exit)}`)))
    }),
  rpcPingClient: ({ callers, calls, deadlineMs, port }) =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const client = yield* RpcClient.make(PingApi).pipe(
        Effect.provide(yield* Layer.build(RpcClient.layerProtocolSocket().pipe(
          Layer.provide([transport.client(port), RpcSerialization.layerMsgPack])
        )))
      )
      const perCaller = Math.max(1, Math.floor(calls / callers))
      const start = now()
      yield* Effect.forEach(
        Array.from({ length: callers }),
        () =>
          Effect.gen(function*() {
            for (let n = 0; n < perCaller; n++) {
              if ((yield* client.Ping({ n })) !== n) return yield* Effect.dieMessage("wrong reply")
            }
          }),
        { concurrency: "unbounded", discard: true }
      ).pipe(Effect.timeoutFail({ duration: deadlineMs, onTimeout: () => new Error(`deadline of ${deadlineMs} ms passed`) }))
      return { seconds: (now() - start) / 1000, calls: perCaller * callers }
    })))
})
