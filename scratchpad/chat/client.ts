/**
 * The chat board's client: posts a message to a room and prints the room's
 * history. The two requests are pipelined on one connection; the responses
 * come back in order.
 *
 *   npx tsx scratchpad/chat/client.ts [port] [host] [room] [author] [text]
 *   (default 127.0.0.1:7007, room "lobby")
 */
import { NodeRuntime } from "@effect/platform-node"
import { Chunk, Console, Effect, Stream } from "effect"
import * as NodeNetwork from "effect-net/NodeNetwork"
import * as Tcp from "effect-net/Tcp"
import { isMain } from "../isMain.js"
import type { Request, Response } from "./protocol.js"
import { requests, responses } from "./protocol.js"

/**
 * Sends `batch` on one connection, half-closes, and returns every response
 * until the server hangs up.
 */
export const call = (options: { readonly host?: string; readonly port?: number }, batch: ReadonlyArray<Request>) =>
  Effect.gen(function*() {
    const conn = yield* Tcp.connect({ host: options.host ?? "127.0.0.1", port: options.port ?? 7007 })
    for (const request of batch) yield* conn.send(requests.encode(request))
    yield* conn.endWrite
    return Chunk.toReadonlyArray(yield* Stream.runCollect(responses.decode(conn.stream)))
  }).pipe(Effect.scoped)

export const chatClient = (options: {
  readonly host?: string
  readonly port?: number
  readonly room: string
  readonly author: string
  readonly text: string
}) =>
  Effect.gen(function*() {
    const replies: ReadonlyArray<Response> = yield* call(options, [
      { _tag: "Post", room: options.room, author: options.author, text: options.text },
      { _tag: "History", room: options.room }
    ])
    for (const reply of replies) {
      if (reply._tag === "Messages") {
        for (const message of reply.messages) yield* Console.log(`#${message.id} <${message.author}> ${message.text}`)
      }
    }
    return replies
  })

if (isMain(import.meta.url)) {
  const [port, host, room, author, ...words] = process.argv.slice(2)
  chatClient({
    port: Number(port ?? 7007),
    host,
    room: room ?? "lobby",
    author: author ?? "anonymous",
    text: words.length > 0 ? words.join(" ") : "hello"
  }).pipe(Effect.provide(NodeNetwork.layer), NodeRuntime.runMain)
}
