import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit, Fiber, Stream } from "effect"
import * as Tcp from "../../src/Tcp.js"
import { checkNoSocketLeaks } from "../utils/handles.js"
import { readAllText } from "../utils/tcp.js"
import { connectedPair, live, rawServer, report, tcpHandleCount } from "./support.js"

checkNoSocketLeaks()

// test/tcp/tcp.test.ts covers: idleTimeout on recv, the connect timeout, serve's
// shutdownTimeout both ways, gracefulClose on time and timed out. Here: the rest.

describe("idleTimeout", () => {
  it.live("fails a stream that stalls with ReadError TimedOut, after the bytes that came", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen({ idleTimeout: "100 millis" })
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
      const server = yield* listener.accept
      yield* client.send("some bytes")
      let received = ""
      const error = yield* Effect.flip(
        Stream.runForEach(server.stream, (chunk) => Effect.sync(() => received += new TextDecoder().decode(chunk)))
      )
      expect(received).toBe("some bytes")
      expect(error).toMatchObject({ _tag: "ReadError", reason: "TimedOut" })
    })))

  it.live("does not fire while bytes keep coming, each gap shorter than the timeout", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen({ idleTimeout: "1 second" })
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
      const server = yield* listener.accept
      // 20 pieces 25 ms apart: half a second in all, never 1 second of silence.
      const trickle = yield* Effect.fork(
        Effect.forEach(Array.from({ length: 20 }), () => Effect.zipRight(client.send("."), Effect.sleep("25 millis")), {
          discard: true
        }).pipe(Effect.zipRight(client.endWrite))
      )
      expect(yield* readAllText(server)).toBe(".".repeat(20))
      yield* Fiber.join(trickle)
    })))
})

describe("closeTimeout", () => {
  it.live("close of a connection whose peer stopped reading returns after the timeout and frees the socket", () =>
    live(Effect.gen(function*() {
      // A peer that accepts and never reads.
      const port = yield* rawServer((socket) => socket.pause())
      const handlesBefore = tcpHandleCount()
      const client = yield* Tcp.connect({ host: "127.0.0.1", port, closeTimeout: "100 millis" })
      // Fill the kernel's buffers and Node's: the writer parks with bytes unsent.
      const writer = yield* Effect.fork(client.send(new Uint8Array(16 * 1024 * 1024)))
      yield* Effect.sleep("100 millis")
      expect(writer.unsafePoll()).toBeNull()
      const closed = yield* client.close.pipe(Effect.timeout("5 seconds"), Effect.exit)
      yield* Fiber.interrupt(writer)
      yield* Effect.sleep("20 millis")
      const handlesAfter = tcpHandleCount()
      report("closeTimeout", { closeTimeout: "100 millis", closeReturned: Exit.isSuccess(closed), handlesBefore, handlesAfter })
      expect(Exit.isSuccess(closed)).toBe(true)
      // The client socket is gone (the raw server's side of it may linger until it notices).
      expect(handlesAfter).toBeLessThanOrEqual(handlesBefore + 1)
      expect(Exit.isSuccess(yield* Effect.exit(client.send("after close")))).toBe(false)
    })))
})

describe("Tcp.gracefulClose", () => {
  it.live("discards what the peer still sends, and succeeds when it ends", () =>
    live(Effect.gen(function*() {
      const { client, server } = yield* connectedPair()
      const closing = yield* Effect.fork(Tcp.gracefulClose(client, { timeout: "5 seconds" }))
      expect(yield* readAllText(server)).toBe("")
      yield* server.send("late reply, to be dropped")
      yield* server.endWrite
      expect(yield* Fiber.join(closing)).toBe(true)
    })))

  it.live("returns false, never fails, when the peer resets", () =>
    live(Effect.gen(function*() {
      const port = yield* rawServer((socket) => socket.once("end", () => socket.resetAndDestroy()))
      const client = yield* Tcp.connect({ host: "127.0.0.1", port })
      const exit = yield* Effect.exit(Tcp.gracefulClose(client, { timeout: "5 seconds" }))
      expect(exit).toEqual(Exit.succeed(false))
      // A reset keeps failing reads, even after the close (the shared semantics).
      expect(yield* Effect.flip(client.recv)).toMatchObject({ _tag: "ReadError", reason: "ConnectionReset" })
    })))

  it.live("can be interrupted, and the connection still closes", () =>
    live(Effect.gen(function*() {
      const { client, server } = yield* connectedPair()
      const closing = yield* Effect.fork(Tcp.gracefulClose(client, { timeout: "1 minute" }))
      yield* Effect.sleep("20 millis")
      expect(Exit.isInterrupted(yield* Fiber.interrupt(closing))).toBe(true)
      // The server sees our FIN, then the close.
      expect(yield* readAllText(server)).toBe("")
      expect(Exit.isSuccess(yield* Effect.exit(client.send("x")))).toBe(false)
    })))
})

describe("connect timeout", () => {
  it.live("a timeout of zero fails with TimedOut or connects, and never hangs", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const outcome = yield* Effect.either(Tcp.connect({ host: "127.0.0.1", port: listener.address.port, timeout: 0 }))
      report("connect timeout 0", { outcome: Either.isLeft(outcome) ? outcome.left.reason : "connected" })
      if (Either.isLeft(outcome)) expect(outcome.left).toMatchObject({ _tag: "ConnectError", reason: "TimedOut" })
      else expect(outcome.right.remoteAddress.port).toBe(listener.address.port)
    })))
})
