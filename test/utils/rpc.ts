/**
 * The RPC group, handlers, server and client the @effect/rpc tests share.
 */
import { SocketServer } from "@effect/platform/SocketServer"
import { Rpc, RpcClient, RpcGroup, RpcSerialization, RpcServer } from "@effect/rpc"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as PlatformSocket from "../../src/PlatformSocket.js"

export class Refused extends Schema.TaggedError<Refused>()("Refused", { why: Schema.String }) {}

export class Api extends RpcGroup.make(
  Rpc.make("Echo", { payload: { text: Schema.String }, success: Schema.String }),
  Rpc.make("Refuse", { payload: { why: Schema.String }, error: Refused }),
  Rpc.make("Count", { payload: { to: Schema.Number }, success: Schema.Number, stream: true }),
  Rpc.make("Ticks", { success: Schema.Number, stream: true }),
  Rpc.make("Hang", {})
) {}

/** Tells the test when the server's `Ticks` stream has been interrupted. */
export class TicksInterrupted extends Context.Tag("test/TicksInterrupted")<TicksInterrupted, Deferred.Deferred<void>>() {}

const handlers = Api.toLayer(Effect.gen(function*() {
  const ticksInterrupted = yield* TicksInterrupted
  return {
    Echo: ({ text }) => Effect.succeed(text),
    Refuse: ({ why }) => Effect.fail(new Refused({ why })),
    Count: ({ to }) => Stream.range(1, to),
    Ticks: () =>
      Stream.iterate(0, (n) => n + 1).pipe(
        Stream.schedule(Schedule.spaced("1 millis")),
        Stream.ensuringWith((exit) => exit._tag === "Failure" ? Deferred.succeed(ticksInterrupted, undefined) : Effect.void)
      ),
    Hang: () => Effect.never
  }
}))

/** Starts the RPC server on `host` (and `port`, default ephemeral) in `scope`; its port. */
export const startServer = (
  serialization: Layer.Layer<RpcSerialization.RpcSerialization>,
  ticksInterrupted: Deferred.Deferred<void>,
  options: { readonly host: string; readonly port?: number },
  scope: Scope.Scope
) =>
  RpcServer.layer(Api).pipe(
    Layer.provide(handlers),
    Layer.provide(RpcServer.layerProtocolSocketServer),
    Layer.provideMerge(PlatformSocket.layerServer({ ...options, shutdownTimeout: "10 millis" })),
    Layer.provide(serialization),
    Layer.provide(Layer.succeed(TicksInterrupted, ticksInterrupted)),
    Layer.buildWithScope(scope),
    Effect.map((context) => {
      const address = Context.get(context, SocketServer).address
      return address._tag === "TcpAddress" ? address.port : -1
    })
  )

export const makeClient = (
  serialization: Layer.Layer<RpcSerialization.RpcSerialization>,
  options: { readonly host: string; readonly port: number; readonly localAddress?: string }
) =>
  Effect.gen(function*() {
    const protocol = yield* Layer.build(RpcClient.layerProtocolSocket().pipe(
      Layer.provide(PlatformSocket.layerNet(options)),
      Layer.provide(serialization)
    ))
    return yield* Effect.provide(RpcClient.make(Api), protocol)
  })


