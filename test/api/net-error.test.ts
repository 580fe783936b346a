/**
 * The error model: every error class carries the TypeId, `isNetError` tells
 * them apart from other values, and the `NetError.NetError` union survives
 * Schema and an @effect/rpc call intact, `cause` included.
 */
import { Rpc, RpcClient, RpcGroup, RpcSerialization, RpcServer } from "@effect/rpc"
import { SocketServer } from "@effect/platform/SocketServer"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { NetError, PlatformSocket, TestNetwork } from "effect-net"
import { checkNoSocketLeaks } from "../utils/handles.js"

checkNoSocketLeaks()

const systemCause = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), {
  code: "ECONNREFUSED",
  syscall: "connect"
})

const details = { message: "what failed, and where", address: "127.0.0.1:9", code: "ECONNREFUSED", syscall: "connect" }

/** One of each error class, each with a cause. */
const samples: ReadonlyArray<NetError.NetError> = [
  new NetError.AddressError({ reason: "InvalidPort", ...details, cause: systemCause }),
  new NetError.BindError({ reason: "AddressInUse", ...details, cause: systemCause }),
  new NetError.AcceptError({ reason: "Closed", ...details, cause: systemCause }),
  new NetError.ConnectError({ reason: "ConnectionRefused", ...details, cause: systemCause }),
  new NetError.ReadError({ reason: "ConnectionReset", ...details, cause: systemCause }),
  new NetError.WriteError({ reason: "BrokenPipe", ...details, cause: systemCause }),
  new NetError.SendError({ reason: "MessageTooLarge", ...details, cause: systemCause }),
  new NetError.ReceiveError({ reason: "Closed", ...details, cause: systemCause }),
  new NetError.MulticastError({ reason: "InvalidGroup", ...details, cause: systemCause }),
  new NetError.FrameError({ reason: "FrameTooLarge", message: "frame over 1024 bytes", cause: systemCause })
]

/** What must survive a round trip: every field, and the cause's message. */
const essence = (error: NetError.NetError) => {
  const { cause, ...fields } = error
  return { ...fields, cause: cause instanceof Error ? cause.message : cause }
}

describe("NetError", () => {
  it("has one sample per class of the union, each a NetError by its TypeId", () => {
    expect(new Set(samples.map((error) => error._tag)).size).toBe(NetError.NetError.members.length)
    for (const error of samples) {
      expect(NetError.isNetError(error)).toBe(true)
      expect(error[NetError.TypeId]).toBe(NetError.TypeId)
    }
  })

  it("isNetError is false for other errors and values, even look-alikes", () => {
    const lookAlike = { _tag: "ConnectError", reason: "ConnectionRefused", message: "not ours" }
    for (const value of [lookAlike, new Error("plain"), null, undefined, "ConnectError", 42]) {
      expect(NetError.isNetError(value)).toBe(false)
    }
  })

  it("every class round-trips through the NetError schema and JSON, with its cause", () => {
    const encode = Schema.encodeSync(NetError.NetError)
    const decode = Schema.decodeUnknownSync(NetError.NetError)
    for (const error of samples) {
      const decoded = decode(JSON.parse(JSON.stringify(encode(error))))
      expect(decoded.constructor).toBe(error.constructor)
      expect(NetError.isNetError(decoded)).toBe(true)
      expect(essence(decoded)).toEqual(essence(error))
    }
  })

  it("the schema refuses what is not one of its errors", () => {
    const decode = Schema.decodeUnknownEither(NetError.NetError)
    expect(decode({ _tag: "ConnectError", reason: "NoSuchReason", message: "m" })._tag).toBe("Left")
    expect(decode({ _tag: "Nope", message: "m" })._tag).toBe("Left")
  })

  class Api extends RpcGroup.make(
    Rpc.make("Fail", { payload: { index: Schema.Number }, error: NetError.NetError })
  ) {}

  const handlers = Api.toLayer({ Fail: ({ index }) => Effect.fail(samples[index]) })

  it.live("every class crosses an @effect/rpc call (ndjson, over effect-net on TestNetwork) as itself", () =>
    Effect.gen(function*() {
      const server = yield* Layer.build(
        RpcServer.layer(Api).pipe(
          Layer.provide(handlers),
          Layer.provide(RpcServer.layerProtocolSocketServer),
          Layer.provideMerge(PlatformSocket.layerServer({ host: "127.0.0.2", shutdownTimeout: "10 millis" })),
          Layer.provide(RpcSerialization.layerNdjson)
        )
      )
      const address = Context.get(server, SocketServer).address
      const port = address._tag === "TcpAddress" ? address.port : -1
      const protocol = yield* Layer.build(RpcClient.layerProtocolSocket().pipe(
        Layer.provide(PlatformSocket.layerNet({ host: "127.0.0.2", port, localAddress: "127.0.0.3" })),
        Layer.provide(RpcSerialization.layerNdjson)
      ))
      const client = yield* Effect.provide(RpcClient.make(Api), protocol)
      for (let index = 0; index < samples.length; index++) {
        const error = yield* Effect.flip(client.Fail({ index }))
        expect(error.constructor).toBe(samples[index].constructor)
        expect(NetError.isNetError(error)).toBe(true)
        expect(essence(error as NetError.NetError)).toEqual(essence(samples[index]))
      }
    }).pipe(Effect.scoped, Effect.provide(TestNetwork.layer({ seed: 7 })), Effect.timeout("20 seconds")))
})
