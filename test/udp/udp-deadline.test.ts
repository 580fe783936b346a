import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Option } from "effect"
import type * as Duration from "effect/Duration"
import type * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import type { Network } from "../../src/Network.js"
import * as NodeNetwork from "../../src/NodeNetwork.js"
import * as TestNetwork from "../../src/TestNetwork.js"
import * as Udp from "../../src/Udp.js"
import { checkNoSocketLeaks } from "../utils/handles.js"

// recvWithin (a receive with a deadline) and sendAll (a batch send), the
// same on both networks; the timeout runs in real time on NodeNetwork and on
// the Clock on TestNetwork, where a TestClock moves it.

checkNoSocketLeaks()

const decoder = new TextDecoder()
const text = (bytes: Uint8Array) => decoder.decode(bytes)

/** `effect` fails with an error matching `expected`. */
const failsWith = <A, E, R>(effect: Effect.Effect<A, E, R>, expected: Record<string, unknown>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    expect(exit).toMatchObject(Exit.fail(expected))
  })

/** A receiver and a sender connected to it. */
const pair = Effect.gen(function*() {
  const receiver = yield* Udp.bind()
  const sender = yield* Udp.connect({ host: "127.0.0.1", port: receiver.address.port })
  return { receiver, sender }
})

/** Receives `count` datagrams, each within a bound (on NodeNetwork, real time: generous, only a lost datagram reaches it). */
const receiveTexts = (socket: Udp.UdpSocket, count: number) =>
  Effect.forEach(Array.from({ length: count }), () =>
    Effect.map(socket.recvWithin("5 seconds"), (datagram) => Option.map(datagram, (d) => text(d.payload))))

/** Polls (letting 5 ms pass between polls, at most 1000 times) until `check` holds. */
const eventually = (check: Effect.Effect<boolean>, pass: (millis: number) => Effect.Effect<void>) =>
  Effect.gen(function*() {
    for (let attempt = 0; attempt < 1000; attempt++) {
      if (yield* check) return
      yield* pass(5)
    }
    return yield* Effect.dieMessage("condition not reached within 1000 polls")
  })

interface Case {
  readonly name: string
  readonly layer: Layer.Layer<Network>
  /** How a test lets a timeout of `millis` pass: sleeping in real time, or moving the TestClock. */
  readonly pass: (millis: number) => Effect.Effect<void>
  readonly test: typeof it.live
}

const cases: ReadonlyArray<Case> = [
  {
    name: "NodeNetwork",
    layer: NodeNetwork.layer,
    pass: (millis) => Effect.sleep(millis),
    test: it.live
  },
  {
    name: "TestNetwork",
    layer: Layer.orDie(TestNetwork.layer()),
    pass: (millis) => TestClock.adjust(millis),
    test: it.effect
  }
]

for (const { layer, name, pass, test } of cases) {
  const run = <A, E>(effect: Effect.Effect<A, E, Network | Scope.Scope>) => effect.pipe(Effect.scoped, Effect.provide(layer))

  describe(`recvWithin on ${name}`, () => {
    test("a buffered datagram is returned at once, even with a zero timeout", () =>
      run(Effect.gen(function*() {
        // A buffer of one that dropped the second datagram holds the first for sure.
        const receiver = yield* Udp.bind({ receiveBufferSize: 1 })
        const sender = yield* Udp.connect({ host: "127.0.0.1", port: receiver.address.port })
        yield* sender.send("one")
        yield* sender.send("two")
        yield* eventually(Effect.map(receiver.dropped, (dropped) => dropped === 1), pass)
        const buffered = yield* receiver.recvWithin(0)
        expect(Option.map(buffered, (d) => text(d.payload))).toEqual(Option.some("one"))
        expect(Option.map(buffered, (d) => d.from.port)).toEqual(Option.some(sender.address.port))
        expect(yield* receiver.recvWithin(0)).toEqual(Option.none())
      })))

    test("a datagram arriving while it waits is returned", () =>
      run(Effect.gen(function*() {
        const { receiver, sender } = yield* pair
        const waiting = yield* Effect.fork(receiver.recvWithin("10 seconds"))
        yield* sender.send("late")
        const received = yield* Fiber.join(waiting)
        expect(Option.map(received, (d) => text(d.payload))).toEqual(Option.some("late"))
      })))

    test("None once the timeout passes with nothing received, and the socket still works", () =>
      run(Effect.gen(function*() {
        const { receiver, sender } = yield* pair
        const waiting = yield* Effect.fork(receiver.recvWithin("50 millis"))
        yield* pass(50)
        expect(yield* Fiber.join(waiting)).toEqual(Option.none())
        expect(yield* receiver.recvWithin(0)).toEqual(Option.none())
        yield* sender.send("after")
        expect(yield* receiveTexts(receiver, 1)).toEqual([Option.some("after")])
      })))

    test("receivers waiting at once each end at their own deadline, the earlier one first", () =>
      run(Effect.gen(function*() {
        const { receiver, sender } = yield* pair
        const patient = yield* Effect.fork(receiver.recvWithin("10 seconds"))
        const hasty = yield* Effect.fork(receiver.recvWithin("50 millis"))
        yield* pass(50)
        expect(yield* Fiber.join(hasty)).toEqual(Option.none())
        yield* sender.send("for the patient one")
        expect(Option.map(yield* Fiber.join(patient), (d) => text(d.payload))).toEqual(Option.some("for the patient one"))
      })))

    test("interrupted, it loses nothing: a datagram arriving afterwards is there for the next receive", () =>
      run(Effect.gen(function*() {
        const { receiver, sender } = yield* pair
        const waiting = yield* Effect.fork(receiver.recvWithin("10 seconds"))
        yield* Effect.yieldNow()
        yield* Fiber.interrupt(waiting)
        yield* sender.send("kept")
        expect(text((yield* receiver.recv).payload)).toEqual("kept")
        // The interrupted wait left nothing behind that takes or misses the next one.
        const next = yield* Effect.fork(receiver.recvWithin("10 seconds"))
        yield* sender.send("next")
        expect(Option.map(yield* Fiber.join(next), (d) => text(d.payload))).toEqual(Option.some("next"))
      })))

    test("a timeout that is not a non-negative duration is a typed InvalidArgument", () =>
      run(Effect.gen(function*() {
        const socket = yield* Udp.bind()
        const here = `127.0.0.1:${socket.address.port}`
        yield* failsWith(socket.recvWithin(-1), {
          _tag: "ReceiveError",
          reason: "InvalidArgument",
          message: `receive on ${here} failed: timeout -1 is not a non-negative duration`
        })
        // What a JavaScript caller or a configuration file may pass.
        const bad: ReadonlyArray<unknown> = [Number.NaN, "soon", undefined, "-5 millis"]
        for (const timeout of bad) {
          yield* failsWith(socket.recvWithin(timeout as Duration.DurationInput), {
            _tag: "ReceiveError",
            reason: "InvalidArgument"
          })
        }
      })))

    test("a closed socket fails Closed, as recv does", () =>
      run(Effect.gen(function*() {
        const socket = yield* Udp.bind()
        const waiting = yield* Effect.fork(socket.recvWithin("10 seconds"))
        yield* Effect.yieldNow()
        yield* socket.close
        yield* failsWith(Fiber.join(waiting), { _tag: "ReceiveError", reason: "Closed" })
        yield* failsWith(socket.recvWithin(0), { _tag: "ReceiveError", reason: "Closed" })
      })))
  })

  describe(`sendAll on ${name}`, () => {
    test("delivers every datagram, in order, to a destination on a bound socket", () =>
      run(Effect.gen(function*() {
        const receiver = yield* Udp.bind()
        const sender = yield* Udp.bind()
        const payloads = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? String(i) : new TextEncoder().encode(String(i))))
        yield* sender.sendAll(payloads, { host: "127.0.0.1", port: receiver.address.port })
        expect(yield* receiveTexts(receiver, 20)).toEqual(payloads.map((_, i) => Option.some(String(i))))
      })))

    test("a connected socket sends to its peer without a destination; an empty batch succeeds", () =>
      run(Effect.gen(function*() {
        const { receiver, sender } = yield* pair
        yield* sender.sendAll([])
        yield* sender.sendAll(new Set(["a", "b", "c"]))
        expect(yield* receiveTexts(receiver, 3)).toEqual([Option.some("a"), Option.some("b"), Option.some("c")])
        expect(yield* receiver.recvWithin(0)).toEqual(Option.none())
      })))

    test("a bad payload fails the batch with send's error and sends none of it", () =>
      run(Effect.gen(function*() {
        const { receiver, sender } = yield* pair
        const here = `127.0.0.1:${sender.address.port}`
        yield* failsWith(sender.sendAll(["fine", 42 as never, "never"]), {
          _tag: "SendError",
          reason: "InvalidArgument",
          message: `send from ${here} failed: the data is the number 42, not a Uint8Array or a string`
        })
        const tooLarge = new Uint8Array(Udp.maxPayload.IPv4 + 1)
        yield* failsWith(sender.sendAll(["fine", tooLarge]), {
          _tag: "SendError",
          reason: "MessageTooLarge",
          message: `send of ${tooLarge.length} bytes from ${here} failed: a UDP datagram over IPv4 carries at most ${Udp.maxPayload.IPv4} bytes`
        })
        // A string is iterable, but no batch: it would go one character a datagram.
        yield* failsWith(sender.sendAll("abc" as never), {
          _tag: "SendError",
          reason: "InvalidArgument",
          message: `send from ${here} failed: the batch is the string "abc", not an iterable of payloads`
        })
        yield* failsWith(sender.sendAll(null as never), { _tag: "SendError", reason: "InvalidArgument" })
        yield* sender.send("marker")
        expect(yield* receiveTexts(receiver, 1)).toEqual([Option.some("marker")])
      })))

    test("a destination is checked once, as send checks it", () =>
      run(Effect.gen(function*() {
        const unconnected = yield* Udp.bind()
        const here = `127.0.0.1:${unconnected.address.port}`
        yield* failsWith(unconnected.sendAll(["a", "b"]), {
          _tag: "SendError",
          reason: "InvalidAddress",
          message: `send from ${here} failed: the socket is not connected, so a destination is required`
        })
        yield* failsWith(unconnected.sendAll(["a"], { host: "::1", port: 9 }), {
          _tag: "SendError",
          reason: "InvalidAddress",
          message: "send to [::1]:9 failed: ::1 is not an IPv4 address"
        })
        const { receiver, sender } = yield* pair
        yield* failsWith(sender.sendAll(["a"], { host: "127.0.0.1", port: 9 }), {
          _tag: "SendError",
          reason: "InvalidAddress",
          message: `send to 127.0.0.1:9 failed: the socket is connected to 127.0.0.1:${receiver.address.port}`
        })
        // Naming the peer itself is allowed.
        yield* sender.sendAll(["to the peer"], receiver.address)
        expect(yield* receiveTexts(receiver, 1)).toEqual([Option.some("to the peer")])
        yield* failsWith(sender.sendAll(["a"], { host: "127.0.0.1", port: 0 }), { _tag: "SendError", reason: "InvalidAddress" })
      })))

    test("a closed socket fails Closed", () =>
      run(Effect.gen(function*() {
        const socket = yield* Udp.bind()
        yield* socket.close
        yield* failsWith(socket.sendAll(["late"], socket.address), { _tag: "SendError", reason: "Closed" })
      })))
  })
}

describe("recvWithin on TestNetwork's Clock", () => {
  const isDone = (fiber: Fiber.RuntimeFiber<unknown, unknown>) => Effect.map(Fiber.poll(fiber), Option.isSome)

  it.effect("ends on the Clock: not before the timeout, and a datagram still in flight then is None", () =>
    Effect.gen(function*() {
      yield* TestNetwork.setFaults({ latency: "100 millis" })
      const { receiver, sender } = yield* pair
      yield* sender.send("slow")
      const waiting = yield* Effect.fork(receiver.recvWithin("50 millis"))
      yield* TestClock.adjust("49 millis")
      expect(yield* isDone(waiting)).toBe(false)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(waiting)).toEqual(Option.none())
      // The datagram lands at 100 ms, within the next wait.
      const next = yield* Effect.fork(receiver.recvWithin("60 millis"))
      yield* TestClock.adjust("50 millis")
      expect(Option.map(yield* Fiber.join(next), (d) => text(d.payload))).toEqual(Option.some("slow"))
    }).pipe(Effect.scoped, Effect.provide(TestNetwork.layer())))
})
