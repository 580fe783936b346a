import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Fiber, Stream } from "effect"
import { call, chatClient } from "../scratchpad/chat/client.js"
import { responses } from "../scratchpad/chat/protocol.js"
import { chatServer } from "../scratchpad/chat/server.js"
import * as Framing from "../src/Framing.js"
import * as NodeNetwork from "../src/NodeNetwork.js"
import * as Tcp from "../src/Tcp.js"
import { concatBytes } from "./utils/bytes.js"
import { checkNoSocketLeaks } from "./utils/handles.js"

checkNoSocketLeaks()

/**
 * A listener, a connection to it and the accepted side of that connection,
 * all closed when the scope ends.
 */
const connectedPair = Effect.gen(function*() {
  const listener = yield* Tcp.listen({ port: 0 })
  const accepting = yield* Effect.fork(listener.accept)
  const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
  const server = yield* Fiber.join(accepting)
  return { client, server }
})

describe("Framing over real TCP", () => {
  it.live("lines sent in odd-sized pieces arrive as the same lines", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connectedPair
      const framing = Framing.lines()
      const messages = Array.from({ length: 2000 }, (_, i) => `message ${i} ${"é".repeat(i % 7)}`)
      const data = concatBytes(messages.map(framing.encode))
      // 7-byte pieces split lines and multi-byte characters across sends.
      for (let offset = 0; offset < data.length; offset += 7) yield* client.send(data.subarray(offset, offset + 7))
      yield* client.endWrite
      const received = yield* Stream.runCollect(framing.decode(server.stream))
      expect(Chunk.toReadonlyArray(received)).toEqual(messages)
    }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)))

  it.live("a 4 MiB length-prefixed frame arrives in many chunks and decodes as one", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connectedPair
      const framing = Framing.lengthPrefixed({ maxFrameLength: 4 * 1024 * 1024 })
      const big = new Uint8Array(4 * 1024 * 1024).map((_, i) => i % 251)
      const messages = [new Uint8Array([1, 2, 3]), big, new Uint8Array(0)]
      const sending = yield* Effect.fork(
        Effect.forEach(messages, (message) => client.send(framing.encode(message))).pipe(
          Effect.zipRight(client.endWrite)
        )
      )
      const received = Chunk.toReadonlyArray(yield* Stream.runCollect(framing.decode(server.stream)))
      yield* Fiber.join(sending)
      expect(received.length).toBe(3)
      expect(received[0]).toEqual(messages[0])
      expect(Buffer.compare(received[1]!, big)).toBe(0)
      expect(received[2]!.length).toBe(0)
    }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)))

  it.live("a peer sending an endless line gets FrameTooLarge, not unbounded buffering", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connectedPair
      const piece = new Uint8Array(16 * 1024).fill(0x61)
      // The sender may see its writes fail once the receiver gives up: that is expected.
      yield* Effect.forkScoped(Effect.either(Effect.repeatN(client.send(piece), 63)))
      const result = yield* Effect.either(Stream.runDrain(Framing.lines({ maxLength: 1024 }).decode(server.stream)))
      expect(Either.isLeft(result) && result.left._tag === "FrameError" && result.left.reason).toBe("FrameTooLarge")
    }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)))

  it.live("a peer that ends its side mid-frame gives TruncatedFrame after the whole frames", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connectedPair
      yield* client.send("whole\npart")
      yield* client.endWrite
      const messages: Array<string> = []
      const result = yield* Framing.lines().decode(server.stream).pipe(
        Stream.runForEach((line) => Effect.sync(() => messages.push(line))),
        Effect.either
      )
      expect(messages).toEqual(["whole"])
      expect(Either.isLeft(result) && result.left._tag === "FrameError" && result.left.reason).toBe("TruncatedFrame")
    }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)))
})

describe("scratchpad/chat (Framing.schema over TCP)", () => {
  it.live("posts and reads back a room's history, with pipelined requests", () =>
    Effect.gen(function*() {
      const address = yield* chatServer({ port: 0 })
      const first = yield* chatClient({ port: address.port, room: "lobby", author: "ada", text: "hello" })
      expect(first).toEqual([
        { _tag: "Posted", id: 1 },
        { _tag: "Messages", room: "lobby", messages: [{ id: 1, author: "ada", text: "hello" }] }
      ])
      const second = yield* call({ port: address.port }, [
        { _tag: "Post", room: "lobby", author: "bob", text: "hi\nada" },
        { _tag: "History", room: "lobby" },
        { _tag: "History", room: "empty" }
      ])
      expect(second).toEqual([
        { _tag: "Posted", id: 2 },
        {
          _tag: "Messages",
          room: "lobby",
          messages: [{ id: 1, author: "ada", text: "hello" }, { id: 2, author: "bob", text: "hi\nada" }]
        },
        { _tag: "Messages", room: "empty", messages: [] }
      ])
    }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)))

  it.live("answers a request that does not match the protocol with Rejected, then hangs up", () =>
    Effect.gen(function*() {
      const address = yield* chatServer({ port: 0 })
      const conn = yield* Tcp.connect({ host: "127.0.0.1", port: address.port })
      yield* conn.send(
        "{\"_tag\":\"History\",\"room\":\"r\"}\n{\"_tag\":\"Delete\"}\n{\"_tag\":\"History\",\"room\":\"r\"}\n"
      )
      const replies = Chunk.toReadonlyArray(yield* Stream.runCollect(responses.decode(conn.stream)))
      expect(replies.length).toBe(2)
      expect(replies[0]).toEqual({ _tag: "Messages", room: "r", messages: [] })
      expect(replies[1]?._tag === "Rejected" && replies[1].reason).toContain("Expected \"Post\" | \"History\"")
    }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)))
})
