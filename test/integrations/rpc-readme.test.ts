/**
 * The README's example "RPC under a partition, on TestNetwork", verbatim
 * below the imports it shares with the file's leak check.
 */
import { checkNoSocketLeaks } from "../utils/handles.js"
import { SocketServer } from "@effect/platform/SocketServer"
import { Rpc, RpcClient, RpcGroup, RpcSerialization, RpcServer } from "@effect/rpc"
import { expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Schema } from "effect"
import { PlatformSocket, TestNetwork } from "effect-net"

checkNoSocketLeaks()

class Api extends RpcGroup.make(Rpc.make("Echo", { payload: { text: Schema.String }, success: Schema.String })) {}

const Server = RpcServer.layer(Api).pipe(
  Layer.provide(Api.toLayer({ Echo: ({ text }) => Effect.succeed(text) })),
  Layer.provide(RpcServer.layerProtocolSocketServer),
  Layer.provideMerge(PlatformSocket.layerServer({ host: "127.0.0.2" })), // an ephemeral port
  Layer.provide(RpcSerialization.layerMsgPack)
)

const Client = (port: number) =>
  RpcClient.layerProtocolSocket().pipe(
    Layer.provide(PlatformSocket.layerNet({ host: "127.0.0.2", port, localAddress: "127.0.0.3" })),
    Layer.provide(RpcSerialization.layerMsgPack)
  )

it.live("a call under a partition times out; after heal the same client gets through", () =>
  Effect.gen(function*() {
    const { address } = Context.get(yield* Layer.build(Server), SocketServer)
    const port = address._tag === "TcpAddress" ? address.port : 0
    const client = yield* RpcClient.make(Api).pipe(Effect.provide(yield* Layer.build(Client(port))))
    expect(yield* client.Echo({ text: "up" })).toBe("up")

    yield* TestNetwork.partition("127.0.0.3", "127.0.0.2")
    const cut = yield* Effect.flip(client.Echo({ text: "cut off" }).pipe(Effect.timeout("100 millis")))
    expect(cut._tag).toBe("TimeoutException")

    yield* TestNetwork.heal("127.0.0.3", "127.0.0.2")
    expect(yield* client.Echo({ text: "healed" })).toBe("healed")
  }).pipe(Effect.scoped, Effect.provide(TestNetwork.layer())))
