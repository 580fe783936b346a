/**
 * A chat board over TCP: clients post messages to rooms and read a room's
 * history. Requests and responses are typed (see protocol.ts) and framed as
 * JSON lines; a client may pipeline requests and gets the responses in order.
 *
 *   npx tsx scratchpad/chat/server.ts [port] [host]    (default 127.0.0.1:7007)
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, HashMap, Option, Ref, Stream } from "effect"
import * as Address from "effect-net/Address"
import * as NodeNetwork from "effect-net/NodeNetwork"
import * as Tcp from "effect-net/Tcp"
import { isMain } from "../isMain.js"
import type { Message, Request, Response } from "./protocol.js"
import { requests, responses } from "./protocol.js"

interface Board {
  readonly nextId: number
  readonly rooms: HashMap.HashMap<string, ReadonlyArray<Message>>
}

const handle = (board: Ref.Ref<Board>, request: Request): Effect.Effect<Response> => {
  switch (request._tag) {
    case "Post":
      return Ref.modify(board, ({ nextId, rooms }): [Response, Board] => {
        const message = { id: nextId, author: request.author, text: request.text }
        const history = Option.getOrElse(HashMap.get(rooms, request.room), (): ReadonlyArray<Message> => [])
        const next = { nextId: nextId + 1, rooms: HashMap.set(rooms, request.room, [...history, message]) }
        return [{ _tag: "Posted", id: nextId }, next]
      })
    case "History":
      return Effect.map(Ref.get(board), ({ rooms }): Response => ({
        _tag: "Messages",
        room: request.room,
        messages: Option.getOrElse(HashMap.get(rooms, request.room), () => [])
      }))
  }
}

/**
 * Listens and serves in the background of the scope; returns the address
 * it listens on (port 0 picks a free one).
 */
export const chatServer = (options: { readonly host?: string; readonly port?: number }) =>
  Effect.gen(function*() {
    const listener = yield* Tcp.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 7007 })
    const board = yield* Ref.make<Board>({ nextId: 1, rooms: HashMap.empty() })
    yield* Tcp.serve(listener, (conn) =>
      requests.decode(conn.stream).pipe(
        Stream.mapEffect((request) => handle(board, request)),
        // A request that is too long or not a request gets a typed answer,
        // then the server hangs up: after a framing error the byte stream
        // cannot be trusted to be at a message boundary.
        Stream.catchTag("FrameError", (error) => Stream.succeed<Response>({ _tag: "Rejected", reason: error.message })),
        Stream.map(responses.encode),
        Stream.run(conn.sink)
      )).pipe(Effect.forkScoped)
    return listener.address
  })

if (isMain(import.meta.url)) {
  const port = Number(process.argv[2] ?? 7007)
  chatServer({ port, host: process.argv[3] }).pipe(
    Effect.flatMap((address) => Console.log(`chat board listening on ${Address.format(address)}`)),
    Effect.zipRight(Effect.never),
    Effect.scoped,
    Effect.provide(NodeNetwork.layer),
    NodeRuntime.runMain
  )
}
