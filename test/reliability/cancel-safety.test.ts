/**
 * The README's "Cancel safety" table, claim by claim, on both networks:
 * what an operation interrupted while it waits leaves behind. (Interrupting
 * a blocked `recv`, `accept` or UDP `recv`, `connect` mid-way and a
 * `gracefulClose` are in tcp.test.ts, udp.test.ts and timeouts.test.ts.)
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { type Network, NodeNetwork, Tcp, TestNetwork, Udp } from "effect-net"
import { concatBytes } from "../utils/bytes.js"
import { checkNoSocketLeaks } from "../utils/handles.js"

checkNoSocketLeaks()

const networks = {
  NodeNetwork: NodeNetwork.layer as Layer.Layer<Network.Network>,
  TestNetwork: TestNetwork.layer({ seed: 14 }) as Layer.Layer<Network.Network>
} as const

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

/** Payload `index` of a run of sends: its bytes tell which payload and which offset they are. */
const payload = (index: number, size: number) => Uint8Array.from({ length: size }, (_, i) => (index * 7 + i) % 251)

/** A client connected to a listener on loopback, and the server's end of it. */
const connectedPair = (clientOptions?: Omit<Tcp.ConnectOptions, "host" | "port">) =>
  Effect.gen(function*() {
    const listener = yield* Tcp.listen()
    const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port, ...clientOptions })
    const server = yield* listener.accept
    return { client, server }
  })

/** Everything the peer sends until EOF, as one array. */
const readAll = (connection: Tcp.TcpConnection) =>
  Stream.runFold(connection.stream, [] as Array<Uint8Array>, (parts, chunk) => {
    parts.push(chunk)
    return parts
  }).pipe(Effect.map(concatBytes))

/**
 * Sends payloads to a peer that does not read until one `send` is still
 * waiting after `patience`, and interrupts that one (a timeout is an
 * interruption). Returns the payloads offered, the last one interrupted.
 */
const sendUntilInterrupted = (connection: Tcp.TcpConnection, size: number) =>
  Effect.gen(function*() {
    const offered: Array<Uint8Array> = []
    // Loopback kernel buffers hold a few MiB: 2,000 × 40 KiB is far beyond.
    for (let index = 0; index < 2_000; index++) {
      const bytes = payload(index, size)
      offered.push(bytes)
      if (Option.isNone(yield* Effect.timeoutOption(connection.send(bytes), "100 millis"))) return offered
    }
    return yield* Effect.dieMessage("sendUntilInterrupted: no send ever waited")
  })

for (const [name, layer] of Object.entries(networks)) {
  const run = <A, E>(test: Effect.Effect<A, E, Network.Network | Scope.Scope>) =>
    test.pipe(Effect.scoped, Effect.provide(layer))

  describe(`cancel safety on ${name}`, () => {
    it.live("an interrupted stream pull loses nothing: the next recv gets the bytes", () =>
      run(Effect.gen(function*() {
        const { client, server } = yield* connectedPair()
        const waiting = yield* Effect.fork(Stream.runHead(server.stream))
        yield* Effect.sleep("20 millis")
        yield* Fiber.interrupt(waiting)
        yield* client.send("kept")
        expect(Option.map(yield* server.recv, text)).toEqual(Option.some("kept"))
      })))

    it.live("an interrupted connections pull loses no connection: the next accept gets it", () =>
      run(Effect.gen(function*() {
        const listener = yield* Tcp.listen()
        const waiting = yield* Effect.fork(Stream.runHead(listener.connections))
        yield* Effect.sleep("20 millis")
        yield* Fiber.interrupt(waiting)
        const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
        const server = yield* listener.accept
        expect(server.remoteAddress).toEqual(client.localAddress)
        yield* client.send("hi")
        expect(Option.map(yield* server.recv, text)).toEqual(Option.some("hi"))
      })))

    it.live(
      name === "NodeNetwork"
        ? "an interrupted send has queued its whole payload: the peer reads every byte offered, in order"
        : "an interrupted send has queued a prefix of its payload: the peer reads the bytes offered, in order, up to it",
      () =>
        run(Effect.gen(function*() {
          const { client, server } = yield* connectedPair()
          const size = 40 * 1024
          const offered = concatBytes(yield* sendUntilInterrupted(client, size))
          const ending = yield* Effect.fork(client.endWrite)
          const received = yield* readAll(server)
          yield* Fiber.join(ending)
          expect(Buffer.from(received).equals(Buffer.from(offered.subarray(0, received.length)))).toBe(true)
          // Every payload before the interrupted one was sent whole.
          expect(received.length).toBeGreaterThanOrEqual(offered.length - size)
          // NodeNetwork hands a payload to the socket whole; TestNetwork
          // moves it into its simulated socket buffer as room frees up.
          if (name === "NodeNetwork") expect(received.length).toBe(offered.length)
          else expect(received.length).toBeLessThan(offered.length)
        })),
      30_000
    )

    it.live(
      name === "NodeNetwork"
        ? "an interrupted sink has queued a prefix of whole elements"
        : "an interrupted sink has queued a prefix of the bytes of its elements",
      () =>
        run(Effect.gen(function*() {
          const { client, server } = yield* connectedPair()
          const size = 40 * 1024
          // 8 MiB: beyond what the kernel's loopback buffers take from a peer that does not read.
          const elements = Array.from({ length: 200 }, (_, index) => payload(index, size))
          const finished = yield* Effect.timeoutOption(Stream.run(Stream.fromIterable(elements), client.sink), "300 millis")
          expect(Option.isNone(finished)).toBe(true)
          const ending = yield* Effect.fork(client.endWrite)
          const received = yield* readAll(server)
          yield* Fiber.join(ending)
          const offered = concatBytes(elements)
          expect(received.length).toBeGreaterThan(0)
          expect(received.length).toBeLessThan(offered.length)
          expect(Buffer.from(received).equals(Buffer.from(offered.subarray(0, received.length)))).toBe(true)
          if (name === "NodeNetwork") expect(received.length % size).toBe(0)
        })),
      30_000
    )

    it.live("an interrupted endWrite has committed the FIN: the peer reads everything, then EOF", () =>
      run(Effect.gen(function*() {
        const { client, server } = yield* connectedPair()
        yield* sendUntilInterrupted(client, 40 * 1024)
        const ending = yield* Effect.fork(client.endWrite)
        yield* Effect.sleep("20 millis")
        yield* Fiber.interrupt(ending)
        // The stream ends: the FIN went out once the peer took the bytes.
        const received = yield* readAll(server).pipe(Effect.timeout("10 seconds"))
        expect(received.length).toBeGreaterThan(0)
        expect(yield* client.endWrite).toBeUndefined()
      })), 30_000)

    it.live("an interrupted close has committed the close: sends fail Closed and the peer's reads end", () =>
      run(Effect.gen(function*() {
        const { client, server } = yield* connectedPair({ closeTimeout: "200 millis" })
        yield* sendUntilInterrupted(client, 40 * 1024)
        const closing = yield* Effect.fork(client.close)
        yield* Effect.sleep("20 millis")
        yield* Fiber.interrupt(closing)
        const send = yield* Effect.flip(client.send("late"))
        expect([send._tag, send.reason]).toEqual(["WriteError", "Closed"])
        // EOF once flushed, or a reset if closeTimeout destroyed the socket first.
        const ended = yield* Effect.either(readAll(server)).pipe(Effect.timeout("10 seconds"))
        if (Either.isLeft(ended)) expect(ended.left.reason).toBe("ConnectionReset")
        yield* client.close
      })), 30_000)

    it.live("an interrupted datagrams pull loses no datagram: the next recv gets it", () =>
      run(Effect.gen(function*() {
        const sender = yield* Udp.bind()
        const receiver = yield* Udp.bind()
        const waiting = yield* Effect.fork(Stream.runHead(receiver.datagrams))
        yield* Effect.sleep("20 millis")
        yield* Fiber.interrupt(waiting)
        yield* sender.send("kept", receiver.address)
        const datagram = yield* receiver.recv
        expect([text(datagram.payload), datagram.from]).toEqual(["kept", sender.address])
      })))

    it.live("UDP close discards the datagrams still buffered: recv fails Closed", () =>
      run(Effect.gen(function*() {
        const sender = yield* Udp.bind()
        const receiver = yield* Udp.bind()
        yield* Effect.forEach(["one", "two", "three"], (message) => sender.send(message, receiver.address))
        // The first has arrived, so the others are (or are about to be) buffered.
        expect(text((yield* receiver.recv).payload)).toBe("one")
        yield* Effect.sleep("20 millis")
        yield* receiver.close
        const error = yield* Effect.flip(receiver.recv)
        expect([error._tag, error.reason]).toEqual(["ReceiveError", "Closed"])
      })))
  })
}
