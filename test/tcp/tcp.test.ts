import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Duration, Effect, Exit, Fiber, Option, Ref, Scope, Stream } from "effect"
import type { Network } from "../../src/Network.js"
import { createHash } from "node:crypto"
import * as Net from "node:net"
import * as NodeNetwork from "../../src/NodeNetwork.js"
import * as Tcp from "../../src/Tcp.js"
import { checkNoSocketLeaks, openSocketHandles } from "../utils/handles.js"
import { python } from "../utils/process.js"
import { readAllText, readText } from "../utils/tcp.js"

checkNoSocketLeaks()

const encoder = new TextEncoder()
const live = <A, E>(effect: Effect.Effect<A, E, Network | Scope.Scope>): Effect.Effect<A, E> =>
  effect.pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))

/** A raw node:net server whose connections are handed to `onConnection`. */
const rawServer = (onConnection: (socket: Net.Socket) => void) =>
  Effect.acquireRelease(
    Effect.async<Net.Server>((resume) => {
      const server = Net.createServer(onConnection)
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
  ).pipe(Effect.map((server) => (server.address() as Net.AddressInfo).port))

describe("Tcp.listen", () => {
  it.live("binds 127.0.0.1 and an ephemeral port by default", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      expect(listener.address.host).toBe("127.0.0.1")
      expect(listener.address.family).toBe("IPv4")
      expect(listener.address.port).toBeGreaterThan(0)
    })))

  it.live("listens on ::1", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen({ host: "::1" })
      expect(listener.address).toMatchObject({ family: "IPv6", host: "::1" })
      const client = yield* Tcp.connect({ host: "::1", port: listener.address.port })
      const server = yield* listener.accept
      yield* client.send("over v6")
      expect(yield* readText(server, 7)).toBe("over v6")
    })))

  it.live("fails with AddressInUse on a taken port", () =>
    live(Effect.gen(function*() {
      const first = yield* Tcp.listen()
      const error = yield* Effect.flip(Tcp.listen({ port: first.address.port }))
      expect(error._tag).toBe("BindError")
      expect(error.reason).toBe("AddressInUse")
      expect(error.code).toBe("EADDRINUSE")
      expect(error.message).toContain(`127.0.0.1:${first.address.port}`)
    })))

  it.live("frees the port when its scope ends", () =>
    live(Effect.gen(function*() {
      const port = yield* Effect.scoped(Effect.map(Tcp.listen(), (listener) => listener.address.port))
      const again = yield* Tcp.listen({ port })
      expect(again.address.port).toBe(port)
    })))

  it.live("rejects bad ports and hosts before opening a socket", () =>
    live(Effect.gen(function*() {
      for (const port of [70000, -1, 1.5, Number.NaN, 65536]) {
        const error = yield* Effect.flip(Tcp.listen({ port }))
        expect(error).toMatchObject({ _tag: "AddressError", reason: "InvalidPort" })
      }
      for (const host of ["", "not a host!", "256.1.1.1", "1.2.3", "::zz", "-bad-.example"]) {
        const error = yield* Effect.flip(Tcp.listen({ host }))
        expect(error).toMatchObject({ _tag: "AddressError", reason: "InvalidHost" })
      }
      const notFound = yield* Effect.flip(Tcp.listen({ host: "no-such-host.invalid" }))
      expect(notFound).toMatchObject({ _tag: "AddressError", reason: "HostNotFound" })
      const badBacklog = yield* Effect.flip(Tcp.listen({ backlog: -3 }))
      expect(badBacklog).toMatchObject({ _tag: "BindError", reason: "InvalidArgument" })
    })))
})

describe("Tcp.connect", () => {
  it.live("exchanges bytes both ways with accept", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port, noDelay: true })
      const server = yield* listener.accept
      expect(client.remoteAddress).toEqual(listener.address)
      expect(server.remoteAddress).toEqual(client.localAddress)
      yield* client.send("ping")
      expect(yield* readText(server, 4)).toBe("ping")
      yield* server.send(encoder.encode("pong"))
      expect(yield* readText(client, 4)).toBe("pong")
    })))

  it.live("connects by host name", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const client = yield* Tcp.connect({ host: "localhost", port: listener.address.port })
      const server = yield* listener.accept
      yield* client.send("named")
      expect(yield* readText(server, 5)).toBe("named")
    })))

  it.live("fails with ConnectionRefused when nothing listens", () =>
    live(Effect.gen(function*() {
      const port = yield* Effect.scoped(Effect.map(Tcp.listen(), (listener) => listener.address.port))
      const error = yield* Effect.flip(Tcp.connect({ host: "127.0.0.1", port }))
      expect(error).toMatchObject({ _tag: "ConnectError", reason: "ConnectionRefused", code: "ECONNREFUSED" })
      expect(error.message).toContain(`127.0.0.1:${port}`)
    })))

  it.live("fails with HostNotFound for a name that does not resolve", () =>
    live(Effect.gen(function*() {
      const error = yield* Effect.flip(Tcp.connect({ host: "no-such-host.invalid", port: 80 }))
      expect(error).toMatchObject({ _tag: "ConnectError", reason: "HostNotFound" })
    })))

  it.live("rejects bad ports, hosts and timeouts before opening a socket", () =>
    live(Effect.gen(function*() {
      for (const port of [0, 70000, -1, 1.5, Number.NaN]) {
        const error = yield* Effect.flip(Tcp.connect({ host: "127.0.0.1", port }))
        expect(error).toMatchObject({ _tag: "AddressError", reason: "InvalidPort" })
      }
      const badHost = yield* Effect.flip(Tcp.connect({ host: "", port: 80 }))
      expect(badHost).toMatchObject({ _tag: "AddressError", reason: "InvalidHost" })
      const badTimeout = yield* Effect.flip(Tcp.connect({ host: "127.0.0.1", port: 80, timeout: -5 }))
      expect(badTimeout).toMatchObject({ _tag: "ConnectError", reason: "InvalidArgument" })
      for (const timeout of [Number.NaN, "-1 second", "soon"]) {
        // Untyped input on purpose: a caller's config can hold anything.
        const error = yield* Effect.flip(Tcp.connect({ host: "127.0.0.1", port: 80, timeout: timeout as Duration.DurationInput }))
        expect(error).toMatchObject({ _tag: "ConnectError", reason: "InvalidArgument" })
      }
      expect(openSocketHandles().filter((handle) => handle.startsWith("TCP"))).toEqual([])
    })))

  it.live("times out against a listener whose accept queue is full", () =>
    live(Effect.gen(function*() {
      const listener = yield* python("full_backlog_listener.py", [])
      const port = Number((yield* listener.waitForLine(/^(\d+)$/))[1])
      // The first connection fills the backlog of 0; the kernel drops later SYNs.
      yield* Tcp.connect({ host: "127.0.0.1", port })
      const error = yield* Effect.flip(Tcp.connect({ host: "127.0.0.1", port, timeout: "200 millis" }))
      expect(error).toMatchObject({ _tag: "ConnectError", reason: "TimedOut" })
    })))

  it.live("closes the socket when interrupted mid-connect", () =>
    live(Effect.gen(function*() {
      const listener = yield* python("full_backlog_listener.py", [])
      const port = Number((yield* listener.waitForLine(/^(\d+)$/))[1])
      yield* Tcp.connect({ host: "127.0.0.1", port })
      const before = openSocketHandles().length
      const fiber = yield* Effect.fork(Effect.scoped(Tcp.connect({ host: "127.0.0.1", port })))
      yield* Effect.sleep("50 millis")
      expect(openSocketHandles().length).toBeGreaterThan(before)
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      yield* Effect.sleep("20 millis")
      expect(openSocketHandles().length).toBe(before)
    })))
})

describe("TcpConnection", () => {
  it.live("reads EOF as None, again and again", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
      const server = yield* listener.accept
      yield* client.send("last words")
      yield* client.close
      expect(yield* readText(server, 10)).toBe("last words")
      expect(yield* server.recv).toEqual(Option.none())
      expect(yield* server.recv).toEqual(Option.none())
      expect(Chunk.size(yield* Stream.runCollect(server.stream))).toBe(0)
    })))

  it.live("fails writes after endWrite and after close with WriteError Closed", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
      yield* listener.accept
      yield* client.endWrite
      expect(yield* Effect.flip(client.send("late"))).toMatchObject({ _tag: "WriteError", reason: "Closed" })
      yield* client.close
      yield* client.close // idempotent
      expect(yield* Effect.flip(client.send("later"))).toMatchObject({ _tag: "WriteError", reason: "Closed" })
      expect(yield* client.recv).toEqual(Option.none())
      const other = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
      yield* listener.accept
      yield* other.close
      expect(yield* Effect.flip(other.endWrite)).toMatchObject({ _tag: "WriteError", reason: "Closed" })
    })))

  it.live("sending nothing is a no-op", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
      const server = yield* listener.accept
      yield* client.send("")
      yield* client.send(new Uint8Array(0))
      yield* client.send("x")
      yield* client.endWrite
      expect(yield* readAllText(server)).toBe("x")
    })))

  it.live("reports a peer's reset as ConnectionReset on read and write", () =>
    live(Effect.gen(function*() {
      const port = yield* rawServer((socket) => {
        socket.on("error", () => {})
        socket.once("data", () => socket.resetAndDestroy())
      })
      const client = yield* Tcp.connect({ host: "127.0.0.1", port })
      yield* client.send("provoke")
      const readError = yield* Effect.flip(Stream.runDrain(client.stream))
      expect(readError).toMatchObject({ _tag: "ReadError", reason: "ConnectionReset", code: "ECONNRESET" })
      const writeError = yield* Effect.flip(client.send("after reset"))
      expect(writeError._tag).toBe("WriteError")
      expect(["ConnectionReset", "BrokenPipe"]).toContain(writeError.reason)
    })))

  it.live("moves 32 MiB intact through a slow reader", () =>
    live(Effect.gen(function*() {
      const total = 32 * 1024 * 1024
      const block = new Uint8Array(64 * 1024)
      for (let index = 0; index < block.length; index++) block[index] = (index * 31 + 7) & 0xff
      const listener = yield* Tcp.listen()
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
      const server = yield* listener.accept
      const sent = createHash("sha256")
      const writer = yield* Stream.range(1, total / block.length).pipe(
        Stream.map((index) => {
          const chunk = block.map((byte) => byte ^ (index & 0xff))
          sent.update(chunk)
          return chunk
        }),
        Stream.run(client.sink),
        Effect.zipRight(client.endWrite),
        Effect.fork
      )
      const received = createHash("sha256")
      let bytes = 0
      let pulls = 0
      yield* server.stream.pipe(
        Stream.runForEachChunk((chunks) =>
          Effect.gen(function*() {
            Chunk.forEach(chunks, (chunk) => {
              received.update(chunk)
              bytes += chunk.length
            })
            // A slow reader: yield to the timer queue now and then.
            if (++pulls % 16 === 0) yield* Effect.sleep("1 millis")
          })
        )
      )
      yield* Fiber.join(writer)
      expect(bytes).toBe(total)
      expect(received.digest("hex")).toBe(sent.digest("hex"))
    })), 60_000)

  it.live("send waits while a peer does not read, and can be interrupted", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
      const server = yield* listener.accept
      const accepted = yield* Ref.make(0)
      const chunk = new Uint8Array(1024 * 1024)
      const writer = yield* Effect.fork(
        Effect.forEach(Array.from({ length: 256 }), () => Effect.zipRight(client.send(chunk), Ref.update(accepted, (n) => n + 1)), {
          discard: true
        })
      )
      // Give the kernel buffers time to fill; the writer must then be parked.
      let previous = -1
      for (let round = 0; round < 50; round++) {
        yield* Effect.sleep("20 millis")
        const now = yield* Ref.get(accepted)
        if (now === previous) break
        previous = now
      }
      const parkedAt = yield* Ref.get(accepted)
      expect(parkedAt).toBeLessThan(64)
      expect(writer.unsafePoll()).toBeNull()
      const exit = yield* Fiber.interrupt(writer)
      expect(Exit.isInterrupted(exit)).toBe(true)
      // Reading unblocks nothing now, but the connection still works for reading.
      yield* client.close
      const bytes = yield* Stream.runFold(server.stream, 0, (n, c) => n + c.length)
      expect(bytes).toBeGreaterThanOrEqual(parkedAt * chunk.length)
    })), 30_000)

  it.live("a blocked recv can be interrupted and the connection still closes", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
      const server = yield* listener.accept
      const reader = yield* Effect.fork(server.recv)
      yield* Effect.sleep("20 millis")
      expect(Exit.isInterrupted(yield* Fiber.interrupt(reader))).toBe(true)
      yield* client.send("still here")
      expect(yield* readText(server, 10)).toBe("still here")
    })))

  it.live("hundreds of interrupted reads on a silent connection lose nothing", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
      const server = yield* listener.accept
      // Each interrupted wait leaves its waiter parked until the next event;
      // past a bound they are all woken, which must not disturb live ones.
      const patient = yield* Effect.fork(server.recv)
      for (let i = 0; i < 300; i++) {
        const waiting = yield* Effect.fork(server.recv)
        yield* Effect.yieldNow()
        yield* Fiber.interrupt(waiting)
      }
      yield* client.send("after all that")
      const first = yield* Fiber.join(patient)
      expect(Option.map(first, (bytes) => new TextDecoder().decode(bytes))).toEqual(Option.some("after all that"))
      yield* client.send("and more")
      expect(yield* readText(server, 8)).toBe("and more")
    })))

  it.live("idleTimeout fails a blocked read with TimedOut", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port, idleTimeout: "50 millis" })
      const server = yield* listener.accept
      const error = yield* Effect.flip(client.recv)
      expect(error).toMatchObject({ _tag: "ReadError", reason: "TimedOut" })
      // A timed-out read is not fatal: data that arrives later is still read.
      yield* server.send("late")
      expect(yield* readText(client, 4)).toBe("late")
    })))

  it.live("idleTimeout fails a send that a peer never drains with WriteError TimedOut", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port, idleTimeout: "100 millis" })
      yield* listener.accept // never read
      const chunk = new Uint8Array(1024 * 1024)
      let sent = 0
      const error = yield* Effect.flip(Effect.forever(Effect.tap(client.send(chunk), () => Effect.sync(() => sent++))))
      expect(error).toMatchObject({ _tag: "WriteError", reason: "TimedOut" })
      expect(sent).toBeLessThan(256)
    })))
})

describe("Tcp.gracefulClose", () => {
  it.live("sends FIN and waits for the peer's FIN", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
      const server = yield* listener.accept
      yield* client.send("bye")
      const closing = yield* Effect.fork(Tcp.gracefulClose(client, { timeout: "5 seconds" }))
      expect(yield* readAllText(server)).toBe("bye")
      yield* server.close
      expect(yield* Fiber.join(closing)).toBe(true)
    })))

  it.live("gives up after its timeout when the peer never ends", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
      const server = yield* listener.accept
      expect(yield* Tcp.gracefulClose(client, { timeout: "50 millis" })).toBe(false)
      // The client is gone: the server reads EOF.
      expect(yield* readAllText(server)).toBe("")
    })))
})

describe("TcpListener", () => {
  it.live("accept blocked in a fiber is interrupted cleanly", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const fiber = yield* Effect.fork(Effect.scoped(listener.accept))
      yield* Effect.sleep("20 millis")
      expect(Exit.isInterrupted(yield* Fiber.interrupt(fiber))).toBe(true)
      // The listener still accepts afterwards.
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
      const server = yield* listener.accept
      yield* client.send("ok")
      expect(yield* readText(server, 2)).toBe("ok")
    })))

  it.live("accept after the listener closed fails with AcceptError Closed", () =>
    live(Effect.gen(function*() {
      const listener = yield* Effect.scoped(Tcp.listen())
      expect(yield* Effect.flip(listener.accept)).toMatchObject({ _tag: "AcceptError", reason: "Closed" })
    })))

  it.live("connections streams accepted connections and closes them when it ends", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const clients = yield* Effect.forEach([1, 2, 3], () => Tcp.connect({ host: "127.0.0.1", port: listener.address.port }))
      const accepted = yield* listener.connections.pipe(Stream.take(3), Stream.runCollect)
      expect(Chunk.size(accepted)).toBe(3)
      // The stream has ended, so its connections are closed: clients see EOF.
      for (const client of clients) expect(yield* client.recv).toEqual(Option.none())
    })))
})

describe("Tcp.serve", () => {
  const echo = (conn: Tcp.TcpConnection) => Stream.run(conn.stream, conn.sink)

  it.live("echoes for many clients", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      yield* Effect.forkScoped(Tcp.serve(listener, echo))
      const replies = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, index) => `message ${index}`),
        (message) =>
          Effect.scoped(Effect.gen(function*() {
            const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
            yield* client.send(message)
            yield* client.endWrite
            return yield* readAllText(client)
          })),
        { concurrency: 10 }
      )
      expect(replies).toEqual(Array.from({ length: 20 }, (_, index) => `message ${index}`))
    })))

  it.live("handles at most `concurrency` connections at once", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const active = yield* Ref.make(0)
      const peak = yield* Ref.make(0)
      const release = yield* Deferred.make<void>()
      yield* Effect.forkScoped(Tcp.serve(listener, (conn) =>
        Effect.gen(function*() {
          const now = yield* Ref.updateAndGet(active, (n) => n + 1)
          yield* Ref.update(peak, (p) => Math.max(p, now))
          yield* Deferred.await(release)
          yield* conn.send("done")
          yield* Ref.update(active, (n) => n - 1)
        }), { concurrency: 2 }))
      const clients = yield* Effect.forEach([1, 2, 3, 4], () => Tcp.connect({ host: "127.0.0.1", port: listener.address.port }))
      yield* Effect.sleep("100 millis")
      expect(yield* Ref.get(active)).toBe(2)
      yield* Deferred.succeed(release, undefined)
      const replies = yield* Effect.forEach(clients, (client) => readAllText(client))
      expect(replies).toEqual(["done", "done", "done", "done"])
      expect(yield* Ref.get(peak)).toBe(2)
    })))

  it.live("a failing or dying handler is isolated and the server goes on", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const count = yield* Ref.make(0)
      yield* Effect.forkScoped(Tcp.serve(listener, (conn) =>
        Effect.gen(function*() {
          const n = yield* Ref.getAndUpdate(count, (c) => c + 1)
          if (n === 0) return yield* Effect.fail("handler failed")
          if (n === 1) return yield* Effect.die("handler died")
          yield* conn.send("served")
        })))
      const outcomes = yield* Effect.forEach([1, 2, 3], () =>
        Effect.scoped(Effect.flatMap(
          Tcp.connect({ host: "127.0.0.1", port: listener.address.port }),
          readAllText
        )))
      expect(outcomes).toEqual(["", "", "served"])
    })))

  it.live("on interruption lets handlers finish within shutdownTimeout", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const started = yield* Deferred.make<void>()
      const server = yield* Effect.fork(Tcp.serve(listener, (conn) =>
        Effect.gen(function*() {
          yield* Deferred.succeed(started, undefined)
          yield* Effect.sleep("100 millis")
          yield* conn.send("finished")
        }), { shutdownTimeout: "5 seconds" }))
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
      yield* Deferred.await(started)
      yield* Fiber.interrupt(server)
      expect(yield* readAllText(client)).toBe("finished")
    })))

  it.live("after shutdownTimeout interrupts handlers and closes their connections", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      const server = yield* Effect.fork(Tcp.serve(listener, () =>
        Deferred.succeed(started, undefined).pipe(
          Effect.zipRight(Effect.never),
          Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
        ), { shutdownTimeout: "50 millis" }))
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
      yield* Deferred.await(started)
      yield* Fiber.interrupt(server)
      expect(yield* Deferred.isDone(interrupted)).toBe(true)
      expect(yield* client.recv).toEqual(Option.none())
    })))

  it.live("fails with AcceptError Closed when its listener closes", () =>
    live(Effect.gen(function*() {
      const listener = yield* Effect.scoped(Tcp.listen())
      const error = yield* Effect.flip(Tcp.serve(listener, () => Effect.void))
      expect(error).toMatchObject({ _tag: "AcceptError", reason: "Closed" })
    })))
})

describe("the seed's programs", () => {
  it.live("the seed's Python TCP client talks to an effect-net server", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      yield* Effect.forkScoped(Tcp.serve(listener, (conn) =>
        Effect.gen(function*() {
          const request = yield* readText(conn, "Hello, Server!".length)
          expect(request).toBe("Hello, Server!")
          yield* conn.send("Hello, Client!")
        })))
      const client = yield* python("seed_tcp_client.py", [String(listener.address.port)])
      expect(yield* client.exited).toBe(0)
      expect(client.lines).toEqual(["Received: Hello, Client!"])
    })))

  it.live("the effect-net client talks to the seed's Python TCP server", () =>
    live(Effect.gen(function*() {
      const server = yield* python("seed_tcp_server.py", ["0"])
      const port = Number((yield* server.waitForLine(/^Listening on (\d+)$/))[1])
      const client = yield* Tcp.connect({ host: "127.0.0.1", port })
      yield* client.send("Hello, Server!")
      expect(yield* readAllText(client)).toBe("Hello, Client!")
      expect(yield* server.exited).toBe(0)
      expect(server.lines).toContain("Received: Hello, Server!")
    })))
})

// `it.scoped` and `it.effect` run with a TestClock that only moves when told.
// Timeouts on real sockets run in real time, so they still fire there.
describe("real sockets under a TestClock", () => {
  const real = <A, E>(effect: Effect.Effect<A, E, Network | Scope.Scope>) =>
    effect.pipe(Effect.provide(NodeNetwork.layer))

  it.scoped("connect's timeout fires in real time", () =>
    real(Effect.gen(function*() {
      const listener = yield* python("full_backlog_listener.py", [])
      const port = Number((yield* listener.waitForLine(/^(\d+)$/))[1])
      yield* Tcp.connect({ host: "127.0.0.1", port })
      const error = yield* Effect.flip(Tcp.connect({ host: "127.0.0.1", port, timeout: "100 millis" }))
      expect(error).toMatchObject({ _tag: "ConnectError", reason: "TimedOut" })
    })))

  it.scoped("idleTimeout fires in real time", () =>
    real(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port, idleTimeout: "50 millis" })
      yield* listener.accept
      expect(yield* Effect.flip(client.recv)).toMatchObject({ _tag: "ReadError", reason: "TimedOut" })
    })))

  it.scoped("serve's shutdown grace ends in real time when the scope closes", () =>
    real(Effect.gen(function*() {
      const interrupted = yield* Deferred.make<void>()
      const client = yield* Effect.scoped(Effect.gen(function*() {
        const listener = yield* Tcp.listen()
        const started = yield* Deferred.make<void>()
        yield* Effect.forkScoped(Tcp.serve(listener, () =>
          Deferred.succeed(started, undefined).pipe(
            Effect.zipRight(Effect.never),
            Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
          ), { shutdownTimeout: "100 millis" }))
        const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
        yield* Deferred.await(started)
        return client
      }))
      // The inner scope closed: the handler was interrupted after its grace
      // period although the TestClock never moved.
      expect(yield* Deferred.isDone(interrupted)).toBe(true)
      expect(client.remoteAddress.port).toBeGreaterThan(0)
    })))

  it.scoped("gracefulClose's timeout fires in real time", () =>
    real(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
      yield* listener.accept
      expect(yield* Tcp.gracefulClose(client, { timeout: "50 millis" })).toBe(false)
    })))
})
