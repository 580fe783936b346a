import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as Layer from "effect/Layer"

/**
 * @effect/rpc's ndjson with the incoming bytes decoded as one UTF-8 stream.
 * Its own parser (0.76) decodes every chunk on its own, which garbles a
 * character whose bytes a packet boundary splits (found with TestNetwork's
 * `sliceBytes`); its `decode` also takes strings, so decoding in front of it
 * is all it takes.
 *
 * @internal
 */
export const layerNdjson = (options?: RpcSerialization.StreamOptions): Layer.Layer<RpcSerialization.RpcSerialization> => {
  const ndjson = RpcSerialization.makeNdjson(options)
  return Layer.succeed(RpcSerialization.RpcSerialization, {
    ...ndjson,
    unsafeMake: () => {
      const parser = ndjson.unsafeMake()
      const decoder = new TextDecoder()
      return {
        decode: (data) => parser.decode(typeof data === "string" ? data : decoder.decode(data, { stream: true })),
        encode: (message) => parser.encode(message)
      }
    }
  })
}
