import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Duration, Effect, Exit, FastCheck as fc, Option, Schema, Stream } from "effect"
import * as Net from "node:net"
import * as Address from "../../src/Address.js"
import * as Framing from "../../src/Framing.js"
import type { TcpConnection } from "../../src/Network.js"
import * as Tcp from "../../src/Tcp.js"
import * as Udp from "../../src/Udp.js"
import { checkNoSocketLeaks } from "../utils/handles.js"
import { connectedPair, defectsOf, lingeringHandles, live, rawServer, report } from "./support.js"

checkNoSocketLeaks()

// Every case: the exit is a typed failure matching `expected` (or the
// documented success), never a defect. Arguments a caller's configuration
// could hold are passed untyped on purpose.
let cases = 0

/** Runs `effect` in its own scope and checks that it fails with a typed error like `expected`. */
const failsWith = <A, E>(label: string, effect: Effect.Effect<A, E, any>, expected: Record<string, unknown>) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(Effect.scoped(effect))
    cases++
    expect(defectsOf(exit), label).toEqual([])
    expect(Exit.isFailure(exit), `${label} should fail`).toBe(true)
    if (Exit.isFailure(exit)) {
      expect(Cause.isInterruptedOnly(exit.cause), `${label} interrupted`).toBe(false)
      expect(Option.getOrUndefined(Cause.failureOption(exit.cause)), label).toMatchObject(expected)
    }
  })

/** Runs `effect` in its own scope and checks that it succeeds with `expected`. */
const succeedsWith = <A, E>(label: string, effect: Effect.Effect<A, E, any>, expected: A) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(Effect.scoped(effect))
    cases++
    expect(defectsOf(exit), label).toEqual([])
    expect(exit, label).toEqual(Exit.succeed(expected))
  })

// (`null` and `undefined` mean "the default" where a port is optional.)
const badPorts: ReadonlyArray<unknown> = [70_000, 65_536, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "80", {}]
const badHosts: ReadonlyArray<unknown> = ["", " ", "not a host!", "256.1.1.1", "1.2.3", "::zz", "-bad-.example", 42]
const badDurations: ReadonlyArray<unknown> = [-1, Number.NaN, "soon", "-1 second", "NaN millis", {}]
const badCounts: ReadonlyArray<unknown> = [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]
/** TEST-NET-1 (RFC 5737): never a local address. */
const notLocal = "192.0.2.1"
const unresolvable = "no-such-host.invalid"

const untyped = <A>(value: unknown) => value as A

describe("Tcp.listen", () => {
  it.live("bad ports, hosts, backlogs and durations fail typed, before a socket is opened", () =>
    live(Effect.gen(function*() {
      for (const port of badPorts) {
        yield* failsWith(`listen port ${String(port)}`, Tcp.listen({ port: untyped(port) }), {
          _tag: "AddressError",
          reason: "InvalidPort"
        })
      }
      for (const host of badHosts) {
        yield* failsWith(`listen host ${String(host)}`, Tcp.listen({ host: untyped(host) }), {
          _tag: "AddressError",
          reason: "InvalidHost"
        })
      }
      for (const backlog of badCounts) {
        yield* failsWith(`listen backlog ${backlog}`, Tcp.listen({ backlog: untyped(backlog) }), {
          _tag: "BindError",
          reason: "InvalidArgument"
        })
      }
      for (const duration of badDurations) {
        for (const option of ["idleTimeout", "closeTimeout", "keepAlive"] as const) {
          yield* failsWith(`listen ${option} ${String(duration)}`, Tcp.listen({ [option]: untyped(duration) }), {
            _tag: "BindError",
            reason: "InvalidArgument"
          })
        }
      }
      yield* failsWith("listen on an address that is not local", Tcp.listen({ host: notLocal }), {
        _tag: "BindError",
        reason: "AddressNotAvailable"
      })
      const taken = yield* Tcp.listen()
      yield* failsWith("listen on a port in use", Tcp.listen({ port: taken.address.port }), {
        _tag: "BindError",
        reason: "AddressInUse"
      })
    })))

  it.live("an unresolvable host fails with HostNotFound and leaks nothing", () =>
    live(Effect.gen(function*() {
      yield* failsWith("listen on an unresolvable name", Tcp.listen({ host: unresolvable }), {
        _tag: "AddressError",
        reason: "HostNotFound"
      })
      expect(yield* lingeringHandles()).toEqual([])
    })))
})

describe("Tcp.connect", () => {
  it.live("bad ports, hosts, local addresses and durations fail typed", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const port = listener.address.port
      for (const bad of [...badPorts, 0, null, undefined]) {
        yield* failsWith(`connect port ${String(bad)}`, Tcp.connect({ host: "127.0.0.1", port: untyped(bad) }), {
          _tag: "AddressError",
          reason: "InvalidPort"
        })
        if (bad !== 0 && bad !== null && bad !== undefined) {
          yield* failsWith(`connect localPort ${String(bad)}`, Tcp.connect({ host: "127.0.0.1", port, localPort: untyped(bad) }), {
            _tag: "AddressError",
            reason: "InvalidPort"
          })
        }
      }
      for (const host of [...badHosts, undefined]) {
        yield* failsWith(`connect host ${String(host)}`, Tcp.connect({ host: untyped(host), port }), {
          _tag: "AddressError",
          reason: "InvalidHost"
        })
      }
      yield* failsWith("connect localAddress garbage", Tcp.connect({ host: "127.0.0.1", port, localAddress: "x y" }), {
        _tag: "AddressError",
        reason: "InvalidHost"
      })
      for (const duration of badDurations) {
        for (const option of ["timeout", "idleTimeout", "closeTimeout", "keepAlive"] as const) {
          yield* failsWith(
            `connect ${option} ${String(duration)}`,
            Tcp.connect({ host: "127.0.0.1", port, [option]: untyped(duration) }),
            { _tag: "ConnectError", reason: "InvalidArgument" }
          )
        }
      }
      yield* failsWith(
        "connect from an address that is not local",
        Tcp.connect({ host: "127.0.0.1", port, localAddress: notLocal }),
        { _tag: "ConnectError", reason: "InvalidAddress" }
      )
      // No ConnectError reason names a local port in use: Unknown, with the errno kept.
      yield* failsWith("connect from a local port in use", Tcp.connect({ host: "127.0.0.1", port, localPort: port }), {
        _tag: "ConnectError",
        reason: "Unknown",
        code: "EADDRINUSE"
      })
      const closedPort = yield* Effect.scoped(Effect.map(Tcp.listen(), (l) => l.address.port))
      yield* failsWith("connect to a port nothing listens on", Tcp.connect({ host: "127.0.0.1", port: closedPort }), {
        _tag: "ConnectError",
        reason: "ConnectionRefused"
      })
    })))

  it.live("an unresolvable host fails with HostNotFound and leaks nothing", () =>
    live(Effect.gen(function*() {
      yield* failsWith("connect to an unresolvable name", Tcp.connect({ host: unresolvable, port: 80 }), {
        _tag: "ConnectError",
        reason: "HostNotFound"
      })
      // Interrupted in the middle of the lookup, too.
      const exit = yield* Effect.exit(Effect.scoped(Tcp.connect({ host: unresolvable, port: 80 })).pipe(Effect.timeout(0)))
      expect(defectsOf(exit)).toEqual([])
      expect(yield* lingeringHandles()).toEqual([])
    })))
})

describe("a connection used wrongly", () => {
  it.live("after close: send, sink and endWrite fail Closed, recv and stream see the end, close again is fine", () =>
    live(Effect.gen(function*() {
      const { client } = yield* connectedPair()
      yield* client.close
      yield* succeedsWith("close twice", client.close, undefined)
      yield* failsWith("send after close", client.send("late"), { _tag: "WriteError", reason: "Closed" })
      yield* failsWith("sink after close", Stream.run(Stream.make("late"), client.sink), {
        _tag: "WriteError",
        reason: "Closed"
      })
      yield* failsWith("endWrite after close", client.endWrite, { _tag: "WriteError", reason: "Closed" })
      yield* succeedsWith("recv after close", client.recv, Option.none())
      yield* succeedsWith("stream after close", Stream.runCount(client.stream), 0)
      // Even an empty payload: the connection is closed, that comes first.
      yield* failsWith("send nothing after close", client.send(""), { _tag: "WriteError", reason: "Closed" })
    })))

  it.live("endWrite twice is fine; send after it fails Closed; the peer reads EOF again and again", () =>
    live(Effect.gen(function*() {
      const { client, server } = yield* connectedPair()
      yield* succeedsWith("endWrite", client.endWrite, undefined)
      yield* succeedsWith("endWrite again", client.endWrite, undefined)
      yield* failsWith("send after endWrite", client.send("x"), { _tag: "WriteError", reason: "Closed" })
      yield* succeedsWith("recv at EOF", server.recv, Option.none())
      yield* succeedsWith("recv after EOF", server.recv, Option.none())
      yield* succeedsWith("stream after EOF", Stream.runCount(server.stream), 0)
      // Half-closed: the other way still works.
      yield* succeedsWith("send back after the peer's FIN", server.send("reply"), undefined)
    })))

  it.live("a peer that resets mid-stream: typed errors on every operation, close still fine", () =>
    live(Effect.gen(function*() {
      const port = yield* rawServer((socket) => {
        socket.write("partial data ")
        setTimeout(() => socket.resetAndDestroy(), 20)
      })
      const client = yield* Tcp.connect({ host: "127.0.0.1", port })
      let received = 0
      yield* failsWith(
        "stream through a reset",
        Stream.runForEach(client.stream, (chunk) => Effect.sync(() => received += chunk.length)),
        { _tag: "ReadError", reason: "ConnectionReset" }
      )
      expect(received).toBe("partial data ".length)
      yield* failsWith("recv after the reset", client.recv, { _tag: "ReadError", reason: "ConnectionReset" })
      yield* failsWith("framing over the reset", Stream.runDrain(Framing.lines().decode(client.stream)), {
        _tag: "ReadError",
        reason: "ConnectionReset"
      })
      const sendExit = yield* Effect.exit(client.send("after reset"))
      cases++
      expect(defectsOf(sendExit)).toEqual([])
      expect(Exit.isFailure(sendExit) && Option.getOrUndefined(Cause.failureOption(sendExit.cause))).toMatchObject({
        _tag: "WriteError",
        reason: expect.stringMatching(/^(ConnectionReset|BrokenPipe)$/)
      })
      const endExit = yield* Effect.exit(client.endWrite)
      cases++
      expect(defectsOf(endExit)).toEqual([])
      expect(Exit.isFailure(endExit)).toBe(true)
      yield* succeedsWith("close after the reset", client.close, undefined)
    })))

  it.live("idleTimeout 0 fails a read that would wait, at once (no wait at all is allowed)", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port, idleTimeout: 0 })
      yield* failsWith("recv with idleTimeout 0", client.recv, { _tag: "ReadError", reason: "TimedOut" })
    })))
})

describe("TcpListener and Tcp.serve used wrongly", () => {
  it.live("accept and connections on a closed listener fail with AcceptError Closed", () =>
    live(Effect.gen(function*() {
      const listener = yield* Effect.scoped(Tcp.listen())
      yield* failsWith("accept on a closed listener", listener.accept, { _tag: "AcceptError", reason: "Closed" })
      yield* failsWith("connections on a closed listener", Stream.runDrain(listener.connections), {
        _tag: "AcceptError",
        reason: "Closed"
      })
      yield* failsWith("serve on a closed listener", Tcp.serve(listener, () => Effect.void), {
        _tag: "AcceptError",
        reason: "Closed"
      })
    })))

  it.live("bad concurrency and shutdownTimeout fail typed, not with a defect", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      for (const concurrency of badCounts) {
        yield* failsWith(
          `serve concurrency ${concurrency}`,
          Tcp.serve(listener, () => Effect.void, { concurrency: untyped(concurrency) }),
          { _tag: "AcceptError", reason: "InvalidArgument" }
        )
      }
      for (const shutdownTimeout of badDurations) {
        yield* failsWith(
          `serve shutdownTimeout ${String(shutdownTimeout)}`,
          Tcp.serve(listener, () => Effect.void, { shutdownTimeout: untyped<Duration.DurationInput>(shutdownTimeout) }),
          { _tag: "AcceptError", reason: "InvalidArgument" }
        )
      }
    })))
})

describe("Udp used wrongly", () => {
  it.live("bad bind options fail typed, before a socket is opened", () =>
    live(Effect.gen(function*() {
      for (const port of badPorts) {
        yield* failsWith(`udp bind port ${String(port)}`, Udp.bind({ port: untyped(port) }), {
          _tag: "AddressError",
          reason: "InvalidPort"
        })
      }
      for (const host of badHosts) {
        yield* failsWith(`udp bind host ${String(host)}`, Udp.bind({ host: untyped(host) }), {
          _tag: "AddressError",
          reason: "InvalidHost"
        })
      }
      for (const size of badCounts) {
        yield* failsWith(`udp receiveBufferSize ${size}`, Udp.bind({ receiveBufferSize: untyped(size) }), {
          _tag: "BindError",
          reason: "InvalidArgument"
        })
      }
      for (const ttl of [0, 256, 1.5, Number.NaN]) {
        yield* failsWith(`udp ttl ${ttl}`, Udp.bind({ ttl }), { _tag: "BindError", reason: "InvalidArgument" })
      }
      yield* failsWith("udp overflow bogus", Udp.bind({ overflow: untyped("bogus") }), {
        _tag: "BindError",
        reason: "InvalidArgument"
      })
      yield* failsWith("udp family IPv5", Udp.bind({ family: untyped("IPv5") }), {
        _tag: "BindError",
        reason: "InvalidArgument"
      })
      yield* failsWith("udp host of the other family", Udp.bind({ host: "::1", family: "IPv4" }), {
        _tag: "AddressError",
        reason: "InvalidHost"
      })
      yield* failsWith("udp bind on an address that is not local", Udp.bind({ host: notLocal }), {
        _tag: "BindError",
        reason: "AddressNotAvailable"
      })
      const taken = yield* Udp.bind()
      yield* failsWith("udp bind on a port in use", Udp.bind({ port: taken.address.port }), {
        _tag: "BindError",
        reason: "AddressInUse"
      })
      yield* failsWith("udp connect to port 0", Udp.connect({ host: "127.0.0.1", port: 0 }), {
        _tag: "AddressError",
        reason: "InvalidPort"
      })
    })))

  it.live("unresolvable names fail with HostNotFound and leak nothing", () =>
    live(Effect.gen(function*() {
      yield* failsWith("udp bind to an unresolvable name", Udp.bind({ host: unresolvable }), {
        _tag: "AddressError",
        reason: "HostNotFound"
      })
      yield* failsWith("udp connect to an unresolvable name", Udp.connect({ host: unresolvable, port: 9 }), {
        _tag: "ConnectError",
        reason: "HostNotFound"
      })
      const socket = yield* Udp.bind()
      yield* failsWith("udp send to an unresolvable name", socket.send("x", { host: unresolvable, port: 9 }), {
        _tag: "SendError",
        reason: "HostNotFound"
      })
      yield* socket.close
      expect(yield* lingeringHandles()).toEqual([])
    })))

  it.live("bad sends fail typed; after close everything says Closed; close twice is fine", () =>
    live(Effect.gen(function*() {
      const socket = yield* Udp.bind()
      const peer = yield* Udp.bind()
      const to = peer.address
      yield* failsWith("udp send 65,508 bytes over IPv4", socket.send(new Uint8Array(Udp.maxPayload.IPv4 + 1), to), {
        _tag: "SendError",
        reason: "MessageTooLarge"
      })
      const v6 = yield* Udp.bind({ family: "IPv6" })
      yield* failsWith("udp send 65,528 bytes over IPv6", v6.send(new Uint8Array(Udp.maxPayload.IPv6 + 1), v6.address), {
        _tag: "SendError",
        reason: "MessageTooLarge"
      })
      for (const destination of [{ host: "127.0.0.1", port: 0 }, { host: "x y", port: 9 }, { host: "::1", port: 9 }, null]) {
        yield* failsWith(`udp send to ${JSON.stringify(destination)}`, socket.send("x", untyped(destination)), {
          _tag: "SendError",
          reason: "InvalidAddress"
        })
      }
      yield* failsWith("udp send without a destination, unconnected", socket.send("x"), {
        _tag: "SendError",
        reason: "InvalidAddress"
      })
      const connected = yield* Udp.connect({ host: "127.0.0.1", port: to.port })
      yield* failsWith("connected udp send to another address", connected.send("x", socket.address), {
        _tag: "SendError",
        reason: "InvalidAddress"
      })
      yield* failsWith("udp join a group that is not multicast", Effect.scoped(socket.joinMulticast("10.0.0.1")), {
        _tag: "MulticastError",
        reason: "InvalidGroup"
      })
      yield* socket.close
      yield* succeedsWith("udp close twice", socket.close, undefined)
      yield* failsWith("udp send after close", socket.send("x", to), { _tag: "SendError", reason: "Closed" })
      yield* failsWith("udp recv after close", socket.recv, { _tag: "ReceiveError", reason: "Closed" })
      yield* succeedsWith("udp datagrams after close", Stream.runCount(socket.datagrams), 0)
    })))
})

describe("garbage to every framing decoder, over TCP", () => {
  const schemaFraming = Framing.schema(Schema.Struct({ n: Schema.Number }))
  const decoders: ReadonlyArray<readonly [string, (bytes: Stream.Stream<Uint8Array, unknown>) => Stream.Stream<unknown, unknown>]> = [
    ["lines", Framing.lines({ maxLength: 256 }).decode],
    ["delimited", Framing.delimited("\r\n\r\n", { maxLength: 256 }).decode],
    ["lengthPrefixed", Framing.lengthPrefixed({ lengthBytes: 2, maxFrameLength: 256 }).decode],
    ["schema", schemaFraming.decode]
  ]

  /** Sends `garbage` from a raw client and ends; returns the exit of decoding it on the server side. */
  const decodeOverTcp = (decode: (bytes: Stream.Stream<Uint8Array, unknown>) => Stream.Stream<unknown, unknown>, garbage: Uint8Array) =>
    Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const raw = Net.connect(listener.address.port, "127.0.0.1")
      raw.on("error", () => {})
      raw.end(garbage)
      yield* Effect.addFinalizer(() => Effect.sync(() => raw.destroy()))
      const server: TcpConnection = yield* listener.accept
      return yield* Effect.exit(Stream.runCollect(decode(server.stream)))
    }).pipe(Effect.scoped)

  it.live("known garbage gives the documented FrameError", () =>
    live(Effect.gen(function*() {
      const bytes = (...values: ReadonlyArray<number>) => new Uint8Array(values)
      const text = (value: string) => new TextEncoder().encode(value)
      const table: ReadonlyArray<readonly [string, number, Uint8Array, string]> = [
        ["lines: invalid UTF-8", 0, bytes(0xff, 0xfe, 0x0a), "InvalidFrame"],
        ["lines: no newline before EOF", 0, text("dangling"), "TruncatedFrame"],
        ["lines: over maxLength", 0, new Uint8Array(300).fill(0x61), "FrameTooLarge"],
        ["delimited: over maxLength", 1, new Uint8Array(300).fill(0x62), "FrameTooLarge"],
        ["delimited: half a delimiter at EOF", 1, text("abc\r\n\r"), "TruncatedFrame"],
        ["lengthPrefixed: header over the limit", 2, bytes(0xff, 0xff), "FrameTooLarge"],
        ["lengthPrefixed: half a header", 2, bytes(0x00), "TruncatedFrame"],
        ["lengthPrefixed: payload cut short", 2, bytes(0x00, 0x10, 1, 2, 3), "TruncatedFrame"],
        ["schema: not JSON", 3, text("{oops\n"), "InvalidFrame"],
        ["schema: JSON of the wrong shape", 3, text("{\"n\":\"one\"}\n"), "InvalidFrame"],
        ["schema: JSON null", 3, text("null\n"), "InvalidFrame"]
      ]
      for (const [label, decoder, garbage, reason] of table) {
        const exit = yield* decodeOverTcp(decoders[decoder]![1], garbage)
        cases++
        expect(defectsOf(exit), label).toEqual([])
        expect(Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : exit.value, label)
          .toMatchObject({ _tag: "FrameError", reason })
      }
    })))

  let garbageRuns = 0
  it.live.prop(
    "random bytes decode to messages or fail with a FrameError, never a defect",
    [fc.nat({ max: decoders.length - 1 }), fc.uint8Array({ maxLength: 600 })],
    ([decoder, garbage]) =>
      live(Effect.gen(function*() {
        const exit = yield* decodeOverTcp(decoders[decoder]![1], garbage)
        garbageRuns++
        expect(defectsOf(exit)).toEqual([])
        if (Exit.isFailure(exit)) {
          expect(Option.getOrUndefined(Cause.failureOption(exit.cause))).toMatchObject({ _tag: "FrameError" })
        } else {
          expect(Chunk.isChunk(exit.value)).toBe(true)
        }
      })),
    { fastCheck: { numRuns: 40 } }
  )

  it("framing constructors reject bad limits by throwing IllegalArgumentException, as each constructor documents", () => {
    for (const make of [
      () => Framing.lines({ maxLength: -1 }),
      () => Framing.lines({ maxLength: Number.NaN }),
      () => Framing.lines({ maxLength: Number.POSITIVE_INFINITY }),
      () => Framing.delimited(""),
      () => Framing.delimited(untyped(42)),
      () => Framing.delimited("\n", { maxLength: 1.5 }),
      () => Framing.lengthPrefixed({ lengthBytes: untyped(3) }),
      () => Framing.lengthPrefixed({ maxFrameLength: -5 }),
      () => Framing.lengthPrefixed({ maxFrameLength: Number.POSITIVE_INFINITY }),
      () => Framing.schema(Schema.Number).encode(Number.NaN),
      () => Framing.schema(Schema.BigIntFromSelf).encode(1n)
    ]) {
      expect(make).toThrow(Cause.IllegalArgumentException)
      cases++
    }
    report("bad input catalogue", { casesChecked: cases, randomGarbageRuns: garbageRuns })
    expect(garbageRuns).toBe(40)
  })
})

describe("Address", () => {
  it.effect("parse rejects garbage with AddressError", () =>
    Effect.gen(function*() {
      for (const text of ["", "127.0.0.1", "127.0.0.1:", "127.0.0.1:99999", "[::1]", "::1:80", "host:-1", ":80"]) {
        yield* failsWith(`parse ${JSON.stringify(text)}`, Address.parse(text), { _tag: "AddressError" })
      }
    }))
})
