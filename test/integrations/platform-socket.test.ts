import * as Socket from "@effect/platform/Socket"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { ConnectError, ReadError, WriteError } from "../../src/NetError.js"
import type { Network } from "../../src/Network.js"
import * as NodeNetwork from "../../src/NodeNetwork.js"
import * as PlatformSocket from "../../src/PlatformSocket.js"
import * as Tcp from "../../src/Tcp.js"
import * as TestNetwork from "../../src/TestNetwork.js"
import { checkNoSocketLeaks } from "../utils/handles.js"

checkNoSocketLeaks()

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** Polls `check` every 10 ms, at most `attempts` times, until it holds. */
const eventually = (check: Effect.Effect<boolean>, attempts = 300) =>
  Effect.gen(function*() {
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (yield* check) return true
      yield* Effect.sleep("10 millis")
    }
    return false
  })

/** A server on `host` that answers each connection with `respond`; counts connections. */
const server = (
  respond: (connection: Tcp.TcpConnection) => Effect.Effect<unknown, unknown>,
  host = "127.0.0.1"
) =>
  Effect.gen(function*() {
    const listener = yield* Tcp.listen({ host })
    const connections = yield* Ref.make(0)
    yield* Tcp.serve(listener, (connection) => Effect.zipRight(Ref.update(connections, (n) => n + 1), respond(connection)))
      .pipe(Effect.forkScoped)
    return { port: listener.address.port, connections }
  })

const readText = (connection: Tcp.TcpConnection) =>
  Stream.runFold(connection.stream, "", (text, chunk) => text + decoder.decode(chunk))

const networks: ReadonlyArray<readonly [string, Layer.Layer<Network>]> = [
  ["NodeNetwork", NodeNetwork.layer],
  ["TestNetwork", TestNetwork.layer()]
]

describe.each(networks)("PlatformSocket on %s", (_name, network) => {
  const live = <A, E>(name: string, test: () => Effect.Effect<A, E, Network | Scope.Scope>) =>
    it.live(name, () => test().pipe(Effect.scoped, Effect.provide(network), Effect.timeout("20 seconds")))

  live("every run opens a new connection, runs onOpen once it is up and ends with success at the peer's EOF", () =>
    Effect.gen(function*() {
      const { connections, port } = yield* server((connection) => connection.send("hello"))
      const socket = yield* PlatformSocket.makeNet({ host: "127.0.0.1", port })
      for (let run = 1; run <= 2; run++) {
        const opened = yield* Ref.make(0)
        let received = ""
        yield* socket.run((bytes) => {
          received += decoder.decode(bytes)
        }, { onOpen: Ref.update(opened, (n) => n + 1) })
        expect(received).toBe("hello")
        expect(yield* Ref.get(opened)).toBe(1)
        expect(yield* Ref.get(connections)).toBe(run)
      }
    }))

  live("a writer taken before any run waits for the connection, and closing its scope half-closes", () =>
    Effect.gen(function*() {
      // The server echoes what it reads until our FIN, then says goodbye.
      const { port } = yield* server((connection) =>
        Effect.flatMap(readText(connection), (text) => connection.send(`${text.toUpperCase()}|bye`))
      )
      const socket = yield* PlatformSocket.makeNet({ host: "127.0.0.1", port })
      const writerScope = yield* Scope.make()
      const write = yield* Scope.extend(socket.writer, writerScope)
      const written = yield* Effect.fork(Effect.zipRight(write("one "), write(encoder.encode("two"))))
      // Nothing to write to yet: the writes wait instead of failing.
      yield* Effect.sleep("20 millis")
      expect(Option.isNone(yield* Fiber.poll(written))).toBe(true)
      let received = ""
      yield* socket.run((bytes) => {
        received += decoder.decode(bytes)
      }, {
        onOpen: Fiber.join(written).pipe(
          Effect.zipRight(Scope.close(writerScope, Exit.void)),
          Effect.orDie
        )
      })
      expect(received).toBe("ONE TWO|bye")
    }))

  live("write(CloseEvent) closes: a clean code ends the run with success, another fails it with SocketCloseError", () =>
    Effect.gen(function*() {
      const { port } = yield* server((connection) => Stream.runDrain(connection.stream))
      const socket = yield* PlatformSocket.makeNet({ host: "127.0.0.1", port })
      const write = yield* socket.writer
      yield* socket.run(() => {}, { onOpen: Effect.orDie(write(new Socket.CloseEvent(1000))) })
      const error = yield* Effect.flip(socket.run(() => {}, {
        onOpen: Effect.orDie(Effect.fork(write(new Socket.CloseEvent(4001, "done"))))
      }))
      expect(error).toBeInstanceOf(Socket.SocketCloseError)
      expect(error).toMatchObject({ reason: "Close", code: 4001, closeReason: "done" })
    }))

  /**
   * A server sends 16 MiB; the handler's effects wait for `release` (all of
   * them, or the first only). While they wait, no chunk beyond the allowed
   * number is read: the buffers fill up and the server's sends wait.
   */
  const heldBack = (handlerConcurrency: number | undefined, holdAll: boolean) =>
    Effect.gen(function*() {
      const total = 16 * 1024 * 1024
      const sent = yield* Deferred.make<void>()
      const { port } = yield* server((connection) =>
        Effect.gen(function*() {
          const block = new Uint8Array(64 * 1024)
          for (let offset = 0; offset < total; offset += block.length) yield* connection.send(block)
          yield* Deferred.succeed(sent, undefined)
        })
      )
      const socket = yield* PlatformSocket.makeNet({ host: "127.0.0.1", port, handlerConcurrency })
      const release = yield* Deferred.make<void>()
      let calls = 0
      let active = 0
      let mostActive = 0
      let bytes = 0
      const reading = yield* Effect.fork(socket.run((chunk) => {
        calls++
        bytes += chunk.length
        const held = holdAll || calls === 1
        return Effect.gen(function*() {
          active++
          mostActive = Math.max(mostActive, active)
          if (held) yield* Deferred.await(release)
          active--
        })
      }))
      const limit = handlerConcurrency ?? 16
      expect(yield* eventually(Effect.sync(() => calls === (holdAll ? limit : 1) || calls > limit))).toBe(true)
      yield* Effect.sleep("200 millis")
      const callsWhileHeld = calls
      const sentWhileHeld = yield* Deferred.isDone(sent)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(reading)
      return { callsWhileHeld, sentWhileHeld, mostActive, bytes, total }
    })

  /** While held: `running` handler effects started and ran at once, the server could not send it all; then every byte arrived. */
  const expectHeldAt = (result: Effect.Effect.Success<ReturnType<typeof heldBack>>, running: number) => {
    expect(result.callsWhileHeld).toBe(running)
    expect(result.sentWhileHeld).toBe(false)
    expect(result.mostActive).toBe(running)
    expect(result.bytes).toBe(result.total)
  }

  live("handlerConcurrency 1: the handler runs chunk by chunk, and the socket is not read faster than its effects complete", () =>
    Effect.gen(function*() {
      expectHeldAt(yield* heldBack(1, false), 1)
    }))

  live("by default at most 16 of the handler's effects run at once, and reading waits while they do", () =>
    Effect.gen(function*() {
      expectHeldAt(yield* heldBack(undefined, true), 16)
    }))

  live("a handler effect that fails ends the run with its error, with any handlerConcurrency", () =>
    Effect.gen(function*() {
      const { port } = yield* server((connection) => Effect.zipRight(connection.send("x"), Effect.never))
      for (const handlerConcurrency of [1, 16]) {
        const socket = yield* PlatformSocket.makeNet({ host: "127.0.0.1", port, handlerConcurrency })
        const error = yield* Effect.flip(socket.run(() => Effect.fail(`handler failed (${handlerConcurrency})`)))
        expect(error).toBe(`handler failed (${handlerConcurrency})`)
      }
    }))

  live("a refused connect is SocketGenericError Open with the ConnectError as cause", () =>
    Effect.gen(function*() {
      const port = yield* Effect.scoped(Effect.map(Tcp.listen(), (listener) => listener.address.port))
      const socket = yield* PlatformSocket.makeNet({ host: "127.0.0.1", port })
      const error = yield* Effect.flip(socket.run(() => {}))
      expect(error).toBeInstanceOf(Socket.SocketGenericError)
      expect(error.reason).toBe("Open")
      const cause = (error as Socket.SocketGenericError).cause
      expect(cause).toBeInstanceOf(ConnectError)
      expect((cause as ConnectError).reason).toBe("ConnectionRefused")
    }))

  live("fromConnection wraps an open connection; the server's handler gets the same Socket interface", () =>
    Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
      const accepted = yield* listener.accept
      const socket = yield* PlatformSocket.fromConnection(accepted)
      const write = yield* socket.writer
      yield* client.send("ping")
      yield* client.endWrite
      let received = ""
      yield* socket.run((bytes) => {
        received += decoder.decode(bytes)
      })
      // The run ended at EOF; the connection is still open for writing.
      yield* write("pong")
      yield* accepted.close
      expect(received).toBe("ping")
      expect(yield* readText(client)).toBe("pong")
    }))

  describe("makeServer", () => {
    live("address is a TcpAddress with the bound port; each connection gets a Socket and closes when the handler ends", () =>
      Effect.gen(function*() {
        const socketServer = yield* PlatformSocket.makeServer({ host: "127.0.0.1" })
        expect(socketServer.address._tag).toBe("TcpAddress")
        const address = socketServer.address as { hostname: string; port: number }
        expect(address.hostname).toBe("127.0.0.1")
        expect(address.port).toBeGreaterThan(0)
        yield* socketServer.run((socket) =>
          Effect.gen(function*() {
            const write = yield* socket.writer
            yield* socket.run((bytes) => write(decoder.decode(bytes).toUpperCase()))
          })
        ).pipe(Effect.forkScoped)
        const client = yield* Tcp.connect({ host: "127.0.0.1", port: address.port })
        yield* client.send("echo")
        yield* client.endWrite
        expect(yield* readText(client)).toBe("ECHO")
      }))

    live("a failing handler is logged and the server goes on; concurrency limits the handlers at once", () =>
      Effect.gen(function*() {
        const logged: Array<{ readonly level: string; readonly message: unknown }> = []
        const logger = Logger.make(({ logLevel, message }) => {
          logged.push({ level: logLevel.label, message })
        })
        const socketServer = yield* PlatformSocket.makeServer({ concurrency: 1 })
        const port = (socketServer.address as { port: number }).port
        const handled = yield* Ref.make(0)
        yield* socketServer.run((socket) =>
          Effect.gen(function*() {
            const n = yield* Ref.updateAndGet(handled, (count) => count + 1)
            const write = yield* socket.writer
            yield* write(`#${n}`)
            if (n === 1) return yield* Effect.fail("first handler fails")
            yield* socket.run(() => {})
          })
        ).pipe(
          Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
          Logger.withMinimumLogLevel(LogLevel.All),
          Effect.forkScoped
        )
        const first = yield* Tcp.connect({ host: "127.0.0.1", port })
        expect(yield* readText(first)).toBe("#1")
        // Logged at the unhandled-error level (Debug), as @effect/platform-node's server does.
        expect(logged.map(({ level, message }) => [level, (message as ReadonlyArray<unknown>)[0]])).toEqual([
          ["DEBUG", "effect-net: SocketServer handler failed"]
        ])
        const second = yield* Tcp.connect({ host: "127.0.0.1", port })
        const third = yield* Tcp.connect({ host: "127.0.0.1", port })
        expect(decoder.decode(Option.getOrThrow(yield* second.recv))).toBe("#2")
        // With one handler at a time the third waits for the second.
        yield* Effect.sleep("50 millis")
        expect(yield* Ref.get(handled)).toBe(2)
        yield* second.endWrite
        expect(decoder.decode(Option.getOrThrow(yield* third.recv))).toBe("#3")
        yield* third.endWrite
      }))

    live("a port in use is SocketServerError Open with the BindError as cause", () =>
      Effect.gen(function*() {
        const taken = yield* Tcp.listen()
        const error = yield* Effect.flip(PlatformSocket.makeServer({ port: taken.address.port }))
        expect(error._tag).toBe("SocketServerError")
        expect(error.reason).toBe("Open")
        expect(error.cause).toMatchObject({ _tag: "BindError", reason: "AddressInUse" })
        const invalid = yield* Effect.flip(PlatformSocket.makeServer({ host: "not a host" }))
        expect(invalid.cause).toMatchObject({ _tag: "AddressError" })
      }))
  })
})

describe("PlatformSocket faults on TestNetwork", () => {
  const simulated = <A, E>(test: Effect.Effect<A, E, Network | TestNetwork.TestNetwork | Scope.Scope>) =>
    test.pipe(Effect.scoped, Effect.provide(TestNetwork.layer({ seed: 7 })))

  it.effect("a connect that times out is Open with ConnectError TimedOut", () =>
    simulated(Effect.gen(function*() {
      const listener = yield* Tcp.listen({ host: "127.0.0.2" })
      yield* TestNetwork.setFaults({ stall: true })
      const socket = yield* PlatformSocket.makeNet({
        host: "127.0.0.2",
        port: listener.address.port,
        localAddress: "127.0.0.3",
        timeout: "1 second"
      })
      const running = yield* Effect.fork(socket.run(() => {}))
      yield* TestClock.adjust("1 second")
      const error = yield* Effect.flip(Fiber.join(running))
      expect(error).toMatchObject({ reason: "Open" })
      expect((error as Socket.SocketGenericError).cause).toMatchObject({ _tag: "ConnectError", reason: "TimedOut" })
    })))

  it.effect("a reset is Read with ReadError ConnectionReset, and a later write is Write with the WriteError", () =>
    simulated(Effect.gen(function*() {
      const listener = yield* Tcp.listen({ host: "127.0.0.2" })
      const client = yield* Tcp.connect({ host: "127.0.0.2", port: listener.address.port, localAddress: "127.0.0.3" })
      const accepted = yield* listener.accept
      yield* TestNetwork.setFaults({ resetAfterBytes: 10 })
      const socket = yield* PlatformSocket.fromConnection(client)
      const write = yield* socket.writer
      // The reset may already fail this send: what matters is what the Socket sees.
      yield* Effect.ignore(accepted.send(new Uint8Array(100)))
      const error = yield* Effect.flip(socket.run(() => {}))
      expect(error).toMatchObject({ reason: "Read" })
      const cause = (error as Socket.SocketGenericError).cause
      expect(cause).toBeInstanceOf(ReadError)
      expect((cause as ReadError).reason).toBe("ConnectionReset")
      const writeFailure = yield* Effect.flip(write("after the reset"))
      expect(writeFailure).toMatchObject({ reason: "Write" })
      expect((writeFailure as Socket.SocketGenericError).cause).toBeInstanceOf(WriteError)
      expect(((writeFailure as Socket.SocketGenericError).cause as WriteError).reason).toBe("ConnectionReset")
    })))
})
