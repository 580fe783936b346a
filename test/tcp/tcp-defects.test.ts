/**
 * Regressions of issue 12's TCP items: long and infinite durations (2),
 * a reset that arrives while nobody reads (3), a local address that is a
 * name (5), ECONNRESET during connect (7) and the listener handle that
 * outlived its scope (9).
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Either, Exit, Fiber, Option, Scope, Stream } from "effect"
import { createHash } from "node:crypto"
import * as Net from "node:net"
import { ConnectErrorReason } from "../../src/NetError.js"
import * as NodeNetwork from "../../src/NodeNetwork.js"
import * as Tcp from "../../src/Tcp.js"
import * as TestNetwork from "../../src/TestNetwork.js"
import { sleepReal } from "../../src/internal/shared/time.js"
import { checkNoSocketLeaks, openSocketHandles } from "../utils/handles.js"
import { live } from "../utils/live.js"

checkNoSocketLeaks()

/** Past the largest delay a Node timer takes (2^31 - 1 ms), which it turns into 1 ms. */
const beyondTimerRange = Duration.millis(2 ** 31)
const longDurations = [
  ["2^31 ms", beyondTimerRange],
  ["30 days", Duration.decode("30 days")],
  ["infinity", Duration.infinity]
] as const

/** Long enough for a 1 ms timer to have fired many times over. */
const stillWaiting = Duration.millis(200)

/** A raw node:net server, closed with the scope; `onConnection` gets each socket. */
const rawServer = (onConnection: (socket: Net.Socket) => void, options: Net.ServerOpts = {}) =>
  Effect.acquireRelease(
    Effect.async<Net.Server>((resume) => {
      const server = Net.createServer(options, (socket) => {
        socket.on("error", () => {})
        onConnection(socket)
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
  ).pipe(Effect.map((server) => (server.address() as Net.AddressInfo).port))

/** Everything a socket receives until its EOF: length and SHA-256. */
const receiveAll = (socket: Net.Socket, done: Deferred.Deferred<{ length: number; sha: string }, Error>) => {
  const hash = createHash("sha256")
  let length = 0
  socket.on("data", (chunk: Buffer) => {
    length += chunk.length
    hash.update(chunk)
  })
  socket.on("end", () => {
    Deferred.unsafeDone(done, Exit.succeed({ length, sha: hash.digest("hex") }))
    socket.end()
  })
  socket.on("close", () => Deferred.unsafeDone(done, Exit.fail(new Error(`closed after ${length} bytes, no EOF`))))
}

describe("durations beyond a Node timer's range (issue 12, item 2)", () => {
  it.live("the shared real-time sleep waits past 2^31 ms and forever for infinity", () =>
    Effect.gen(function*() {
      for (const [, duration] of longDurations) {
        const slept = yield* Effect.timeoutOption(sleepReal(duration), stillWaiting)
        expect(Option.isNone(slept)).toBe(true)
      }
      const short = yield* Effect.timeoutOption(sleepReal(Duration.millis(5)), "5 seconds")
      expect(Option.isSome(short)).toBe(true)
    }))

  for (const [name, closeTimeout] of [longDurations[1], longDurations[2]]) {
    it.live(`closeTimeout ${name}: 16 MiB sent, then close; the peer reads all of it, then EOF`, () =>
      live(Effect.gen(function*() {
        const payload = new Uint8Array(16 * 1024 * 1024).map((_, index) => index * 31)
        const expected = createHash("sha256").update(payload).digest("hex")
        const received = yield* Deferred.make<{ length: number; sha: string }, Error>()
        const port = yield* rawServer((socket) => receiveAll(socket, received))
        const client = yield* Tcp.connect({ host: "127.0.0.1", port, closeTimeout })
        // The send is forked so that close finds the payload still in Node's
        // buffer, which only the close timeout bounds.
        const sending = yield* Effect.fork(client.send(payload))
        yield* Effect.yieldNow()
        yield* client.close
        yield* Fiber.await(sending)
        expect(yield* Deferred.await(received)).toEqual({ length: payload.length, sha: expected })
      })))
  }

  for (const [name, idleTimeout] of longDurations) {
    it.live(`idleTimeout ${name} does not fire early`, () =>
      live(Effect.gen(function*() {
        const port = yield* rawServer(() => {})
        const client = yield* Tcp.connect({ host: "127.0.0.1", port, idleTimeout })
        const read = yield* Effect.timeoutOption(Effect.either(client.recv), stillWaiting)
        expect(read).toEqual(Option.none())
      })))
  }

  it.live("shutdownTimeout 2^31 ms lets a running handler finish instead of interrupting it", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const started = yield* Deferred.make<void>()
      const finished = yield* Deferred.make<string>()
      const server = yield* Effect.fork(Tcp.serve(listener, (conn) =>
        Deferred.succeed(started, undefined).pipe(
          Effect.zipRight(conn.recv),
          Effect.flatMap((chunk) => Deferred.succeed(finished, Option.isSome(chunk) ? "read" : "eof")),
          Effect.onInterrupt(() => Deferred.succeed(finished, "interrupted"))
        ), { shutdownTimeout: beyondTimerRange }))
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
      yield* Deferred.await(started)
      const stopping = yield* Effect.fork(Fiber.interrupt(server))
      yield* Effect.sleep(stillWaiting)
      expect(yield* Deferred.poll(finished)).toEqual(Option.none())
      yield* client.send("done")
      expect(yield* Deferred.await(finished)).toBe("read")
      yield* Fiber.join(stopping)
    })))

  it.live("gracefulClose with a 2^31 ms timeout waits for a peer's late FIN", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
      const server = yield* listener.accept
      const closing = yield* Effect.fork(Tcp.gracefulClose(server, { timeout: beyondTimerRange }))
      yield* Effect.sleep(stillWaiting)
      yield* client.endWrite
      expect(yield* Fiber.join(closing)).toBe(true)
    })))
})

describe("a reset while nobody reads (issue 12, item 3)", () => {
  /**
   * A client of a peer that, once the client has said hello (so that its
   * connect is complete), writes 1 MB and then ends with `finish`; returned
   * unread once the peer has reset or ended.
   */
  const clientOfPeerThatWritesThen = (finish: "reset" | "end") =>
    Effect.gen(function*() {
      const finished = yield* Deferred.make<void>()
      const port = yield* rawServer((socket) => {
        socket.once("data", () =>
          socket.write(new Uint8Array(1_000_000).fill(7), () => {
            if (finish === "reset") socket.resetAndDestroy()
            else socket.end()
            Deferred.unsafeDone(finished, Exit.void)
          }))
      }, { allowHalfOpen: true })
      const client = yield* Tcp.connect({ host: "127.0.0.1", port })
      yield* client.send("hello")
      yield* Deferred.await(finished)
      // Let the RST or FIN land on our socket before anyone reads.
      yield* Effect.sleep("50 millis")
      return client
    })

  /** Reads the whole stream, counting bytes; the error if it ends in one. */
  const readToEnd = (conn: Tcp.TcpConnection) =>
    Effect.either(Stream.runFold(conn.stream, 0, (total, chunk) => total + chunk.length))

  it.live("is reported as ConnectionReset, never as a clean EOF", () =>
    live(Effect.gen(function*() {
      const client = yield* clientOfPeerThatWritesThen("reset")
      const result = yield* readToEnd(client)
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) expect(result.left).toMatchObject({ _tag: "ReadError", reason: "ConnectionReset" })
    })))

  it.live("recv after the reset ends in ConnectionReset too", () =>
    live(Effect.gen(function*() {
      const client = yield* clientOfPeerThatWritesThen("reset")
      let outcome: Either.Either<Option.Option<Uint8Array>, unknown> = Either.right(Option.some(new Uint8Array()))
      for (let reads = 0; reads < 10_000 && Either.isRight(outcome) && Option.isSome(outcome.right); reads++) {
        outcome = yield* Effect.either(client.recv)
      }
      expect(outcome).toMatchObject(Either.left({ _tag: "ReadError", reason: "ConnectionReset" }))
    })))

  it.live("a clean end after the same 1 MB is still a clean EOF with every byte", () =>
    live(Effect.gen(function*() {
      const client = yield* clientOfPeerThatWritesThen("end")
      expect(yield* readToEnd(client)).toEqual(Either.right(1_000_000))
      expect(yield* client.recv).toEqual(Option.none())
      yield* client.send("still writable after the peer's FIN")
    })))
})

describe("a local address that is a name (issue 12, item 5)", () => {
  it.live("fails with ConnectError InvalidAddress, and 50 calls leave no handle", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const before = openSocketHandles().length
      for (let call = 0; call < 50; call++) {
        const error = yield* Effect.flip(Effect.scoped(
          Tcp.connect({ host: "127.0.0.1", port: listener.address.port, localAddress: "localhost" })
        ))
        expect(error).toMatchObject({ _tag: "ConnectError", reason: "InvalidAddress", code: "ERR_INVALID_IP_ADDRESS" })
        expect(error.message).toContain(`local address "localhost" is not an IP address`)
      }
      expect(openSocketHandles().length).toBe(before)
    })))

  it.live("TestNetwork answers with the same error", () =>
    Effect.gen(function*() {
      const attempt = Effect.gen(function*() {
        const listener = yield* Tcp.listen()
        const error = yield* Effect.flip(
          Tcp.connect({ host: "127.0.0.1", port: listener.address.port, localAddress: "localhost" })
        )
        const port = `:${listener.address.port}`
        return {
          _tag: error._tag,
          reason: error.reason,
          code: error.code,
          address: error.address?.replace(port, ":PORT"),
          message: error.message.replace(port, ":PORT")
        }
      }).pipe(Effect.scoped)
      const node = yield* Effect.provide(attempt, NodeNetwork.layer)
      const test = yield* Effect.provide(attempt, TestNetwork.layer())
      expect(node).toMatchObject({ _tag: "ConnectError", reason: "InvalidAddress", address: "127.0.0.1:PORT" })
      expect(test).toEqual(node)
    }))

  it.live("an IP literal local address still connects", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port, localAddress: "127.0.0.1" })
      expect(client.localAddress.host).toBe("127.0.0.1")
    })))
})

describe("ECONNRESET during connect (issue 12, item 7)", () => {
  const known: ReadonlyArray<string> = ConnectErrorReason.literals.filter((reason) => reason !== "Unknown")

  /** Runs `count` connects, `concurrency` at a time; every failure must be a ConnectError with a known reason. */
  const storm = (port: number, count: number, concurrency: number | "unbounded", reasons: Map<string, number>) =>
    Effect.forEach(
      Array.from({ length: count }, () => Effect.scoped(Tcp.connect({ host: "127.0.0.1", port }))),
      Effect.either,
      { concurrency }
    ).pipe(Effect.map((results) => {
      for (const result of results) {
        if (Either.isRight(result)) continue
        const error = result.left
        expect(error._tag).toBe("ConnectError")
        if (error._tag !== "ConnectError") continue
        expect(known).toContain(error.reason)
        const key = `${error.reason} ${error.code}`
        reasons.set(key, (reasons.get(key) ?? 0) + 1)
      }
    }))

  it.live("100 connects to a listener that resets each one", () =>
    live(Effect.gen(function*() {
      const reasons = new Map<string, number>()
      const port = yield* rawServer((socket) => socket.resetAndDestroy())
      // One at a time, the reset comes before the connect is seen complete
      // (on Linux, every time); all at once, some connects complete first.
      yield* storm(port, 50, 1, reasons)
      yield* storm(port, 50, "unbounded", reasons)
      console.log("[tcp-defects] connects to a resetting listener, failures:", Object.fromEntries(reasons))
    })))

  it.live("100 connects to a listener that closes during the storm", () =>
    live(Effect.gen(function*() {
      const reasons = new Map<string, number>()
      for (let round = 0; round < 5; round++) {
        const listenerScope = yield* Scope.make()
        const listener = yield* Tcp.listen({ backlog: 8 }).pipe(Scope.extend(listenerScope))
        const connecting = yield* Effect.fork(storm(listener.address.port, 20, "unbounded", reasons))
        yield* Effect.yieldNow()
        // Queued connections are reset by the kernel when the listener closes.
        yield* Scope.close(listenerScope, Exit.void)
        yield* Fiber.join(connecting)
      }
      console.log("[tcp-defects] connects to a closing listener, failures:", Object.fromEntries(reasons))
    })))
})

describe("a listener's handle (issue 12, item 9)", () => {
  const serverHandles = () => openSocketHandles().filter((handle) => handle.startsWith("TCPServerWrap"))

  it.live("is gone the moment its scope has closed", () =>
    Effect.gen(function*() {
      for (let round = 0; round < 20; round++) {
        yield* live(Tcp.listen())
        expect(serverHandles()).toEqual([])
      }
    }))

  it.live("is gone even while a connection it accepted lives on", () =>
    live(Effect.gen(function*() {
      const outer = yield* Effect.scope
      const listenerScope = yield* Scope.make()
      const listener = yield* Tcp.listen().pipe(Scope.extend(listenerScope))
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
      const accepted = yield* Scope.extend(listener.accept, outer)
      yield* Scope.close(listenerScope, Exit.void)
      expect(serverHandles()).toEqual([])
      yield* client.send("the accepted connection outlives its listener")
      const chunk = yield* accepted.recv
      expect(Option.isSome(chunk)).toBe(true)
    })))
})
