import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Fiber, Option, Schedule, Stream } from "effect"
import type { UdpSocket } from "../../src/Network.js"
import * as NodeNetwork from "../../src/NodeNetwork.js"
import * as Udp from "../../src/Udp.js"
import { checkNoSocketLeaks, openSocketHandles } from "../utils/handles.js"

checkNoSocketLeaks()

const live = <A, E>(effect: Effect.Effect<A, E, any>) =>
  // `any`: the tests' effects need Network and Scope, both provided here.
  effect.pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)) as Effect.Effect<A, E>

const decoder = new TextDecoder()
const text = (bytes: Uint8Array) => decoder.decode(bytes)
const pattern = (size: number, seed: number) => Uint8Array.from({ length: size }, (_, i) => (i * 31 + seed) & 0xff)
const udpHandles = () => openSocketHandles().filter((handle) => handle.startsWith("UDP"))

/** Polls (every 10 ms, at most 5 s) until `check` holds. */
// `repeat` with a schedule returns the schedule's output, not the check's:
// the check is asked once more for the verdict.
const eventually = (check: Effect.Effect<boolean>) =>
  check.pipe(
    Effect.repeat({ until: (done) => done, schedule: Schedule.spaced("10 millis").pipe(Schedule.upTo("5 seconds")) }),
    Effect.zipRight(check),
    Effect.flatMap((done) => (done ? Effect.void : Effect.dieMessage("condition not reached within 5 seconds")))
  )

/** Nothing more arrives within a short grace period. */
const nothingMore = (socket: UdpSocket) =>
  Effect.map(Effect.timeoutOption(socket.recv, "100 millis"), Option.isNone)

describe("Udp.bind", () => {
  it.live("binds 127.0.0.1 and an ephemeral port by default", () =>
    live(Effect.gen(function*() {
      const socket = yield* Udp.bind()
      expect(socket.address).toMatchObject({ family: "IPv4", host: "127.0.0.1" })
      expect(socket.address.port).toBeGreaterThan(0)
    })))

  it.live("binds ::1 for family IPv6, and resolves host names", () =>
    live(Effect.gen(function*() {
      const six = yield* Udp.bind({ family: "IPv6" })
      expect(six.address).toMatchObject({ family: "IPv6", host: "::1" })
      const named = yield* Udp.bind({ host: "localhost" })
      expect(named.address).toMatchObject({ family: "IPv4", host: "127.0.0.1" })
      const tuned = yield* Udp.bind({ broadcast: true, ttl: 64 })
      expect(tuned.address.port).toBeGreaterThan(0)
    })))

  it.live("fails with AddressInUse on a taken port, unless both sockets reuse the address", () =>
    live(Effect.gen(function*() {
      const first = yield* Udp.bind()
      const error = yield* Effect.flip(Udp.bind({ port: first.address.port }))
      expect(error).toMatchObject({ _tag: "BindError", reason: "AddressInUse", code: "EADDRINUSE" })
      expect(error.message).toContain(`127.0.0.1:${first.address.port}`)

      const shared = yield* Udp.bind({ reuseAddress: true })
      const again = yield* Udp.bind({ port: shared.address.port, reuseAddress: true })
      expect(again.address.port).toBe(shared.address.port)
    })))

  it.live("frees the port when its scope ends", () =>
    live(Effect.gen(function*() {
      const port = yield* Effect.scoped(Effect.map(Udp.bind(), (socket) => socket.address.port))
      const again = yield* Udp.bind({ port })
      expect(again.address.port).toBe(port)
    })))

  it.live("rejects bad addresses and options before opening a socket", () =>
    live(Effect.gen(function*() {
      const cases = [
        [{ port: 70_000 }, "AddressError", "InvalidPort"],
        [{ port: -1 }, "AddressError", "InvalidPort"],
        [{ port: 1.5 }, "AddressError", "InvalidPort"],
        [{ host: "not a host!" }, "AddressError", "InvalidHost"],
        [{ host: "::1", family: "IPv4" }, "AddressError", "InvalidHost"],
        [{ host: "127.0.0.1", family: "IPv6" }, "AddressError", "InvalidHost"],
        [{ host: "no-such-host.invalid" }, "AddressError", "HostNotFound"],
        [{ receiveBufferSize: 0 }, "BindError", "InvalidArgument"],
        [{ receiveBufferSize: 2.5 }, "BindError", "InvalidArgument"],
        [{ ttl: 0 }, "BindError", "InvalidArgument"],
        [{ ttl: 256 }, "BindError", "InvalidArgument"],
        [{ overflow: "dropAll" }, "BindError", "InvalidArgument"]
      ] as const
      for (const [options, tag, reason] of cases) {
        const error = yield* Effect.flip(Udp.bind(options as Udp.UdpBindOptions))
        expect({ options, tag: error._tag, reason: error.reason }).toEqual({ options, tag, reason })
        expect(udpHandles()).toEqual([])
      }
    })))
})

describe("UdpSocket send and recv", () => {
  it.live("round-trips on IPv4 with the sender's address in `from`", () =>
    live(Effect.gen(function*() {
      const client = yield* Udp.bind()
      const server = yield* Udp.bind()
      yield* client.send("Hello, UDP Server!", server.address)
      const request = yield* server.recv
      expect(text(request.payload)).toBe("Hello, UDP Server!")
      expect(request.from).toEqual(client.address)
      yield* server.send("Hello, UDP Client!", request.from)
      const reply = yield* client.recv
      expect(text(reply.payload)).toBe("Hello, UDP Client!")
      expect(reply.from).toEqual(server.address)
    })))

  it.live("round-trips on ::1, with a { host, port } destination", () =>
    live(Effect.gen(function*() {
      const client = yield* Udp.bind({ host: "::1" })
      const server = yield* Udp.bind({ host: "[::1]" })
      yield* client.send("über v6 ✓", { host: "::1", port: server.address.port })
      const request = yield* server.recv
      expect(text(request.payload)).toBe("über v6 ✓")
      expect(request.from).toEqual({ family: "IPv6", host: "::1", port: client.address.port })
      yield* server.send(new Uint8Array([1, 2, 3]), request.from)
      expect(Array.from((yield* client.recv).payload)).toEqual([1, 2, 3])
    })))

  it.live("keeps datagram boundaries for 0, 1, 1000 and 65507 bytes", () =>
    live(Effect.gen(function*() {
      const sender = yield* Udp.bind()
      const receiver = yield* Udp.bind()
      const sizes = [0, 1, 1000, Udp.maxPayload.IPv4, 7, 0]
      for (const [i, size] of sizes.entries()) yield* sender.send(pattern(size, i), receiver.address)
      for (const [i, size] of sizes.entries()) {
        const datagram = yield* receiver.recv
        expect(datagram.payload.byteLength).toBe(size)
        expect(Buffer.compare(datagram.payload, pattern(size, i))).toBe(0)
      }
    })))

  it.live("sends the largest IPv6 payload", () =>
    live(Effect.gen(function*() {
      const sender = yield* Udp.bind({ family: "IPv6" })
      const receiver = yield* Udp.bind({ family: "IPv6" })
      yield* sender.send(pattern(Udp.maxPayload.IPv6, 3), receiver.address)
      const datagram = yield* receiver.recv
      expect(Buffer.compare(datagram.payload, pattern(Udp.maxPayload.IPv6, 3))).toBe(0)
      const error = yield* Effect.flip(sender.send(new Uint8Array(Udp.maxPayload.IPv6 + 1), receiver.address))
      expect(error.reason).toBe("MessageTooLarge")
    })))

  it.live("fails with MessageTooLarge over 65507 bytes on IPv4, strings measured in UTF-8", () =>
    live(Effect.gen(function*() {
      const sender = yield* Udp.bind()
      const receiver = yield* Udp.bind()
      const error = yield* Effect.flip(sender.send(new Uint8Array(65_508), receiver.address))
      expect(error).toMatchObject({ _tag: "SendError", reason: "MessageTooLarge" })
      expect(error.message).toContain("65508")
      // 21,836 three-byte characters: 65,508 bytes although only 21,836 code units.
      const wide = yield* Effect.flip(sender.send("€".repeat(21_836), receiver.address))
      expect(wide.reason).toBe("MessageTooLarge")
      yield* sender.send("€".repeat(21_835), receiver.address)
      expect((yield* receiver.recv).payload.byteLength).toBe(65_505)
      // The socket is still usable.
      yield* sender.send("still here", receiver.address)
      expect(text((yield* receiver.recv).payload)).toBe("still here")
    })))

  it.live("fails with InvalidAddress or HostNotFound for bad destinations", () =>
    live(Effect.gen(function*() {
      const socket = yield* Udp.bind()
      const cases = [
        [{ host: "127.0.0.1", port: 0 }, "InvalidAddress"],
        [{ host: "127.0.0.1", port: 65_536 }, "InvalidAddress"],
        [{ host: "127.0.0.1", port: Number.NaN }, "InvalidAddress"],
        [{ host: "not a host!", port: 9 }, "InvalidAddress"],
        [{ host: "", port: 9 }, "InvalidAddress"],
        [{ host: "::1", port: 9 }, "InvalidAddress"],
        [{ host: "no-such-host.invalid", port: 9 }, "HostNotFound"]
      ] as const
      for (const [to, reason] of cases) {
        const error = yield* Effect.flip(socket.send("x", to))
        expect({ to, tag: error._tag, reason: error.reason }).toEqual({ to, tag: "SendError", reason })
      }
      const missing = yield* Effect.flip(socket.send("x"))
      expect(missing.reason).toBe("InvalidAddress")
      expect(missing.message).toContain("not connected")
    })))

  it.live("sends to a host name", () =>
    live(Effect.gen(function*() {
      const sender = yield* Udp.bind()
      const receiver = yield* Udp.bind()
      yield* sender.send("by name", { host: "localhost", port: receiver.address.port })
      expect(text((yield* receiver.recv).payload)).toBe("by name")
    })))

  it.live("serves concurrent receivers one datagram each", () =>
    live(Effect.gen(function*() {
      const sender = yield* Udp.bind()
      const receiver = yield* Udp.bind()
      const fibers = yield* Effect.forEach([1, 2, 3], () => Effect.fork(receiver.recv))
      yield* Effect.forEach(["a", "b", "c"], (payload) => sender.send(payload, receiver.address))
      const received = yield* Effect.forEach(fibers, Fiber.join)
      expect(received.map((datagram) => text(datagram.payload)).sort()).toEqual(["a", "b", "c"])
    })))
})

describe("UdpSocket datagrams", () => {
  it.live("streams datagrams in order and ends when the socket closes", () =>
    live(Effect.gen(function*() {
      const sender = yield* Udp.bind()
      const receiver = yield* Udp.bind()
      const messages = Array.from({ length: 50 }, (_, i) => `message ${i}`)
      for (const message of messages) yield* sender.send(message, receiver.address)
      const collected = yield* receiver.datagrams.pipe(
        Stream.map((datagram) => text(datagram.payload)),
        Stream.take(messages.length),
        Stream.runCollect
      )
      expect(Chunk.toReadonlyArray(collected)).toEqual(messages)

      const got = yield* Deferred.make<void>()
      const rest = yield* Effect.fork(Stream.runCollect(receiver.datagrams.pipe(Stream.tap(() => Deferred.succeed(got, undefined)))))
      yield* sender.send("last", receiver.address)
      yield* Deferred.await(got)
      yield* receiver.close
      const tail = yield* Fiber.join(rest)
      expect(Chunk.toReadonlyArray(tail).map((datagram) => text(datagram.payload))).toEqual(["last"])
    })))
})

describe("receive buffer overflow", () => {
  const overflow = (policy: "dropNewest" | "dropOldest") =>
    Effect.gen(function*() {
      const sender = yield* Udp.bind()
      const receiver = yield* Udp.bind({ receiveBufferSize: 4, overflow: policy })
      for (let i = 0; i < 10; i++) yield* sender.send(String(i), receiver.address)
      yield* eventually(Effect.map(receiver.dropped, (dropped) => dropped === 6))
      const kept: Array<string> = []
      for (let i = 0; i < 4; i++) kept.push(text((yield* receiver.recv).payload))
      expect(yield* nothingMore(receiver)).toBe(true)
      expect(yield* receiver.dropped).toBe(6)
      return kept
    })

  it.live("dropNewest keeps the oldest datagrams and counts the drops", () =>
    live(Effect.gen(function*() {
      expect(yield* overflow("dropNewest")).toEqual(["0", "1", "2", "3"])
    })))

  it.live("dropOldest keeps the newest datagrams and counts the drops", () =>
    live(Effect.gen(function*() {
      expect(yield* overflow("dropOldest")).toEqual(["6", "7", "8", "9"])
    })))

  it.live("counts nothing while the buffer has room", () =>
    live(Effect.gen(function*() {
      const sender = yield* Udp.bind()
      const receiver = yield* Udp.bind({ receiveBufferSize: 3 })
      for (const message of ["a", "b", "c"]) yield* sender.send(message, receiver.address)
      const received = yield* Stream.runCollect(Stream.take(receiver.datagrams, 3))
      expect(Chunk.size(received)).toBe(3)
      expect(yield* receiver.dropped).toBe(0)
    })))
})

describe("close", () => {
  it.live("is idempotent; afterwards send and recv fail with Closed and datagrams is empty", () =>
    live(Effect.gen(function*() {
      const socket = yield* Udp.bind()
      const peer = yield* Udp.bind()
      yield* socket.close
      yield* socket.close
      expect(udpHandles()).toHaveLength(1)
      const sendError = yield* Effect.flip(socket.send("x", peer.address))
      expect(sendError).toMatchObject({ _tag: "SendError", reason: "Closed" })
      const recvError = yield* Effect.flip(socket.recv)
      expect(recvError).toMatchObject({ _tag: "ReceiveError", reason: "Closed" })
      expect(Chunk.size(yield* Stream.runCollect(socket.datagrams))).toBe(0)
      const joinError = yield* Effect.flip(socket.joinMulticast("239.255.0.1", "127.0.0.1"))
      expect(joinError._tag).toBe("MulticastError")
    })))

  it.live("wakes a blocked recv with Closed", () =>
    live(Effect.gen(function*() {
      const socket = yield* Udp.bind()
      const waiting = yield* Effect.fork(socket.recv)
      yield* Effect.sleep("20 millis")
      yield* socket.close
      expect(yield* Effect.flip(Fiber.join(waiting))).toMatchObject({ _tag: "ReceiveError", reason: "Closed" })
    })))
})

describe("interruption", () => {
  it.live("interrupting a blocked recv closes its socket", () =>
    live(Effect.gen(function*() {
      const bound = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(live(
        Udp.bind().pipe(Effect.tap(() => Deferred.succeed(bound, undefined)), Effect.flatMap((socket) => socket.recv))
      ))
      yield* Deferred.await(bound)
      expect(udpHandles()).toHaveLength(1)
      yield* Fiber.interrupt(fiber)
      expect(udpHandles()).toEqual([])
    })))

  it.live("interrupting a running datagrams stream closes its socket", () =>
    live(Effect.gen(function*() {
      const sender = yield* Udp.bind()
      const bound = yield* Deferred.make<number>()
      const received = yield* Deferred.make<string>()
      const fiber = yield* Effect.fork(live(
        Effect.gen(function*() {
          const socket = yield* Udp.bind()
          yield* Deferred.succeed(bound, socket.address.port)
          yield* Stream.runForEach(socket.datagrams, (datagram) => Deferred.succeed(received, text(datagram.payload)))
        })
      ))
      const port = yield* Deferred.await(bound)
      yield* sender.send("one", { host: "127.0.0.1", port })
      expect(yield* Deferred.await(received)).toBe("one")
      expect(udpHandles()).toHaveLength(2)
      yield* Fiber.interrupt(fiber)
      expect(udpHandles()).toHaveLength(1)
    })))

  it.live("an interrupted recv loses no datagram", () =>
    live(Effect.gen(function*() {
      const sender = yield* Udp.bind()
      const receiver = yield* Udp.bind()
      const waiting = yield* Effect.fork(receiver.recv)
      yield* Effect.sleep("20 millis")
      yield* Fiber.interrupt(waiting)
      yield* sender.send("kept", receiver.address)
      expect(text((yield* receiver.recv).payload)).toBe("kept")
    })))
})

describe("Udp.connect", () => {
  it.live("sends without a destination and hears only its peer", () =>
    live(Effect.gen(function*() {
      const server = yield* Udp.bind()
      const client = yield* Udp.connect({ host: "127.0.0.1", port: server.address.port })
      expect(client.address).toMatchObject({ family: "IPv4", host: "127.0.0.1" })
      yield* client.send("hi")
      const request = yield* server.recv
      expect(text(request.payload)).toBe("hi")
      expect(request.from).toEqual(client.address)

      const stranger = yield* Udp.bind()
      yield* stranger.send("intruder", client.address)
      yield* server.send("from the peer", request.from)
      const reply = yield* client.recv
      expect(text(reply.payload)).toBe("from the peer")
      expect(reply.from).toEqual(server.address)
      expect(yield* nothingMore(client)).toBe(true)

      // Naming the peer explicitly is allowed; anyone else is not.
      yield* client.send("again", server.address)
      expect(text((yield* server.recv).payload)).toBe("again")
      const elsewhere = yield* Effect.flip(client.send("x", stranger.address))
      expect(elsewhere.reason).toBe("InvalidAddress")
    })))

  it.live("connects over IPv6 and by host name", () =>
    live(Effect.gen(function*() {
      const six = yield* Udp.bind({ family: "IPv6" })
      const client6 = yield* Udp.connect({ host: "::1", port: six.address.port })
      expect(client6.address.family).toBe("IPv6")
      yield* client6.send("v6")
      expect((yield* six.recv).from).toEqual(client6.address)

      const four = yield* Udp.bind()
      const named = yield* Udp.connect({ host: "127.0.0.1", port: four.address.port, bind: { host: "localhost" } })
      yield* named.send("named")
      expect(text((yield* four.recv).payload)).toBe("named")
    })))

  it.live("surfaces ICMP port unreachable as ConnectionRefused, and keeps working", () =>
    live(Effect.gen(function*() {
      const port = yield* Effect.scoped(Effect.map(Udp.bind(), (socket) => socket.address.port))
      const client = yield* Udp.connect({ host: "127.0.0.1", port })
      yield* client.send("anyone?")
      const error = yield* Effect.flip(client.recv)
      expect(error).toMatchObject({ _tag: "ReceiveError", reason: "ConnectionRefused", code: "ECONNREFUSED" })
      expect(error.message).toContain(`127.0.0.1:${port}`)
      // The error is reported once; the socket stays usable.
      yield* client.send("still anyone?")
      const again = yield* Effect.flip(client.datagrams.pipe(Stream.runDrain))
      expect(again.reason).toBe("ConnectionRefused")
    })))

  it.live("rejects bad peers before opening a socket", () =>
    live(Effect.gen(function*() {
      const cases = [
        [{ host: "127.0.0.1", port: 0 }, "AddressError", "InvalidPort"],
        [{ host: "bad host", port: 9 }, "AddressError", "InvalidHost"],
        [{ host: "no-such-host.invalid", port: 9 }, "ConnectError", "HostNotFound"],
        [{ host: "::1", port: 9, bind: { host: "127.0.0.1" } }, "AddressError", "InvalidHost"],
        [{ host: "127.0.0.1", port: 9, receiveBufferSize: -1 }, "BindError", "InvalidArgument"]
      ] as const
      for (const [options, tag, reason] of cases) {
        const error = yield* Effect.flip(Udp.connect(options))
        expect({ options, tag: error._tag, reason: error.reason }).toEqual({ options, tag, reason })
        expect(udpHandles()).toEqual([])
      }
    })))
})

describe("joinMulticast", () => {
  it.live("joins for the life of the scope and leaves when it ends", () =>
    live(Effect.gen(function*() {
      const socket = yield* Udp.bind()
      yield* Effect.scoped(Effect.gen(function*() {
        yield* socket.joinMulticast("239.255.0.1", "127.0.0.1")
        // The kernel refuses a second membership of the same group: proof that we are in it.
        const twice = yield* Effect.flip(socket.joinMulticast("239.255.0.1", "127.0.0.1"))
        expect(twice).toMatchObject({ _tag: "MulticastError", code: "EADDRINUSE" })
      }))
      // Left when the scope ended, so joining again works.
      yield* Effect.scoped(socket.joinMulticast("239.255.0.1", "127.0.0.1"))
      // The membership's scope may outlive the socket: leaving after close is quiet.
      yield* socket.joinMulticast("239.255.0.2", "127.0.0.1")
      yield* socket.close
    })))

  it.live("fails with InvalidGroup for addresses that are not multicast groups of the socket's family", () =>
    live(Effect.gen(function*() {
      const four = yield* Udp.bind()
      const six = yield* Udp.bind({ family: "IPv6" })
      for (const [socket, group] of [[four, "10.0.0.1"], [four, "not-an-ip"], [four, "ff02::1"], [six, "224.0.0.1"], [six, "::1"]] as const) {
        const error = yield* Effect.flip(Effect.scoped(socket.joinMulticast(group)))
        expect({ group, tag: error._tag, reason: error.reason }).toEqual({ group, tag: "MulticastError", reason: "InvalidGroup" })
      }
      const badInterface = yield* Effect.flip(Effect.scoped(four.joinMulticast("239.255.0.3", "::1")))
      expect(badInterface.reason).toBe("AddressNotAvailable")
    })))
})
