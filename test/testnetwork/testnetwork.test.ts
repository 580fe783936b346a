import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import type { Network, TcpConnection } from "../../src/Network.js"
import * as Tcp from "../../src/Tcp.js"
import * as TestNetwork from "../../src/TestNetwork.js"
import * as Udp from "../../src/Udp.js"

const decoder = new TextDecoder()
const text = (bytes: Uint8Array) => decoder.decode(bytes)

const readAll = (conn: TcpConnection) =>
  conn.stream.pipe(Stream.runCollect, Effect.map((chunks) => Chunk.toReadonlyArray(chunks).map(text).join("")))

/** Runs `test` on a fresh simulated network, TestClock driving time. */
const simulated = <A, E, R>(test: Effect.Effect<A, E, R>, seed?: number) =>
  test.pipe(Effect.scoped, Effect.provide(TestNetwork.layer({ seed })))

/** A listener on 127.0.0.2 and a connection to it from 127.0.0.3, both ends. */
const pair = (options?: Omit<Tcp.ConnectOptions, "host" | "port">) =>
  Effect.gen(function*() {
    const listener = yield* Tcp.listen({ host: "127.0.0.2" })
    const client = yield* Tcp.connect({ host: "127.0.0.2", port: listener.address.port, localAddress: "127.0.0.3", ...options })
    const server = yield* listener.accept
    return { listener, client, server }
  })

const isDone = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) => Effect.map(Fiber.poll(fiber), Option.isSome)

describe("TestNetwork", () => {
  describe("addresses and ports", () => {
    it.effect("ephemeral ports are handed out per host from 49152, the same on every run", () =>
      simulated(Effect.gen(function*() {
        const a = yield* Tcp.listen()
        const b = yield* Tcp.listen()
        const c = yield* Tcp.listen({ host: "127.0.0.2" })
        const u = yield* Udp.bind()
        expect([a.address.port, b.address.port, c.address.port, u.address.port]).toEqual([49152, 49153, 49152, 49152])
      })))

    it.effect("a wildcard listener accepts connections to any of its family's hosts", () =>
      simulated(Effect.gen(function*() {
        const listener = yield* Tcp.listen({ host: "0.0.0.0" })
        const conn = yield* Tcp.connect({ host: "127.0.0.9", port: listener.address.port })
        expect(conn.remoteAddress.host).toBe("127.0.0.9")
        const server = yield* listener.accept
        expect(server.localAddress.host).toBe("127.0.0.9")
        const conflict = yield* Effect.flip(Tcp.listen({ host: "127.0.0.9", port: listener.address.port }))
        expect(conflict.reason).toBe("AddressInUse")
      })))

    // Real-socket tests may not bind `::` (all interfaces), so these rules
    // of Linux (through Node) are checked here only: a plain `::` socket is
    // dual-stack, takes the port on every IPv4 address too and sees IPv4
    // peers as ::ffff:a.b.c.d; with ipv6Only it leaves IPv4 alone.
    it.effect("`::` with ipv6Only leaves IPv4 on its port free; IPv4 clients reach the IPv4 listener", () =>
      simulated(Effect.gen(function*() {
        const six = yield* Tcp.listen({ host: "::", ipv6Only: true })
        const port = six.address.port
        const four = yield* Tcp.listen({ host: "127.0.0.1", port })
        const wildcardFour = yield* Effect.flip(Tcp.listen({ host: "0.0.0.0", port }))
        expect(wildcardFour.reason).toBe("AddressInUse") // taken by 127.0.0.1, not by `::`
        yield* Tcp.connect({ host: "127.0.0.1", port })
        expect((yield* four.accept).localAddress).toEqual({ family: "IPv4", host: "127.0.0.1", port })
        yield* Tcp.connect({ host: "::1", port })
        expect((yield* six.accept).localAddress).toEqual({ family: "IPv6", host: "::1", port })
        const alone = yield* Tcp.listen({ host: "::", ipv6Only: true })
        const refused = yield* Effect.flip(Tcp.connect({ host: "127.0.0.1", port: alone.address.port }))
        expect(refused.reason).toBe("ConnectionRefused")
      })))

    it.effect("a plain `::` listener is dual-stack: it takes IPv4's port and names IPv4 peers ::ffff:a.b.c.d", () =>
      simulated(Effect.gen(function*() {
        const dual = yield* Tcp.listen({ host: "::" })
        const port = dual.address.port
        for (const host of ["127.0.0.1", "0.0.0.0", "::1"]) {
          const conflict = yield* Effect.flip(Tcp.listen({ host, port }))
          expect([host, conflict.reason]).toEqual([host, "AddressInUse"])
        }
        const client = yield* Tcp.connect({ host: "127.0.0.5", port })
        expect(client.remoteAddress).toEqual({ family: "IPv4", host: "127.0.0.5", port })
        const server = yield* dual.accept
        expect(server.localAddress).toEqual({ family: "IPv6", host: "::ffff:127.0.0.5", port })
        expect(server.remoteAddress).toEqual({ family: "IPv6", host: "::ffff:127.0.0.1", port: client.localAddress.port })
      })))

    it.effect("a UDP socket on `::` hears IPv4 senders as ::ffff:a.b.c.d and answers them", () =>
      simulated(Effect.gen(function*() {
        const dual = yield* Udp.bind({ host: "::" })
        const four = yield* Udp.bind({ host: "127.0.0.2" })
        yield* four.send("hi", { host: "127.0.0.1", port: dual.address.port })
        const request = yield* dual.recv
        expect(request.from).toEqual({ family: "IPv6", host: "::ffff:127.0.0.2", port: four.address.port })
        yield* dual.send("hello", request.from)
        expect((yield* four.recv).from).toEqual({ family: "IPv4", host: "127.0.0.1", port: dual.address.port })
      })))

    it.effect("localhost is 127.0.0.1 only unless `hosts` says otherwise, as this machine's resolver has it", () =>
      Effect.gen(function*() {
        const reach = (layer: Layer.Layer<Network | TestNetwork.TestNetwork, TestNetwork.InvalidArgument>) =>
          Effect.gen(function*() {
            const six = yield* Tcp.listen({ host: "::1" })
            const connected = yield* Effect.either(Tcp.connect({ host: "localhost", port: six.address.port }))
            const socket = yield* Udp.bind({ family: "IPv6" })
            const sent = yield* Effect.either(socket.send("x", { host: "localhost", port: socket.address.port }))
            return [connected._tag, sent._tag === "Left" ? sent.left.reason : "sent"]
          }).pipe(Effect.scoped, Effect.provide(layer))
        expect(yield* reach(TestNetwork.layer())).toEqual(["Left", "HostNotFound"])
        // A trailing dot counts, as in the hosts file lookup NodeNetwork goes through here.
        const dotted = yield* Effect.flip(Effect.scoped(Tcp.listen({ host: "localhost." })).pipe(Effect.provide(TestNetwork.layer())))
        expect([dotted._tag, dotted.reason]).toEqual(["AddressError", "HostNotFound"])
        expect(yield* reach(TestNetwork.layer({ hosts: { localhost: ["127.0.0.1", "::1"] } }))).toEqual(["Right", "sent"])
      }))

    it.effect("IPv4-mapped addresses count as their IPv4 host in controls and snapshots", () =>
      simulated(Effect.gen(function*() {
        const listener = yield* Tcp.listen({ host: "::ffff:127.0.0.2" })
        yield* TestNetwork.partition("127.0.0.3", "::ffff:127.0.0.2")
        const cut = yield* Effect.fork(Tcp.connect({ host: "127.0.0.2", port: listener.address.port, localAddress: "127.0.0.3", timeout: "1 second" }))
        yield* TestClock.adjust("1 second")
        expect((yield* Effect.flip(Fiber.join(cut))).reason).toBe("TimedOut")
        const listeners = (yield* TestNetwork.snapshot("127.0.0.2")).tcpListeners
        expect(listeners.map((info) => [info.host, info.address.host])).toEqual([["127.0.0.2", "::ffff:127.0.0.2"]])
      })))

    it.effect("host names resolve through the layer's `hosts`", () =>
      Effect.gen(function*() {
        const listener = yield* Tcp.listen({ host: "db.test" })
        expect(listener.address.host).toBe("127.0.0.9")
        const conn = yield* Tcp.connect({ host: "DB.test", port: listener.address.port })
        expect(conn.remoteAddress.host).toBe("127.0.0.9")
        const unknown = yield* Effect.flip(Tcp.connect({ host: "cache.test", port: 1 }))
        expect(unknown.reason).toBe("HostNotFound")
      }).pipe(Effect.scoped, Effect.provide(TestNetwork.layer({ hosts: { "db.test": "127.0.0.9" } }))))
  })

  describe("TCP faults", () => {
    it.effect("latency delays the handshake and every byte, by the Clock", () =>
      simulated(Effect.gen(function*() {
        yield* TestNetwork.setFaults({ latency: "100 millis" })
        const listener = yield* Tcp.listen({ host: "127.0.0.2" })
        const connecting = yield* Effect.fork(Tcp.connect({ host: "127.0.0.2", port: listener.address.port }))
        yield* TestClock.adjust("199 millis")
        expect(yield* isDone(connecting)).toBe(false)
        yield* TestClock.adjust("1 millis")
        const client = yield* Fiber.join(connecting)
        const server = yield* listener.accept
        yield* client.send("ping")
        const receiving = yield* Effect.fork(server.recv)
        yield* TestClock.adjust("99 millis")
        expect(yield* isDone(receiving)).toBe(false)
        yield* TestClock.adjust("1 millis")
        expect(Option.map(yield* Fiber.join(receiving), text)).toEqual(Option.some("ping"))
        expect(yield* Clock.currentTimeMillis).toBe(300)
      })))

    it.effect("bandwidth queues bytes on the link", () =>
      simulated(Effect.gen(function*() {
        const { client, server } = yield* pair()
        yield* TestNetwork.setFaults({ bandwidth: 1000 })
        yield* client.send(new Uint8Array(500))
        yield* client.send(new Uint8Array(500))
        const first = yield* Effect.fork(server.recv)
        yield* TestClock.adjust("499 millis")
        expect(yield* isDone(first)).toBe(false)
        yield* TestClock.adjust("1 millis")
        expect(Option.map(yield* Fiber.join(first), (b) => b.length)).toEqual(Option.some(500))
        const second = yield* Effect.fork(server.recv)
        yield* TestClock.adjust("499 millis")
        expect(yield* isDone(second)).toBe(false)
        yield* TestClock.adjust("1 millis")
        expect(Option.map(yield* Fiber.join(second), (b) => b.length)).toEqual(Option.some(500))
      })))

    it.effect("sliceBytes delivers in chunks of at most that size", () =>
      simulated(Effect.gen(function*() {
        const { client, server } = yield* pair()
        yield* TestNetwork.setFaults({ sliceBytes: 3 })
        yield* client.send("0123456789")
        yield* client.endWrite
        const chunks = yield* Stream.runCollect(Stream.mapChunks(server.stream, (c) => Chunk.of(Chunk.toReadonlyArray(c).map(text))))
        expect(Chunk.toReadonlyArray(chunks)).toEqual([["012", "345", "678", "9"]])
      })))

    it.effect("slowClose delays the FIN, not the data before it", () =>
      simulated(Effect.gen(function*() {
        const { client, server } = yield* pair()
        yield* TestNetwork.setFaults({ slowClose: "5 seconds" })
        yield* client.send("last")
        yield* client.endWrite
        expect(Option.map(yield* server.recv, text)).toEqual(Option.some("last"))
        const eof = yield* Effect.fork(server.recv)
        yield* TestClock.adjust("4 seconds")
        expect(yield* isDone(eof)).toBe(false)
        yield* TestClock.adjust("1 second")
        expect(yield* Fiber.join(eof)).toEqual(Option.none())
      })))

    it.effect("resetAfterBytes delivers that many bytes, then both sides see ConnectionReset", () =>
      simulated(Effect.gen(function*() {
        const { client, server } = yield* pair()
        yield* TestNetwork.setFaults({ resetAfterBytes: 5 })
        const sendError = yield* Effect.flip(client.send("hello world"))
        expect(sendError.reason).toBe("ConnectionReset")
        expect(Option.map(yield* server.recv, text)).toEqual(Option.some("hello"))
        expect((yield* Effect.flip(server.recv)).reason).toBe("ConnectionReset")
        expect((yield* Effect.flip(client.recv)).reason).toBe("ConnectionReset")
        expect((yield* Effect.flip(server.send("x"))).reason).toBe("ConnectionReset")
        const snapshot = yield* TestNetwork.snapshot()
        expect(snapshot.tcpConnections.map((c) => c.state)).toEqual(["Reset", "Reset"])
      })))

    it.effect("refuse refuses connects to a listening port", () =>
      simulated(Effect.gen(function*() {
        const listener = yield* Tcp.listen()
        yield* TestNetwork.setFaults({ refuse: true })
        const error = yield* Effect.flip(Tcp.connect({ host: "127.0.0.1", port: listener.address.port }))
        expect(error.reason).toBe("ConnectionRefused")
        yield* TestNetwork.setFaults({})
        yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
      })))

    it.effect("stall: connect with a timeout fails TimedOut when the TestClock passes it, leaving nothing open", () =>
      simulated(Effect.gen(function*() {
        const listener = yield* Tcp.listen({ host: "127.0.0.2" })
        yield* TestNetwork.setFaults({ stall: true })
        const connecting = yield* Effect.fork(
          Effect.scoped(Tcp.connect({ host: "127.0.0.2", port: listener.address.port, localAddress: "127.0.0.3", timeout: "5 seconds" }))
        )
        yield* TestClock.adjust("4999 millis")
        expect(yield* isDone(connecting)).toBe(false)
        yield* TestClock.adjust("1 millis")
        const error = yield* Effect.flip(Fiber.join(connecting))
        expect([error._tag, error.reason]).toEqual(["ConnectError", "TimedOut"])
        expect(TestNetwork.isEmpty(yield* TestNetwork.snapshot("127.0.0.3"))).toBe(true)
      })))

    it.effect("stall: a read with idleTimeout fails TimedOut; lifting the stall lets the data through", () =>
      simulated(Effect.gen(function*() {
        const { client, server } = yield* pair({ idleTimeout: "2 seconds" })
        yield* TestNetwork.setFaults({ stall: true })
        yield* server.send("late")
        const reading = yield* Effect.fork(client.recv)
        yield* TestClock.adjust("2 seconds")
        const error = yield* Effect.flip(Fiber.join(reading))
        expect([error._tag, error.reason]).toEqual(["ReadError", "TimedOut"])
        const packets = yield* TestNetwork.inFlight
        expect(packets.map((p) => [p.protocol, p.kind, text(p.payload), p.held])).toEqual([["tcp", "data", "late", true]])
        yield* TestNetwork.setFaults({})
        expect(Option.map(yield* client.recv, text)).toEqual(Option.some("late"))
      })))

    it.effect("a partition makes connects wait; the kernel gives up after 127 s without a timeout", () =>
      simulated(Effect.gen(function*() {
        const listener = yield* Tcp.listen({ host: "127.0.0.2" })
        yield* TestNetwork.partition("127.0.0.2", "127.0.0.3")
        const connecting = yield* Effect.fork(
          Effect.scoped(Tcp.connect({ host: "127.0.0.2", port: listener.address.port, localAddress: "127.0.0.3" }))
        )
        yield* TestClock.adjust("126 seconds")
        expect(yield* isDone(connecting)).toBe(false)
        yield* TestClock.adjust("1 seconds")
        expect((yield* Effect.flip(Fiber.join(connecting))).reason).toBe("TimedOut")
        // Other hosts are not affected, and healing lets the SYN through.
        yield* Tcp.connect({ host: "127.0.0.2", port: listener.address.port, localAddress: "127.0.0.4" })
        const retry = yield* Effect.fork(Tcp.connect({ host: "127.0.0.2", port: listener.address.port, localAddress: "127.0.0.3" }))
        yield* TestClock.adjust("10 seconds")
        expect(yield* isDone(retry)).toBe(false)
        yield* TestNetwork.heal("127.0.0.2", "127.0.0.3")
        const conn = yield* Fiber.join(retry)
        expect(conn.localAddress.host).toBe("127.0.0.3")
      })))

    it.effect("a partition holds TCP data until healed, as retransmission would", () =>
      simulated(Effect.gen(function*() {
        const { client, server } = yield* pair()
        yield* TestNetwork.partition("127.0.0.2", "127.0.0.3")
        yield* client.send("patience")
        const reading = yield* Effect.fork(server.recv)
        yield* TestClock.adjust("1 minute")
        expect(yield* isDone(reading)).toBe(false)
        yield* TestNetwork.heal("127.0.0.3", "127.0.0.2")
        expect(Option.map(yield* Fiber.join(reading), text)).toEqual(Option.some("patience"))
      })))

    it.effect("backpressure: send waits once 64 KiB are unread, and goes on when the reader reads", () =>
      simulated(Effect.gen(function*() {
        const { client, server } = yield* pair()
        yield* client.send(new Uint8Array(64 * 1024))
        const blocked = yield* Effect.fork(client.send(new Uint8Array(10)))
        yield* TestClock.adjust("1 hour")
        expect(yield* isDone(blocked)).toBe(false)
        expect((yield* TestNetwork.snapshot("127.0.0.2")).tcpConnections[0].unread).toBe(64 * 1024)
        yield* server.recv
        yield* Fiber.join(blocked)
        // A send bigger than the room left is accepted in part, then waits;
        // interrupted, it leaves the connection usable.
        const partial = yield* Effect.fork(client.send(new Uint8Array(64 * 1024)))
        yield* TestClock.adjust("1 second")
        expect(yield* isDone(partial)).toBe(false)
        yield* Fiber.interrupt(partial)
        yield* client.endWrite
        const total = yield* server.stream.pipe(Stream.runFold(0, (n, chunk) => n + chunk.length))
        // The first 64 KiB were read by recv above.
        expect(total).toBe(10 + (64 * 1024 - 10))
      })))

    it.effect("idleTimeout: a send the peer takes nothing of for that long fails TimedOut", () =>
      simulated(Effect.gen(function*() {
        const { client, server } = yield* pair({ idleTimeout: "1 second" })
        yield* client.send(new Uint8Array(60 * 1024))
        const sending = yield* Effect.fork(client.send(new Uint8Array(10 * 1024)))
        yield* TestClock.adjust("999 millis")
        expect(yield* isDone(sending)).toBe(false)
        yield* server.recv // room again: the send goes on
        yield* Fiber.join(sending)
        const stuck = yield* Effect.fork(client.send(new Uint8Array(64 * 1024)))
        yield* TestClock.adjust("1 second")
        const error = yield* Effect.flip(Fiber.join(stuck))
        expect([error._tag, error.reason]).toEqual(["WriteError", "TimedOut"])
      })))

    it.effect("hold keeps one direction's traffic in flight for inspection; release delivers it in order", () =>
      simulated(Effect.gen(function*() {
        const { client, server } = yield* pair()
        yield* TestNetwork.hold({ from: "127.0.0.3", to: "127.0.0.2" })
        yield* client.send("one")
        yield* client.send("two")
        yield* client.endWrite
        yield* server.send("back")
        expect(Option.map(yield* client.recv, text)).toEqual(Option.some("back"))
        const held = yield* TestNetwork.inFlight
        expect(held.map((p) => [p.kind, text(p.payload), p.held, p.from.host, p.to.host])).toEqual([
          ["data", "one", true, "127.0.0.3", "127.0.0.2"],
          ["data", "two", true, "127.0.0.3", "127.0.0.2"],
          ["fin", "", true, "127.0.0.3", "127.0.0.2"]
        ])
        yield* TestNetwork.release({ from: "127.0.0.3", to: "127.0.0.2" })
        expect(yield* readAll(server)).toBe("onetwo")
        expect(yield* TestNetwork.inFlight).toEqual([])
      })))

    it.effect("link faults apply to one direction only", () =>
      simulated(Effect.gen(function*() {
        const { client, server } = yield* pair()
        yield* TestNetwork.setLinkFaults({ from: "127.0.0.3", to: "127.0.0.2" }, { latency: "1 second" })
        yield* server.send("fast")
        expect(Option.map(yield* client.recv, text)).toEqual(Option.some("fast"))
        yield* client.send("slow")
        const reading = yield* Effect.fork(server.recv)
        yield* TestClock.adjust("999 millis")
        expect(yield* isDone(reading)).toBe(false)
        yield* TestClock.adjust("1 millis")
        expect(Option.map(yield* Fiber.join(reading), text)).toEqual(Option.some("slow"))
        yield* TestNetwork.clearLinkFaults({ from: "127.0.0.3", to: "127.0.0.2" })
        yield* client.send("fast again")
        expect(Option.map(yield* server.recv, text)).toEqual(Option.some("fast again"))
      })))

    it.effect("toxicity: a link fault hits a connection or not, decided once per connection from the seed", () => {
      const refusals = (seed: number) =>
        simulated(Effect.gen(function*() {
          const listener = yield* Tcp.listen({ host: "127.0.0.2" })
          yield* TestNetwork.setLinkFaults({ from: "127.0.0.3", to: "127.0.0.2" }, { refuse: true }, { toxicity: 0.5 })
          return yield* Effect.forEach(Array.from({ length: 40 }), () =>
            Effect.scoped(Tcp.connect({ host: "127.0.0.2", port: listener.address.port, localAddress: "127.0.0.3" })).pipe(
              Effect.match({ onFailure: () => "refused", onSuccess: () => "ok" })
            ))
        }), seed)
      return Effect.gen(function*() {
        const first = yield* refusals(7)
        expect(first.filter((r) => r === "refused").length).toBeGreaterThan(5)
        expect(first.filter((r) => r === "ok").length).toBeGreaterThan(5)
        expect(yield* refusals(7)).toEqual(first)
        expect(yield* refusals(8)).not.toEqual(first)
      })
    })

    it.effect("connections nobody accepted are counted as pending, and closed with the listener", () =>
      simulated(Effect.gen(function*() {
        const scope = yield* Scope.make()
        const listener = yield* Scope.extend(Tcp.listen(), scope)
        const quiet = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
        const talking = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
        yield* talking.send("unread")
        expect((yield* TestNetwork.snapshot()).tcpListeners[0].pending).toBe(2)
        yield* Scope.close(scope, Exit.void)
        expect(yield* quiet.recv).toEqual(Option.none())
        expect((yield* Effect.flip(talking.recv)).reason).toBe("ConnectionReset")
      })))
  })

  describe("UDP faults", () => {
    const flow = (count: number) =>
      Effect.gen(function*() {
        const a = yield* Udp.bind({ host: "127.0.0.2" })
        const b = yield* Udp.bind({ host: "127.0.0.3" })
        yield* Effect.forEach(Array.from({ length: count }, (_, i) => String(i)), (p) => a.send(p, b.address))
        return b
      })
    const drain = (socket: Udp.UdpSocket) =>
      Effect.gen(function*() {
        const received: Array<string> = []
        for (let i = 0; i < 1000; i++) {
          const next = yield* Effect.timeoutOption(socket.recv, "1 millis").pipe(Effect.fork)
          yield* TestClock.adjust("1 millis")
          const datagram = yield* Fiber.join(next)
          if (Option.isNone(datagram)) return received
          received.push(text(datagram.value.payload))
        }
        return received
      })

    it.effect("drop = 1 loses everything; drop = 0.5 about half, the same half for the same seed", () =>
      Effect.gen(function*() {
        const lossy = (drop: number, seed: number) =>
          simulated(Effect.zipRight(TestNetwork.setFaults({ drop }), Effect.flatMap(flow(100), drain)), seed)
        expect(yield* lossy(1, 1)).toEqual([])
        const half = yield* lossy(0.5, 1)
        expect(half.length).toBeGreaterThan(30)
        expect(half.length).toBeLessThan(70)
        expect(yield* lossy(0.5, 1)).toEqual(half)
      }))

    it.effect("duplicate = 1 delivers every datagram twice", () =>
      simulated(Effect.gen(function*() {
        yield* TestNetwork.setFaults({ duplicate: 1 })
        expect(yield* Effect.flatMap(flow(3), drain)).toEqual(["0", "0", "1", "1", "2", "2"])
      })))

    it.effect("reorder lets the next datagram of the flow overtake", () =>
      simulated(Effect.gen(function*() {
        yield* TestNetwork.setFaults({ reorder: 1 })
        expect(yield* Effect.flatMap(flow(5), drain)).toEqual(["1", "0", "3", "2", "4"])
      })))

    it.effect("latency and jitter delay datagrams by the Clock", () =>
      simulated(Effect.gen(function*() {
        yield* TestNetwork.setFaults({ latency: "1 second", jitter: "100 millis" })
        const b = yield* flow(1)
        const receiving = yield* Effect.fork(b.recv)
        yield* TestClock.adjust("999 millis")
        expect(yield* isDone(receiving)).toBe(false)
        yield* TestClock.adjust("100 millis")
        expect(text((yield* Fiber.join(receiving)).payload)).toBe("0")
      })))

    it.effect("a partition makes datagrams vanish; healing lets new ones through", () =>
      simulated(Effect.gen(function*() {
        const a = yield* Udp.bind({ host: "127.0.0.2" })
        const b = yield* Udp.bind({ host: "127.0.0.3" })
        yield* TestNetwork.partition("127.0.0.2", "127.0.0.3")
        yield* a.send("lost", b.address)
        yield* TestNetwork.heal("127.0.0.2", "127.0.0.3")
        yield* a.send("found", b.address)
        expect(text((yield* b.recv).payload)).toBe("found")
        expect(yield* TestNetwork.inFlight).toEqual([])
      })))

    it.effect("held datagrams wait for release, overflow is counted when they land", () =>
      simulated(Effect.gen(function*() {
        const a = yield* Udp.bind({ host: "127.0.0.2" })
        const b = yield* Udp.bind({ host: "127.0.0.3", receiveBufferSize: 2 })
        yield* TestNetwork.hold({ from: "127.0.0.2", to: "127.0.0.3" })
        yield* Effect.forEach(["a", "b", "c"], (p) => a.send(p, b.address))
        expect((yield* TestNetwork.inFlight).map((p) => [p.protocol, text(p.payload), p.held])).toEqual([
          ["udp", "a", true],
          ["udp", "b", true],
          ["udp", "c", true]
        ])
        expect(yield* b.dropped).toBe(0)
        yield* TestNetwork.release({ from: "127.0.0.2", to: "127.0.0.3" })
        expect(yield* b.dropped).toBe(1)
        const snapshot = yield* TestNetwork.snapshot("127.0.0.3")
        expect(snapshot.udpSockets.map((s) => [s.queued, s.dropped])).toEqual([[2, 1]])
      })))
  })

  describe("snapshot", () => {
    it.effect("lists what is open, per host, with TCP states", () =>
      simulated(Effect.gen(function*() {
        const { client, listener, server } = yield* pair()
        yield* Udp.bind({ host: "127.0.0.3" })
        yield* client.endWrite
        const all = yield* TestNetwork.snapshot()
        expect(all.tcpListeners).toEqual([{ host: "127.0.0.2", address: listener.address, pending: 0 }])
        expect(all.tcpConnections.map((c) => [c.host, c.state])).toEqual([
          ["127.0.0.3", "FinWait"],
          ["127.0.0.2", "CloseWait"]
        ])
        const clientHost = yield* TestNetwork.snapshot("127.0.0.3")
        expect(clientHost.tcpListeners).toEqual([])
        expect(clientHost.udpSockets.length).toBe(1)
        yield* server.endWrite
        expect((yield* TestNetwork.snapshot("127.0.0.2")).tcpConnections[0].state).toBe("Closing")
        yield* server.close
        yield* client.close
        expect((yield* TestNetwork.snapshot()).tcpConnections).toEqual([])
      })))
  })

  it.effect("invalid faults are a typed InvalidArgument (test/testnetwork/testnetwork-defects.test.ts has every case)", () =>
    simulated(Effect.gen(function*() {
      const error = yield* Effect.flip(TestNetwork.setFaults({ drop: 2 }))
      expect([error._tag, error.operation, error.argument]).toEqual(["InvalidArgument", "setFaults", "faults.drop"])
    })))
})

describe("TestNetwork TCP delivers copies", () => {
  it.effect("a Buffer reused by its sender after send does not change what the peer reads", () =>
    simulated(Effect.gen(function*() {
      const { client, server } = yield* pair()
      const reused = Buffer.from("first")
      yield* client.send(reused)
      reused.write("XXXXX")
      yield* client.send(reused)
      yield* client.endWrite
      expect(yield* readAll(server)).toBe("firstXXXXX")
    })))
})
