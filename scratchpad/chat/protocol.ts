/**
 * The chat board's protocol: typed requests and responses, one JSON document
 * per line (`Framing.schema` over `Framing.lines`). Both ends import it, so
 * a request the server cannot read is a type error at the client.
 */
import { Schema } from "effect"
import * as Framing from "effect-net/Framing"

export const Message = Schema.Struct({
  id: Schema.Int,
  author: Schema.String,
  text: Schema.String
})
export type Message = typeof Message.Type

export const Request = Schema.Union(
  Schema.TaggedStruct("Post", { room: Schema.String, author: Schema.String, text: Schema.String }),
  Schema.TaggedStruct("History", { room: Schema.String })
)
export type Request = typeof Request.Type

export const Response = Schema.Union(
  Schema.TaggedStruct("Posted", { id: Schema.Int }),
  Schema.TaggedStruct("Messages", { room: Schema.String, messages: Schema.Array(Message) }),
  // The server's answer to bytes it could not read, before it hangs up.
  Schema.TaggedStruct("Rejected", { reason: Schema.String })
)
export type Response = typeof Response.Type

// Strangers talk to the server: a request line is at most 64 KiB. Responses
// carry a room's history, so the client accepts the default 1 MiB.
export const requests = Framing.schema(Request, Framing.lines({ maxLength: 65_536 }))
export const responses = Framing.schema(Response)
