/**
 * Values outside the types (what JavaScript callers and configuration files
 * pass) fail with a typed error on both networks, never with a defect.
 * Issue 12, item 8.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { SocketAddress } from "../../src/Address.js"
import type { TcpConnection } from "../../src/Network.js"
import { Network } from "../../src/Network.js"
import * as NodeNetwork from "../../src/NodeNetwork.js"
import * as Tcp from "../../src/Tcp.js"
import * as TestNetwork from "../../src/TestNetwork.js"
import * as Udp from "../../src/Udp.js"
import { checkNoSocketLeaks } from "../utils/handles.js"

checkNoSocketLeaks()

/** A value the types forbid, as a JavaScript caller could pass it. */
const untyped = <A>(value: unknown): A => value as A

/** Not a payload: `Uint8Array | string` is all `send` takes. */
const notPayloads: ReadonlyArray<unknown> = [42, null, undefined, {}, [1, 2], true, new Uint16Array(2), Symbol("x")]

const describeValue = (value: unknown): string => typeof value === "symbol" ? value.toString() : JSON.stringify(value) ?? String(value)

/** The exit of `effect` in its own scope must be a typed failure matching `expected`: no defect, no interruption. */
const failsWith = <A, E, R>(label: string, effect: Effect.Effect<A, E, R>, expected: Record<string, unknown>) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(Effect.scoped(effect))
    expect(Exit.isFailure(exit), `${label} should fail`).toBe(true)
    if (Exit.isFailure(exit)) {
      expect(Array.from(Cause.defects(exit.cause)), label).toEqual([])
      expect(Cause.isInterruptedOnly(exit.cause), `${label} interrupted`).toBe(false)
      const error = Option.getOrUndefined(Cause.failureOption(exit.cause))
      expect(error, label).toMatchObject(expected)
      expect(typeof (error as { message?: unknown }).message, label).toBe("string")
    }
  })

/** `open` given each of `values` as its options fails with `expected`. */
const failsOnEach = <A, E, R>(
  name: string,
  values: ReadonlyArray<unknown>,
  open: (options: never) => Effect.Effect<A, E, R>,
  expected: Record<string, unknown>
) => Effect.forEach(values, (value) => failsWith(`${name}(${describeValue(value)})`, open(untyped(value)), expected), { discard: true })

/** `open` given `null` options opens with the defaults: on 127.0.0.1. */
const nullMeansDefaults = <E, R>(open: (options: never) => Effect.Effect<{ readonly address: SocketAddress }, E, R>) =>
  Effect.map(open(untyped(null)), (opened) => expect(opened.address.host).toBe("127.0.0.1"))

const bindInvalid = { _tag: "BindError", reason: "InvalidArgument" }
const connectInvalid = { _tag: "ConnectError", reason: "InvalidArgument" }

const connectedPair = Effect.gen(function*() {
  const listener = yield* Tcp.listen()
  const accepting = yield* Effect.fork(listener.accept)
  const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
  const server = yield* Fiber.join(accepting)
  return { listener, client, server }
})

/** Reads from `conn` until `expected` bytes of text have arrived (bounded). */
const readText = (conn: TcpConnection, expected: number) =>
  Stream.runFoldWhile(conn.stream, "", (text) => text.length < expected, (text, chunk) => text + new TextDecoder().decode(chunk))

const networks: ReadonlyArray<readonly [string, Layer.Layer<Network>]> = [
  ["NodeNetwork", NodeNetwork.layer],
  ["TestNetwork", TestNetwork.layer()]
]

for (const [name, layer] of networks) {
  const run = <A, E>(test: Effect.Effect<A, E, Network | Scope.Scope>) => Effect.provide(Effect.scoped(test), layer)

  describe(`${name}: values outside the types`, () => {
    it.live("Tcp.connect without an options object fails ConnectError InvalidArgument", () =>
      run(failsOnEach("Tcp.connect", [undefined, null, 42, "127.0.0.1:80", true], Tcp.connect, connectInvalid)))

    it.live("the Network service itself (as PlatformSocket uses it) checks its options the same way", () =>
      run(Effect.gen(function*() {
        const network = yield* Network
        yield* failsWith("network.tcpConnect(undefined)", network.tcpConnect(untyped(undefined)), {
          _tag: "ConnectError",
          reason: "InvalidArgument",
          message: "Tcp.connect: the options are undefined, not an object"
        })
        yield* failsOnEach("network.tcpListen", [42], network.tcpListen, bindInvalid)
        yield* failsOnEach("network.udpBind", ["x"], network.udpBind, bindInvalid)
        yield* failsOnEach("network.udpConnect", [null], network.udpConnect, connectInvalid)
        yield* nullMeansDefaults(network.tcpListen)
      })))

    it.live("Tcp.listen with options that are not an object fails BindError InvalidArgument; null means the defaults", () =>
      run(Effect.gen(function*() {
        yield* failsOnEach("Tcp.listen", [42, "127.0.0.1", true], Tcp.listen, bindInvalid)
        yield* nullMeansDefaults(Tcp.listen)
      })))

    it.live("Udp.connect without an options object, or with a bind that is not one, fails typed", () =>
      run(Effect.gen(function*() {
        yield* failsOnEach("Udp.connect", [undefined, null, 42, "127.0.0.1:53"], Udp.connect, connectInvalid)
        const peer = yield* Udp.bind()
        yield* failsWith(
          "Udp.connect({ bind: 42 })",
          Udp.connect({ host: "127.0.0.1", port: peer.address.port, bind: untyped(42) }),
          bindInvalid
        )
      })))

    it.live("Udp.bind with options that are not an object fails BindError InvalidArgument; null means the defaults", () =>
      run(Effect.gen(function*() {
        yield* failsOnEach("Udp.bind", [42, "127.0.0.1"], Udp.bind, bindInvalid)
        yield* nullMeansDefaults(Udp.bind)
      })))

    it.live("a boolean option set to something else (a configuration's \"true\") fails InvalidArgument instead of being ignored", () =>
      run(Effect.gen(function*() {
        const listener = yield* Tcp.listen()
        for (const value of ["true", 1, null, {}]) {
          const shown = describeValue(value)
          yield* failsWith(`Tcp.listen noDelay ${shown}`, Tcp.listen({ noDelay: untyped(value) }), {
            _tag: "BindError",
            reason: "InvalidArgument",
            message: expect.stringContaining("noDelay")
          })
          yield* failsWith(`Tcp.listen ipv6Only ${shown}`, Tcp.listen({ ipv6Only: untyped(value) }), bindInvalid)
          yield* failsWith(
            `Tcp.connect noDelay ${shown}`,
            Tcp.connect({ host: "127.0.0.1", port: listener.address.port, noDelay: untyped(value) }),
            connectInvalid
          )
          for (const option of ["reuseAddress", "broadcast"] as const) {
            yield* failsWith(`Udp.bind ${option} ${shown}`, Udp.bind({ [option]: untyped(value) }), {
              _tag: "BindError",
              reason: "InvalidArgument",
              message: expect.stringContaining(option)
            })
            yield* failsWith(
              `Udp.connect bind.${option} ${shown}`,
              Udp.connect({ host: "127.0.0.1", port: 9, bind: { [option]: untyped(value) } }),
              bindInvalid
            )
          }
        }
        const tuned = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port, noDelay: true })
        expect(tuned.remoteAddress.port).toBe(listener.address.port)
      })))

    it.live("Tcp.serve on something that is not a listener, or with a handler that is not a function, fails AcceptError InvalidArgument", () =>
      run(Effect.gen(function*() {
        const handler = () => Effect.void
        for (const listener of [{}, null, undefined, 42, { accept: 1, connections: 2, address: 3 }]) {
          const shown = describeValue(listener)
          yield* failsWith(`Tcp.serve(${shown}, handler)`, Tcp.serve(untyped<Tcp.TcpListener>(listener), handler), {
            _tag: "AcceptError",
            reason: "InvalidArgument"
          })
          yield* failsWith(`Tcp.serve(handler)(${shown})`, Tcp.serve(handler)(untyped(listener)), {
            _tag: "AcceptError",
            reason: "InvalidArgument"
          })
        }
        const listener = yield* Tcp.listen()
        for (const notHandler of [undefined, 42, {}]) {
          yield* failsWith(`Tcp.serve(listener, ${describeValue(notHandler)})`, Tcp.serve(listener, untyped<typeof handler>(notHandler)), {
            _tag: "AcceptError",
            reason: "InvalidArgument"
          })
        }
      })))

    it.live("Tcp.gracefulClose with a timeout that is not a duration fails WriteError InvalidArgument, and still closes", () =>
      run(Effect.gen(function*() {
        for (const timeout of [-5, Number.NaN, "-1 second" as const, untyped<number>("soon"), untyped<number>("5")]) {
          const { client, server } = yield* connectedPair
          yield* failsWith(`gracefulClose({ timeout: ${describeValue(timeout)} })`, Tcp.gracefulClose(client, { timeout }), {
            _tag: "WriteError",
            reason: "InvalidArgument"
          })
          // Not read as zero and left open: the peer sees the connection end.
          expect(yield* server.recv).toEqual(Option.none())
        }
      })))

    it.live("TcpConnection send and sink of a non-payload fail WriteError InvalidArgument; the connection goes on", () =>
      run(Effect.gen(function*() {
        const { client, server } = yield* connectedPair
        for (const data of notPayloads) {
          yield* failsWith(`conn.send(${describeValue(data)})`, client.send(untyped(data)), {
            _tag: "WriteError",
            reason: "InvalidArgument",
            address: `127.0.0.1:${client.remoteAddress.port}`
          })
          yield* failsWith(
            `conn.sink of ${describeValue(data)}`,
            Stream.run(Stream.make(untyped<string>(data)), client.sink),
            { _tag: "WriteError", reason: "InvalidArgument" }
          )
        }
        // Nothing was written, and the connection still works both ways.
        yield* client.send("still ")
        yield* client.send(new TextEncoder().encode("open"))
        expect(yield* readText(server, "still open".length)).toBe("still open")
        yield* server.send("back")
        expect(yield* readText(client, "back".length)).toBe("back")
      })))

    it.live("UdpSocket send of a non-payload fails SendError InvalidArgument, bound or connected; the socket goes on", () =>
      run(Effect.gen(function*() {
        const receiver = yield* Udp.bind()
        const sender = yield* Udp.bind()
        const connected = yield* Udp.connect({ host: "127.0.0.1", port: receiver.address.port })
        for (const payload of notPayloads) {
          yield* failsWith(`udp.send(${describeValue(payload)}, to)`, sender.send(untyped(payload), receiver.address), {
            _tag: "SendError",
            reason: "InvalidArgument"
          })
          yield* failsWith(`connected udp.send(${describeValue(payload)})`, connected.send(untyped(payload)), {
            _tag: "SendError",
            reason: "InvalidArgument"
          })
        }
        yield* sender.send("after", receiver.address)
        yield* connected.send("both")
        const received = yield* receiver.datagrams.pipe(Stream.take(2), Stream.runCollect)
        expect(Chunk.toReadonlyArray(received).map((datagram) => new TextDecoder().decode(datagram.payload)).sort())
          .toEqual(["after", "both"])
      })))
  })
}
