import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, FastCheck as fc, Fiber, Stream } from "effect"
import { call, chatClient } from "../../scratchpad/chat/client.js"
import { responses } from "../../scratchpad/chat/protocol.js"
import { chatServer } from "../../scratchpad/chat/server.js"
import * as Framing from "../../src/Framing.js"
import type { FrameError, ReadError } from "../../src/NetError.js"
import * as NodeNetwork from "../../src/NodeNetwork.js"
import * as Tcp from "../../src/Tcp.js"
import { concatBytes } from "../utils/bytes.js"
import { checkNoSocketLeaks } from "../utils/handles.js"

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

describe("Framing over real TCP (property)", () => {
  // Frames up to a few KiB against a limit of 2 KiB: they span reads and
  // the blocks a decoder assembles them in.
  const limit = 2048
  const utf8 = new TextEncoder()

  const message = fc.oneof(
    fc.string({ unit: "grapheme", maxLength: 40 }).filter((text) =>
      !text.includes("\n") && !text.endsWith("\r") && utf8.encode(text).length <= limit
    ),
    fc.nat({ max: limit }).map((length) => "y".repeat(length))
  )

  /** The frames of `messages`, `overLimit` replacing the message at `overAt` if it is given. */
  const input = (kind: "lines" | "lengthPrefixed", messages: ReadonlyArray<string>, overAt: number | undefined) =>
    concatBytes(messages.flatMap((message, i) => {
      const payload = utf8.encode(i === overAt ? "x".repeat(limit + 1) : message)
      return kind === "lines"
        ? [payload, utf8.encode("\n")]
        : [new Uint8Array([0, 0, payload.length >> 8, payload.length & 255]), payload]
    }))

  /** Every message and, if decoding failed, its error's tag, reason and message. */
  const outcome = <A>(decoded: Stream.Stream<A, FrameError | ReadError>) =>
    Effect.gen(function*() {
      const messages: Array<A> = []
      const result = yield* decoded.pipe(
        Stream.runForEachChunk((chunk) => Effect.sync(() => messages.push(...chunk))),
        Effect.either
      )
      const error = Either.isLeft(result)
        ? `${result.left._tag} ${result.left.reason}: ${result.left.message}`
        : undefined
      return { messages, error }
    })

  it.live.prop(
    "however the bytes arrive, the frames and the error are those of the bytes in one chunk",
    {
      kind: fc.constantFrom("lines" as const, "lengthPrefixed" as const),
      messages: fc.array(message, { maxLength: 30 }),
      // Where a message over the limit goes (a fraction of the way), if anywhere.
      overAt: fc.option(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })),
      cutShort: fc.constantFrom(0, 0, 1, 3),
      sizes: fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 6 }),
      pauses: fc.array(fc.boolean(), { minLength: 1, maxLength: 6 })
    },
    ({ cutShort, kind, messages, overAt, pauses, sizes }) =>
      Effect.gen(function*() {
        const decode = (bytes: Stream.Stream<Uint8Array, ReadError>): Stream.Stream<unknown, FrameError | ReadError> =>
          kind === "lines"
            ? Framing.lines({ maxLength: limit }).decode(bytes)
            : Framing.lengthPrefixed({ maxFrameLength: limit }).decode(bytes)
        const over = overAt === null || messages.length === 0 ? undefined : Math.floor(overAt * messages.length)
        const whole = input(kind, messages, over)
        const data = whole.subarray(0, Math.max(0, whole.length - cutShort))
        const expected = yield* outcome(decode(Stream.make(data)))
        if (cutShort === 0) {
          const fitting = over ?? messages.length
          const sent = kind === "lines" ? messages : messages.map((text) => utf8.encode(text))
          expect(expected.messages).toEqual(sent.slice(0, fitting))
          expect(expected.error?.startsWith("FrameError FrameTooLarge") ?? false).toBe(over !== undefined)
        }

        const { client, server } = yield* connectedPair
        // At most 100 sends, some after a pause so that they arrive as reads of their own.
        const pieces: Array<Uint8Array> = []
        for (let offset = 0, i = 0; offset < data.length; i++) {
          const size = i === 99 ? data.length - offset : sizes[i % sizes.length]!
          pieces.push(data.subarray(offset, offset + size))
          offset += size
        }
        const sending = Effect.forEach(pieces, (piece, i) =>
          client.send(piece).pipe(Effect.zipRight(pauses[i % pauses.length] ? Effect.sleep("1 millis") : Effect.void)))
        // Once the receiver fails it stops reading: the sender may then fail, which is expected.
        yield* Effect.forkScoped(Effect.either(Effect.zipRight(sending, client.endWrite)))
        expect(yield* outcome(decode(server.stream))).toEqual(expected)
      }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)),
    { fastCheck: { numRuns: 30 }, timeout: 60_000 }
  )
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
