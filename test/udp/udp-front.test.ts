import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Layer, Stream } from "effect"
import type * as Scope from "effect/Scope"
import * as Address from "../../src/Address.js"
import type { Network } from "../../src/Network.js"
import * as NodeNetwork from "../../src/NodeNetwork.js"
import * as TestNetwork from "../../src/TestNetwork.js"
import * as Udp from "../../src/Udp.js"
import { checkNoSocketLeaks } from "../utils/handles.js"

// Both networks hand out the UdpSocket of one shared front: what it checks,
// buffers and reports must be the same on each.

checkNoSocketLeaks()

const networks: ReadonlyArray<readonly [string, Layer.Layer<Network>]> = [
  ["NodeNetwork", NodeNetwork.layer],
  ["TestNetwork", Layer.orDie(TestNetwork.layer())]
]

const decoder = new TextDecoder()
const text = (bytes: Uint8Array) => decoder.decode(bytes)

/** Polls (every 5 ms, at most 1000 times) until `check` holds. */
const eventually = (check: Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    for (let attempt = 0; attempt < 1000; attempt++) {
      if (yield* check) return
      yield* Effect.sleep("5 millis")
    }
    return yield* Effect.dieMessage("condition not reached within 1000 polls")
  })

/** `effect` fails with an error matching `expected`. */
const failsWith = <A, E, R>(effect: Effect.Effect<A, E, R>, expected: Record<string, unknown>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    expect(exit).toMatchObject(Exit.fail(expected))
  })

/**
 * A socket whose buffer of `size` holds `size` datagrams, "0" to
 * `String(size - 1)`, known to be all there: one more was sent and dropped.
 */
const fullSocket = (size: number, overflow: "dropNewest" | "dropOldest") =>
  Effect.gen(function*() {
    const receiver = yield* Udp.bind({ receiveBufferSize: size, overflow })
    const sender = yield* Udp.connect({ host: "127.0.0.1", port: receiver.address.port })
    for (let i = 0; i <= size; i++) yield* sender.send(String(i))
    yield* eventually(Effect.map(receiver.dropped, (dropped) => dropped === 1))
    return receiver
  })

describe("the one UdpSocket on both networks", () => {
  it.live("bind and connect give the same class on NodeNetwork and TestNetwork", () =>
    Effect.gen(function*() {
      const prototypes = yield* Effect.forEach(networks, ([, layer]) =>
        Effect.gen(function*() {
          const bound = yield* Udp.bind()
          const connected = yield* Udp.connect({ host: "127.0.0.1", port: bound.address.port })
          expect(Object.getPrototypeOf(connected)).toBe(Object.getPrototypeOf(bound))
          return Object.getPrototypeOf(bound)
        }).pipe(Effect.scoped, Effect.provide(layer)))
      expect(prototypes[0]).toBe(prototypes[1])
      expect(prototypes[0]).not.toBe(Object.prototype)
    }))

  it("isUdpSocket refuses what is not a socket, even with a socket's fields", () => {
    const lookalike = { address: { family: "IPv4", host: "127.0.0.1", port: 1 }, send: () => Effect.void, recv: Effect.never }
    expect(Udp.isUdpSocket(lookalike)).toBe(false)
    expect(Udp.isUdpSocket(null)).toBe(false)
    expect(Udp.isUdpSocket("socket")).toBe(false)
  })

  for (const [name, layer] of networks) {
    const run = <A, E>(effect: Effect.Effect<A, E, Network | Scope.Scope>) =>
      effect.pipe(Effect.scoped, Effect.provide(layer))

    describe(name, () => {
      it.live("sockets carry the UdpSocket TypeId, bound or connected", () =>
        run(Effect.gen(function*() {
          const bound = yield* Udp.bind()
          const connected = yield* Udp.connect({ host: "127.0.0.1", port: bound.address.port })
          expect(Udp.isUdpSocket(bound)).toBe(true)
          expect(Udp.isUdpSocket(connected)).toBe(true)
          expect(bound[Udp.UdpSocketTypeId]).toBe(Udp.UdpSocketTypeId)
          // The TypeId is the class's, not an own field a copy would carry.
          expect(Object.getOwnPropertySymbols(bound)).not.toContain(Udp.UdpSocketTypeId)
        })))

      it.live("a pull of datagrams takes every buffered datagram as one chunk", () =>
        run(Effect.gen(function*() {
          const receiver = yield* fullSocket(4, "dropNewest")
          const first = yield* receiver.datagrams.pipe(Stream.chunks, Stream.take(1), Stream.runCollect)
          expect(Chunk.toReadonlyArray(first).map((chunk) => Chunk.toReadonlyArray(chunk).map((d) => text(d.payload))))
            .toEqual([["0", "1", "2", "3"]])
        })))

      it.live("dropOldest keeps the newest datagrams, recv gives them in order, and each drop is counted", () =>
        run(Effect.gen(function*() {
          const receiver = yield* fullSocket(3, "dropOldest")
          const received = yield* Effect.replicateEffect(receiver.recv, 3)
          expect(received.map((d) => text(d.payload))).toEqual(["1", "2", "3"])
          expect(yield* receiver.dropped).toBe(1)
        })))

      it.live("an IPv6 socket on an IPv4-mapped address carries IPv4's payload limit", () =>
        run(Effect.gen(function*() {
          const socket = yield* Udp.bind({ host: "::ffff:127.0.0.1", family: "IPv6" })
          const tooLarge = new Uint8Array(Udp.maxPayload.IPv4 + 1)
          yield* failsWith(socket.send(tooLarge, { host: "::ffff:127.0.0.1", port: socket.address.port }), {
            _tag: "SendError",
            reason: "MessageTooLarge",
            message: `send of ${tooLarge.length} bytes from ${
              Address.format(socket.address)
            } failed: a UDP datagram over IPv4 carries at most ${Udp.maxPayload.IPv4} bytes`
          })
        })))

      it.live("an address that is not ff00::/8 is no IPv6 multicast group", () =>
        run(Effect.gen(function*() {
          const socket = yield* Udp.bind({ family: "IPv6" })
          yield* failsWith(Effect.scoped(socket.joinMulticast("ff::1")), {
            _tag: "MulticastError",
            reason: "InvalidGroup",
            message: "join multicast group ff::1 failed: not an IPv6 multicast address"
          })
        })))

      it.live("a connect to an IPv6 peer from an IPv4 bind host fails on the bind host", () =>
        run(failsWith(Udp.connect({ host: "::1", port: 9, bind: { host: "127.0.0.1" } }), {
          _tag: "AddressError",
          reason: "InvalidHost",
          message: "bind to 127.0.0.1:0 failed: 127.0.0.1 is not an IPv6 address"
        })))

      it.live("once closed, send and recv fail Closed with the same messages and datagrams ends", () =>
        run(Effect.gen(function*() {
          const socket = yield* Udp.bind()
          const here = `127.0.0.1:${socket.address.port}`
          yield* socket.close
          yield* socket.close
          yield* failsWith(socket.send("late", socket.address), {
            _tag: "SendError",
            reason: "Closed",
            message: `send from ${here} failed: the socket is closed`
          })
          yield* failsWith(socket.recv, {
            _tag: "ReceiveError",
            reason: "Closed",
            message: `receive on ${here} failed: the socket is closed`
          })
          expect(Chunk.size(yield* Stream.runCollect(socket.datagrams))).toBe(0)
        })))
    })
  }
})
