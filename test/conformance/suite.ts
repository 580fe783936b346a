/**
 * One set of behaviour tests for every `Network` implementation. The same
 * tests run unchanged on real loopback sockets (`NodeNetwork.layer`) and on
 * the simulated network (`TestNetwork.layer()`): a difference between the
 * two is a bug in one of them.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Dns from "node:dns"
import { format } from "../../src/Address.js"
import type { NetError, WriteError } from "../../src/NetError.js"
import { isNetError } from "../../src/NetError.js"
import type { Network, TcpConnection, UdpSocket } from "../../src/Network.js"
import * as Tcp from "../../src/Tcp.js"
import * as Udp from "../../src/Udp.js"

const decoder = new TextDecoder()
const text = (bytes: Uint8Array) => decoder.decode(bytes)

/** Everything the peer sends until EOF, as text. */
const readAll = (conn: TcpConnection) =>
  conn.stream.pipe(
    Stream.runCollect,
    Effect.map((chunks) => Chunk.toReadonlyArray(chunks).map(text).join(""))
  )

/** Reads with `recv` until EOF. */
const recvAll = (conn: TcpConnection) =>
  Effect.gen(function*() {
    let received = ""
    for (let i = 0; i < 10_000; i++) {
      const chunk = yield* conn.recv
      if (Option.isNone(chunk)) return received
      received += text(chunk.value)
    }
    return yield* Effect.dieMessage("recvAll: no EOF after 10000 chunks")
  })

/**
 * A failure as both networks must report it, whole: tag, reason, the errno
 * `code` (absent where no system call failed), `address` (absent where the
 * error names none) and the exact `message`.
 */
interface ExpectedError {
  readonly _tag: NetError["_tag"]
  readonly reason: string
  readonly code?: string
  readonly address?: string
  readonly message: string
}

/**
 * Asserts that `error` is an effect-net error equal to `expected`, or to one
 * of the alternatives given (where the kernel may answer either way).
 */
const expectError = (error: NetError | undefined, ...expected: readonly [ExpectedError, ...Array<ExpectedError>]) => {
  expect(isNetError(error)).toBe(true)
  const actual = {
    _tag: error?._tag,
    reason: error?.reason,
    code: error !== undefined && "code" in error ? error.code : undefined,
    address: error !== undefined && "address" in error ? error.address : undefined,
    message: error?.message
  }
  // `toEqual` counts a key left out of `expected` as undefined: an error
  // with a `code` or `address` the expectation lacks does not pass.
  if (expected.length === 1) expect(actual).toEqual(expected[0])
  else expect(expected).toContainEqual(actual)
}

/**
 * A failure the OS reported, worded as NodeNetwork words it (and TestNetwork
 * must): `"<what> <address> failed: <words> (<code>)"`, e.g. "connect to
 * 127.0.0.1:9 failed: connection refused (ECONNREFUSED)".
 */
const systemFailure = (
  _tag: ExpectedError["_tag"],
  reason: string,
  code: string,
  what: string,
  address: string,
  words: string
): ExpectedError => ({ _tag, reason, code, address, message: `${what} ${address} failed: ${words} (${code})` })

/** The write error a reset connection reports: ECONNRESET or, on Linux after the reset, EPIPE. */
const resetWrite = (peer: string): readonly [ExpectedError, ExpectedError] => [
  systemFailure("WriteError", "ConnectionReset", "ECONNRESET", "write to", peer, "connection reset"),
  systemFailure("WriteError", "BrokenPipe", "EPIPE", "write to", peer, "broken pipe")
]

const closedForWriting = (peer: string): ExpectedError => ({
  _tag: "WriteError",
  reason: "Closed",
  address: peer,
  message: `write to ${peer} failed: the connection is closed for writing`
})

const readReset = (peer: string) =>
  systemFailure("ReadError", "ConnectionReset", "ECONNRESET", "read from", peer, "connection reset")

const refused = (target: string) =>
  systemFailure("ConnectError", "ConnectionRefused", "ECONNREFUSED", "connect to", target, "connection refused")

const inUse = (what: "listen on" | "bind to", where: string) =>
  systemFailure("BindError", "AddressInUse", "EADDRINUSE", what, where, "address in use")

const echo = (conn: TcpConnection) => conn.stream.pipe(Stream.run(conn.sink))

/** Polls `check` (live time, bounded) until it holds: real sockets deliver asynchronously. */
const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>, check: (a: A) => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200; i++) {
      const value = yield* effect
      if (check(value)) return value
      yield* Effect.sleep("10 millis")
    }
    return yield* effect
  })

/** A UDP port that nobody is bound to (bound once, then closed). */
const freeUdpPort = Effect.scoped(Effect.map(Udp.bind(), (socket) => socket.address.port))

/**
 * What this machine's resolver returns for `localhost` (NodeNetwork asks
 * it; the TestNetwork run is given the same list as its `hosts`).
 */
export const localhostAddresses = (): Promise<ReadonlyArray<string>> =>
  Dns.promises.lookup("localhost", { all: true }).then((found) => found.map((entry) => entry.address))

const payloads = (socket: UdpSocket, count: number) =>
  Effect.forEach(Array.from({ length: count }), () => Effect.map(socket.recv, (d) => text(d.payload)))

/**
 * Registers the suite for `layer`. `afterEach` runs after every test's
 * scope has closed, on the same network (TestNetwork checks that nothing
 * is left open there).
 */
export const conformance = <R>(
  name: string,
  layer: Layer.Layer<Network | R, unknown>,
  options?: { readonly afterEach?: Effect.Effect<void, unknown, Network | R> }
) => {
  const run = <A, E>(test: Effect.Effect<A, E, Network | R | Scope.Scope>) =>
    Effect.scoped(test).pipe(Effect.zipLeft(options?.afterEach ?? Effect.void), Effect.provide(layer))

  describe(`${name} conformance`, () => {
    describe("TCP", () => {
      it.live("echo through serve; listener defaults to 127.0.0.1 and an ephemeral port", () =>
        run(Effect.gen(function*() {
          const listener = yield* Tcp.listen()
          expect(listener.address.host).toBe("127.0.0.1")
          expect(listener.address.family).toBe("IPv4")
          expect(listener.address.port).toBeGreaterThan(0)
          yield* Effect.forkScoped(Tcp.serve(listener, echo))
          const conn = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
          expect(conn.remoteAddress).toEqual(listener.address)
          expect(conn.localAddress.host).toBe("127.0.0.1")
          yield* conn.send("hello, ")
          yield* conn.send(new TextEncoder().encode("world"))
          yield* conn.endWrite
          expect(yield* readAll(conn)).toBe("hello, world")
        })))

      it.live("the accepted side sees the connecting side's addresses", () =>
        run(Effect.gen(function*() {
          const listener = yield* Tcp.listen()
          const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
          const server = yield* listener.accept
          expect(server.localAddress).toEqual(listener.address)
          expect(server.remoteAddress).toEqual(client.localAddress)
        })))

      it.live("EOF is None, and recv keeps returning None", () =>
        run(Effect.gen(function*() {
          const listener = yield* Tcp.listen()
          const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
          yield* Effect.scoped(Effect.flatMap(listener.accept, (server) => Effect.zipRight(server.send("bye"), server.close)))
          expect(yield* recvAll(client)).toBe("bye")
          expect(yield* client.recv).toEqual(Option.none())
          expect(yield* client.recv).toEqual(Option.none())
          expect(Chunk.size(yield* Stream.runCollect(client.stream))).toBe(0)
        })))

      it.live("half-close: the peer sees EOF and can still send back", () =>
        run(Effect.gen(function*() {
          const listener = yield* Tcp.listen()
          const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
          const server = yield* listener.accept
          yield* client.send("request")
          yield* client.endWrite
          yield* client.endWrite // idempotent
          expect(yield* recvAll(server)).toBe("request")
          yield* server.send("response")
          yield* server.endWrite
          expect(yield* recvAll(client)).toBe("response")
          expectError(yield* Effect.flip(client.send("more")), closedForWriting(format(client.remoteAddress)))
        })))

      it.live("after a local close: recv is None, send fails Closed, close is idempotent", () =>
        run(Effect.gen(function*() {
          const listener = yield* Tcp.listen()
          const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
          yield* listener.accept
          yield* client.close
          yield* client.close
          expect(yield* client.recv).toEqual(Option.none())
          expectError(yield* Effect.flip(client.send("late")), closedForWriting(format(client.remoteAddress)))
          expectError(yield* Effect.flip(client.send("")), closedForWriting(format(client.remoteAddress)))
        })))

      it.live("an empty send is a no-op success on an open connection", () =>
        run(Effect.gen(function*() {
          const listener = yield* Tcp.listen()
          const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
          const server = yield* listener.accept
          yield* client.send(new Uint8Array(0))
          yield* client.send("x")
          yield* client.endWrite
          expect(yield* readAll(server)).toBe("x")
        })))

      it.live("connect to a port nobody listens on is ConnectionRefused", () =>
        run(Effect.gen(function*() {
          const port = yield* Effect.scoped(Effect.map(Tcp.listen(), (listener) => listener.address.port))
          expectError(yield* Effect.flip(Tcp.connect({ host: "127.0.0.1", port })), refused(`127.0.0.1:${port}`))
        })))

      it.live("listen on a port in use is AddressInUse; the port is free again once closed", () =>
        run(Effect.gen(function*() {
          const scope = yield* Scope.make()
          const first = yield* Scope.extend(Tcp.listen(), scope)
          expectError(yield* Effect.flip(Tcp.listen({ port: first.address.port })), inUse("listen on", format(first.address)))
          yield* Scope.close(scope, Exit.void)
          const again = yield* Tcp.listen({ port: first.address.port })
          expect(again.address.port).toBe(first.address.port)
        })))

      it.live("accept after the listener closed is AcceptError Closed; connections then fails", () =>
        run(Effect.gen(function*() {
          const listener = yield* Effect.scoped(Tcp.listen())
          const where = format(listener.address)
          const closed: ExpectedError = {
            _tag: "AcceptError",
            reason: "Closed",
            address: where,
            message: `accept on ${where} failed: the listener is closed`
          }
          expectError(yield* Effect.flip(Effect.scoped(listener.accept)), closed)
          expectError(yield* Effect.flip(Stream.runDrain(listener.connections)), closed)
        })))

      it.live("connections nobody accepted end when the listener closes", () =>
        run(Effect.gen(function*() {
          const scope = yield* Scope.make()
          const listener = yield* Scope.extend(Tcp.listen(), scope)
          const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
          yield* Effect.sleep("20 millis")
          yield* Scope.close(scope, Exit.void)
          expect(yield* recvAll(client)).toBe("")
        })))

      it.live("closing with unread data resets the connection: the peer's reads fail ConnectionReset", () =>
        run(Effect.gen(function*() {
          const listener = yield* Tcp.listen()
          const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
          const server = yield* listener.accept
          yield* client.send("never read")
          // Give the bytes time to reach the server's receive buffer.
          yield* Effect.sleep("50 millis")
          yield* server.close
          const peer = format(client.remoteAddress)
          expectError(yield* Effect.flip(recvAll(client)), readReset(peer))
          expectError(yield* Effect.flip(client.recv), readReset(peer))
          expectError(yield* Effect.flip(client.send("after reset")), ...resetWrite(peer))
        })))

      it.live("a reset that finds received bytes unread: they are read, then ConnectionReset; sends fail", () =>
        run(Effect.gen(function*() {
          const listener = yield* Tcp.listen()
          const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
          const server = yield* listener.accept
          yield* client.send("to server")
          yield* server.send("to client")
          yield* Effect.sleep("50 millis")
          yield* client.close // unread "to client": a reset
          yield* Effect.sleep("50 millis")
          expect(Option.map(yield* server.recv, text)).toEqual(Option.some("to server"))
          expectError(yield* Effect.flip(server.recv), readReset(format(server.remoteAddress)))
          let failure: WriteError | undefined
          for (let i = 0; i < 50 && failure === undefined; i++) {
            const result = yield* Effect.either(server.send("x"))
            if (Either.isLeft(result)) failure = result.left
            else yield* Effect.sleep("10 millis")
          }
          expectError(failure, ...resetWrite(format(server.remoteAddress)))
        })))

      it.live("closing after a read, with bytes left unread, ends the connection (EOF for the peer)", () =>
        run(Effect.gen(function*() {
          const listener = yield* Tcp.listen()
          const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
          const server = yield* listener.accept
          yield* client.send("first")
          expect(Option.map(yield* server.recv, text)).toEqual(Option.some("first"))
          yield* client.send("second")
          yield* Effect.sleep("50 millis")
          yield* server.close
          expect(yield* recvAll(client)).toBe("")
        })))

      it.live("data sent to a closed peer resets the connection; reads stay at EOF", () =>
        run(Effect.gen(function*() {
          const listener = yield* Tcp.listen()
          const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
          const server = yield* listener.accept
          yield* client.close
          expect(yield* server.recv).toEqual(Option.none())
          // The closed side answers data with a reset, which a later send
          // (or endWrite) reports.
          let failure: WriteError | undefined
          for (let i = 0; i < 50 && failure === undefined; i++) {
            const result = yield* Effect.either(server.send("into the void"))
            if (Either.isLeft(result)) failure = result.left
            else yield* Effect.sleep("10 millis")
          }
          failure ??= yield* Effect.flip(server.endWrite)
          expectError(failure, ...resetWrite(format(server.remoteAddress)))
          expect(yield* server.recv).toEqual(Option.none())
        })))

      it.live("endWrite after close fails Closed", () =>
        run(Effect.gen(function*() {
          const listener = yield* Tcp.listen()
          const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
          yield* listener.accept
          yield* client.close
          expectError(yield* Effect.flip(client.endWrite), closedForWriting(format(client.remoteAddress)))
        })))

      it.live("a megabyte echoes back intact", () =>
        run(Effect.gen(function*() {
          const listener = yield* Tcp.listen()
          yield* Effect.forkScoped(Tcp.serve(listener, echo))
          const conn = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
          const data = Uint8Array.from({ length: 1024 * 1024 }, (_, i) => (i * 31) % 251)
          const writer = yield* Effect.fork(Effect.zipRight(conn.send(data), conn.endWrite))
          const received = yield* conn.stream.pipe(
            Stream.runFold([] as Array<Uint8Array>, (acc, chunk) => [...acc, chunk])
          )
          yield* Fiber.join(writer)
          const total = Buffer.concat(received)
          expect(total.length).toBe(data.length)
          expect(total.equals(Buffer.from(data))).toBe(true)
        })))

      it.live("hosts are loopback addresses: listen on 127.0.0.2, connect from 127.0.0.3", () =>
        run(Effect.gen(function*() {
          const listener = yield* Tcp.listen({ host: "127.0.0.2" })
          expect(listener.address.host).toBe("127.0.0.2")
          const client = yield* Tcp.connect({ host: "127.0.0.2", port: listener.address.port, localAddress: "127.0.0.3" })
          const server = yield* listener.accept
          expect(client.localAddress.host).toBe("127.0.0.3")
          expect(server.remoteAddress).toEqual(client.localAddress)
          expectError(
            yield* Effect.flip(Tcp.connect({ host: "127.0.0.4", port: listener.address.port })),
            refused(`127.0.0.4:${listener.address.port}`)
          )
        })))

      it.live("the connections stream yields each connection in order", () =>
        run(Effect.gen(function*() {
          const listener = yield* Tcp.listen()
          const clients = yield* Effect.forEach([0, 1, 2], () => Tcp.connect({ host: "127.0.0.1", port: listener.address.port }))
          const accepted = yield* listener.connections.pipe(Stream.take(3), Stream.runCollect)
          expect(Chunk.toReadonlyArray(accepted).map((c) => c.remoteAddress.port).sort()).toEqual(
            clients.map((c) => c.localAddress.port).sort()
          )
        })))

      it.live("idleTimeout fails a read that waits too long with TimedOut", () =>
        run(Effect.gen(function*() {
          const listener = yield* Tcp.listen()
          const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port, idleTimeout: "30 millis" })
          yield* listener.accept
          const peer = format(client.remoteAddress)
          expectError(yield* Effect.flip(client.recv), {
            _tag: "ReadError",
            reason: "TimedOut",
            address: peer,
            message: `read from ${peer} timed out: nothing arrived for 30ms`
          })
        })))

      it.live("serve runs handlers concurrently, at most `concurrency` at once", () =>
        run(Effect.gen(function*() {
          const listener = yield* Tcp.listen()
          const active = yield* Ref.make(0)
          const peak = yield* Ref.make(0)
          yield* Effect.forkScoped(Tcp.serve(listener, (conn) =>
            Effect.acquireUseRelease(
              Ref.updateAndGet(active, (n) => n + 1).pipe(Effect.tap((n) => Ref.update(peak, (p) => Math.max(p, n)))),
              () => Effect.zipRight(Effect.sleep("20 millis"), echo(conn)),
              () => Ref.update(active, (n) => n - 1)
            ), { concurrency: 2 }))
          const replies = yield* Effect.forEach(
            Array.from({ length: 5 }, (_, i) => i),
            (i) =>
              Effect.scoped(Effect.gen(function*() {
                const conn = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
                yield* conn.send(`client ${i}`)
                yield* conn.endWrite
                return yield* readAll(conn)
              })),
            { concurrency: "unbounded" }
          )
          expect(replies).toEqual([0, 1, 2, 3, 4].map((i) => `client ${i}`))
          expect(yield* Ref.get(peak)).toBe(2)
        })))

      it.live("a sender whose peer never reads ends up waiting in send", () =>
        run(Effect.gen(function*() {
          const listener = yield* Tcp.listen()
          const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port, closeTimeout: "10 millis" })
          yield* listener.accept
          const chunk = new Uint8Array(64 * 1024)
          let blocked = false
          // Loopback kernel buffers hold a few MiB; 64 MiB is far beyond.
          for (let i = 0; i < 1024 && !blocked; i++) {
            blocked = Option.isNone(yield* Effect.timeoutOption(client.send(chunk), "200 millis"))
          }
          expect(blocked).toBe(true)
        })))

      it.live("idleTimeout fails a send that the peer never drains with WriteError TimedOut", () =>
        run(Effect.gen(function*() {
          const listener = yield* Tcp.listen()
          const client = yield* Tcp.connect({
            host: "127.0.0.1",
            port: listener.address.port,
            idleTimeout: "100 millis",
            closeTimeout: "10 millis"
          })
          yield* listener.accept
          const chunk = new Uint8Array(64 * 1024)
          let failure: WriteError | undefined
          for (let i = 0; i < 1024 && failure === undefined; i++) {
            const result = yield* Effect.either(client.send(chunk))
            if (Either.isLeft(result)) failure = result.left
          }
          const peer = format(client.remoteAddress)
          expectError(failure, {
            _tag: "WriteError",
            reason: "TimedOut",
            address: peer,
            message: `write to ${peer} timed out: the peer took nothing for 100ms`
          })
        })))

      it.live("interruption closes everything: the ports can be bound again", () =>
        run(Effect.gen(function*() {
          const ready = yield* Effect.makeSemaphore(0)
          let port = 0
          const fiber = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
            const listener = yield* Tcp.listen()
            port = listener.address.port
            yield* Effect.forkScoped(Tcp.serve(listener, (conn) => conn.recv))
            const conn = yield* Tcp.connect({ host: "127.0.0.1", port })
            yield* ready.release(1)
            yield* conn.recv
          })))
          yield* ready.take(1)
          yield* Fiber.interrupt(fiber)
          const again = yield* Tcp.listen({ port })
          expect(again.address.port).toBe(port)
        })))

      it.live("IPv6 loopback", () =>
        run(Effect.gen(function*() {
          const listener = yield* Tcp.listen({ host: "::1" })
          expect(listener.address.family).toBe("IPv6")
          expect(listener.address.host).toBe("::1")
          yield* Effect.forkScoped(Tcp.serve(listener, echo))
          const conn = yield* Tcp.connect({ host: "::1", port: listener.address.port })
          expect(conn.localAddress.family).toBe("IPv6")
          yield* conn.send("six")
          yield* conn.endWrite
          expect(yield* readAll(conn)).toBe("six")
        })))

      it.live("bad ports and hosts are AddressErrors; unknown names are HostNotFound", () =>
        run(Effect.gen(function*() {
          expectError(yield* Effect.flip(Tcp.listen({ port: 70000 })), {
            _tag: "AddressError",
            reason: "InvalidPort",
            message: "port 70000 is not an integer in 0..65535"
          })
          expectError(yield* Effect.flip(Tcp.listen({ host: "not a host!" })), {
            _tag: "AddressError",
            reason: "InvalidHost",
            message: `host "not a host!" is neither an IP address nor a valid host name`
          })
          expectError(yield* Effect.flip(Tcp.connect({ host: "127.0.0.1", port: 0 })), {
            _tag: "AddressError",
            reason: "InvalidPort",
            message: "port 0 is not an integer in 1..65535"
          })
          expectError(yield* Effect.flip(Tcp.connect({ host: "", port: 80 })), {
            _tag: "AddressError",
            reason: "InvalidHost",
            message: `host "" is empty or not a string`
          })
          expectError(
            yield* Effect.flip(Tcp.listen({ host: "no-such-host.invalid" })),
            systemFailure(
              "AddressError", "HostNotFound", "ENOTFOUND", "resolve", "no-such-host.invalid:0", "host not found"
            )
          )
          expectError(
            yield* Effect.flip(Tcp.connect({ host: "no-such-host.invalid", port: 80 })),
            systemFailure(
              "ConnectError", "HostNotFound", "ENOTFOUND", "connect to", "no-such-host.invalid:80", "host not found"
            )
          )
        })))
    })

    it.live("out-of-range options are typed InvalidArgument errors", () =>
      run(Effect.gen(function*() {
        expectError(yield* Effect.flip(Tcp.listen({ backlog: 0 })), {
          _tag: "BindError",
          reason: "InvalidArgument",
          message: "backlog 0 is not a positive integer"
        })
        expectError(yield* Effect.flip(Tcp.connect({ host: "127.0.0.1", port: 9, timeout: -1 })), {
          _tag: "ConnectError",
          reason: "InvalidArgument",
          message: "timeout -1 is not a non-negative duration"
        })
        expectError(yield* Effect.flip(Tcp.listen({ idleTimeout: "soon" as never })), {
          _tag: "BindError",
          reason: "InvalidArgument",
          message: "idleTimeout soon is not a non-negative duration"
        })
        expectError(yield* Effect.flip(Udp.bind({ receiveBufferSize: 0 })), {
          _tag: "BindError",
          reason: "InvalidArgument",
          message: "Udp: receiveBufferSize 0 is not a positive integer"
        })
        expectError(yield* Effect.flip(Udp.bind({ ttl: 300 })), {
          _tag: "BindError",
          reason: "InvalidArgument",
          message: "Udp: ttl 300 is not an integer in 1..255"
        })
      })))


    describe("addresses as the resolver and the kernel give them", () => {
      it.live("an IPv4-mapped address is IPv4 traffic, named ::ffff:127.0.0.1 as Node names it", () =>
        run(Effect.gen(function*() {
          const listener = yield* Tcp.listen()
          const port = listener.address.port
          const client = yield* Tcp.connect({ host: "0:0:0:0:0:FFFF:7f00:1", port })
          expect(client.remoteAddress).toEqual({ family: "IPv6", host: "::ffff:127.0.0.1", port })
          expect([client.localAddress.family, client.localAddress.host]).toEqual(["IPv6", "::ffff:127.0.0.1"])
          const server = yield* listener.accept
          expect(server.remoteAddress).toEqual({ family: "IPv4", host: "127.0.0.1", port: client.localAddress.port })
          yield* client.send("mapped")
          yield* client.endWrite
          expect(yield* recvAll(server)).toBe("mapped")
          // ::1 is another host: an IPv6 source cannot reach an IPv4-mapped target.
          expectError(
            yield* Effect.flip(Tcp.connect({ host: "::ffff:127.0.0.1", port, localAddress: "::1" })),
            systemFailure(
              "ConnectError",
              "NetworkUnreachable",
              "ENETUNREACH",
              "connect to",
              `[::ffff:127.0.0.1]:${port}`,
              "network unreachable"
            )
          )
          // ... and an IPv4-mapped source cannot reach an IPv6 target.
          const six = yield* Tcp.listen({ host: "::1" })
          const toSix = yield* Effect.flip(Tcp.connect({ host: "::1", port: six.address.port, localAddress: "::ffff:127.0.0.1" }))
          expectError(
            toSix,
            systemFailure(
              "ConnectError", "InvalidAddress", "EAFNOSUPPORT", "connect to", format(six.address), "invalid address"
            )
          )
        })))

      it.live("a listener on ::ffff:127.0.0.1 is IPv6 to itself and takes 127.0.0.1's port; ipv6Only refuses it", () =>
        run(Effect.gen(function*() {
          const listener = yield* Tcp.listen({ host: "::ffff:127.0.0.1" })
          const port = listener.address.port
          expect(listener.address).toEqual({ family: "IPv6", host: "::ffff:127.0.0.1", port })
          expectError(yield* Effect.flip(Tcp.listen({ host: "127.0.0.1", port })), inUse("listen on", `127.0.0.1:${port}`))
          const client = yield* Tcp.connect({ host: "127.0.0.1", port })
          expect(client.remoteAddress).toEqual({ family: "IPv4", host: "127.0.0.1", port })
          const server = yield* listener.accept
          expect(server.localAddress).toEqual(listener.address)
          expect(server.remoteAddress).toEqual({ family: "IPv6", host: "::ffff:127.0.0.1", port: client.localAddress.port })
          expectError(yield* Effect.flip(Tcp.connect({ host: "::1", port })), refused(`[::1]:${port}`))
          expectError(
            yield* Effect.flip(Tcp.listen({ host: "::ffff:127.0.0.1", ipv6Only: true })),
            systemFailure(
              "BindError", "InvalidAddress", "EINVAL", "listen on", "[::ffff:127.0.0.1]:0", "invalid address"
            )
          )
        })))

      it.live("ipv6Only on ::1 is accepted and leaves IPv4 on the same port alone", () =>
        run(Effect.gen(function*() {
          const six = yield* Tcp.listen({ host: "::1", ipv6Only: true })
          const four = yield* Tcp.listen({ host: "127.0.0.1", port: six.address.port })
          expect(four.address.port).toBe(six.address.port)
        })))

      it.live("Udp.connect to an IPv4-mapped peer binds the mapped loopback, which reaches it", () =>
        run(Effect.gen(function*() {
          const four = yield* Udp.bind()
          const client = yield* Udp.connect({ host: "::ffff:127.0.0.1", port: four.address.port })
          expect([client.address.family, client.address.host]).toEqual(["IPv6", "::ffff:127.0.0.1"])
          yield* client.send("up")
          const request = yield* four.recv
          expect(request.from).toEqual({ family: "IPv4", host: "127.0.0.1", port: client.address.port })
          yield* four.send("down", request.from)
          const reply = yield* client.recv
          expect(new TextDecoder().decode(reply.payload)).toBe("down")
          expect(reply.from).toEqual({ family: "IPv6", host: "::ffff:127.0.0.1", port: four.address.port })
        })))

      it.live("UDP on ::ffff:127.0.0.1 talks IPv4: each side names the other in its own family", () =>
        run(Effect.gen(function*() {
          const mapped = yield* Udp.bind({ host: "::ffff:127.0.0.1" })
          expect([mapped.address.family, mapped.address.host]).toEqual(["IPv6", "::ffff:127.0.0.1"])
          const four = yield* Udp.bind()
          yield* mapped.send("over", { host: "::ffff:127.0.0.1", port: four.address.port })
          const request = yield* four.recv
          expect(request.from).toEqual({ family: "IPv4", host: "127.0.0.1", port: mapped.address.port })
          yield* four.send("back", request.from)
          const reply = yield* mapped.recv
          expect(reply.from).toEqual({ family: "IPv6", host: "::ffff:127.0.0.1", port: four.address.port })
          expectError(
            yield* Effect.flip(Udp.bind({ host: "127.0.0.1", port: mapped.address.port })),
            inUse("bind to", `127.0.0.1:${mapped.address.port}`)
          )
          const six = yield* Udp.bind({ family: "IPv6" })
          const mappedFour = `[::ffff:127.0.0.1]:${four.address.port}`
          expectError(
            yield* Effect.flip(six.send("x", { host: "::ffff:127.0.0.1", port: four.address.port })),
            systemFailure(
              "SendError", "NetworkUnreachable", "ENETUNREACH", "send to", mappedFour, "network unreachable"
            )
          )
          expectError(
            yield* Effect.flip(mapped.send("x", six.address)),
            systemFailure(
              "SendError", "InvalidAddress", "EAFNOSUPPORT", "send to", format(six.address), "invalid address"
            )
          )
        })))

      it.live("localhost is what the machine's resolver returns", () =>
        run(Effect.gen(function*() {
          const addresses = yield* Effect.promise(localhostAddresses)
          const hasSix = addresses.includes("::1")
          expect(addresses).toContain("127.0.0.1")
          // A listener on localhost takes its IPv4 address.
          const named = yield* Effect.scoped(Effect.map(Tcp.listen({ host: "localhost" }), (listener) => listener.address))
          expect([named.family, named.host]).toEqual(["IPv4", "127.0.0.1"])
          // A server on ::1 only is reached through localhost only if the
          // resolver gives ::1 (the IPv4 port is checked free first).
          const six = yield* Tcp.listen({ host: "::1" })
          yield* Effect.scoped(Tcp.listen({ host: "127.0.0.1", port: six.address.port }))
          const toSix = yield* Effect.either(Tcp.connect({ host: "localhost", port: six.address.port }))
          if (hasSix) expect(Either.isRight(toSix)).toBe(true)
          else expectError(Option.getOrUndefined(Either.getLeft(toSix)), refused(`localhost:${six.address.port}`))
          // An IPv6 socket looks localhost up in IPv6.
          const socket = yield* Udp.bind({ family: "IPv6" })
          const sent = yield* Effect.either(socket.send("self", { host: "localhost", port: socket.address.port }))
          if (hasSix) expect(text((yield* socket.recv).payload)).toBe("self")
          else {
            expectError(
              Option.getOrUndefined(Either.getLeft(sent)),
              systemFailure(
                "SendError",
                "HostNotFound",
                "ENOTFOUND",
                "send to",
                `localhost:${socket.address.port}`,
                "host not found"
              )
            )
          }
          const bound = yield* Effect.either(Udp.bind({ host: "localhost", family: "IPv6" }))
          if (hasSix) expect(Either.isRight(bound) && bound.right.address.host).toBe("::1")
          else {
            expectError(
              Option.getOrUndefined(Either.getLeft(bound)),
              systemFailure("AddressError", "HostNotFound", "ENOTFOUND", "resolve", "localhost", "host not found")
            )
          }
        })))
    })

    describe("UDP", () => {
      it.live("round trip: from is the sender's address", () =>
        run(Effect.gen(function*() {
          const a = yield* Udp.bind()
          const b = yield* Udp.bind()
          expect(a.address.host).toBe("127.0.0.1")
          expect(a.address.port).toBeGreaterThan(0)
          yield* a.send("ping", b.address)
          const request = yield* b.recv
          expect(text(request.payload)).toBe("ping")
          expect(request.from).toEqual(a.address)
          yield* b.send("pong", request.from)
          const reply = yield* a.recv
          expect(text(reply.payload)).toBe("pong")
          expect(reply.from).toEqual(b.address)
        })))

      it.live("one send is one datagram: boundaries kept, empty datagrams included", () =>
        run(Effect.gen(function*() {
          const a = yield* Udp.bind()
          const b = yield* Udp.bind()
          const sizes = [0, 1, 1000, 0, 65_507]
          yield* Effect.forEach(sizes, (size) => a.send(new Uint8Array(size).fill(7), b.address))
          const received = yield* Effect.forEach(sizes, () => Effect.map(b.recv, (d) => d.payload.length))
          expect(received).toEqual(sizes)
        })))

      it.live("over 65,507 bytes (IPv4) / 65,527 (IPv6) is MessageTooLarge", () =>
        run(Effect.gen(function*() {
          const a = yield* Udp.bind()
          expectError(yield* Effect.flip(a.send(new Uint8Array(65_508), a.address)), {
            _tag: "SendError",
            reason: "MessageTooLarge",
            address: format(a.address),
            message: `send of 65508 bytes from ${format(a.address)} failed: a UDP datagram over IPv4 carries at most 65507 bytes`
          })
          const six = yield* Udp.bind({ family: "IPv6" })
          expect(six.address.host).toBe("::1")
          yield* six.send(new Uint8Array(65_527), six.address)
          expect((yield* six.recv).payload.length).toBe(65_527)
          expectError(yield* Effect.flip(six.send(new Uint8Array(65_528), six.address)), {
            _tag: "SendError",
            reason: "MessageTooLarge",
            address: format(six.address),
            message: `send of 65528 bytes from ${format(six.address)} failed: a UDP datagram over IPv6 carries at most 65527 bytes`
          })
        })))

      it.live("a full receive buffer drops the newest (default) and counts it", () =>
        run(Effect.gen(function*() {
          const sender = yield* Udp.bind()
          const receiver = yield* Udp.bind({ receiveBufferSize: 4 })
          yield* Effect.forEach(Array.from({ length: 10 }, (_, i) => String(i)), (p) => sender.send(p, receiver.address))
          expect(yield* eventually(receiver.dropped, (n) => n === 6)).toBe(6)
          expect(yield* payloads(receiver, 4)).toEqual(["0", "1", "2", "3"])
        })))

      it.live("dropOldest keeps the newest datagrams", () =>
        run(Effect.gen(function*() {
          const sender = yield* Udp.bind()
          const receiver = yield* Udp.bind({ receiveBufferSize: 4, overflow: "dropOldest" })
          yield* Effect.forEach(Array.from({ length: 10 }, (_, i) => String(i)), (p) => sender.send(p, receiver.address))
          expect(yield* eventually(receiver.dropped, (n) => n === 6)).toBe(6)
          expect(yield* payloads(receiver, 4)).toEqual(["6", "7", "8", "9"])
        })))

      it.live("bind on a port in use is AddressInUse", () =>
        run(Effect.gen(function*() {
          const a = yield* Udp.bind()
          expectError(yield* Effect.flip(Udp.bind({ port: a.address.port })), inUse("bind to", format(a.address)))
        })))

      it.live("after close: send and recv fail Closed, datagrams ends", () =>
        run(Effect.gen(function*() {
          const a = yield* Udp.bind()
          const collecting = yield* Effect.fork(Stream.runCollect(a.datagrams))
          const waiting = yield* Effect.fork(Effect.flip(a.recv))
          yield* Effect.sleep("20 millis")
          yield* a.close
          yield* a.close
          expect(Chunk.size(yield* Fiber.join(collecting))).toBe(0)
          const here = format(a.address)
          const closedReceive: ExpectedError = {
            _tag: "ReceiveError",
            reason: "Closed",
            address: here,
            message: `receive on ${here} failed: the socket is closed`
          }
          expectError(yield* Fiber.join(waiting), closedReceive)
          expectError(yield* Effect.flip(a.send("x", { host: "127.0.0.1", port: 9 })), {
            _tag: "SendError",
            reason: "Closed",
            address: here,
            message: `send from ${here} failed: the socket is closed`
          })
          expectError(yield* Effect.flip(a.recv), closedReceive)
        })))

      it.live("a connected socket hears only its peer", () =>
        run(Effect.gen(function*() {
          const server = yield* Udp.bind()
          const stranger = yield* Udp.bind()
          const client = yield* Udp.connect({ host: "127.0.0.1", port: server.address.port })
          yield* stranger.send("noise", client.address)
          yield* server.send("signal", client.address)
          const datagram = yield* client.recv
          expect(text(datagram.payload)).toBe("signal")
          expect(datagram.from).toEqual(server.address)
          expect(yield* Effect.timeoutOption(client.recv, "50 millis")).toEqual(Option.none())
          yield* client.send("hello")
          const request = yield* server.recv
          expect(text(request.payload)).toBe("hello")
          expect(request.from).toEqual(client.address)
        })))

      it.live("a connected socket may name its peer in send, nobody else", () =>
        run(Effect.gen(function*() {
          const server = yield* Udp.bind()
          const client = yield* Udp.connect({ host: "127.0.0.1", port: server.address.port })
          yield* client.send("named", server.address)
          expect(text((yield* server.recv).payload)).toBe("named")
          const other = `127.0.0.1:${server.address.port + 1}`
          expectError(yield* Effect.flip(client.send("x", { host: "127.0.0.1", port: server.address.port + 1 })), {
            _tag: "SendError",
            reason: "InvalidAddress",
            address: other,
            message: `send to ${other} failed: the socket is connected to ${format(server.address)}`
          })
        })))

      it.live("UDP hosts are loopback addresses: bind on 127.0.0.2", () =>
        run(Effect.gen(function*() {
          const a = yield* Udp.bind({ host: "127.0.0.2" })
          const b = yield* Udp.bind({ host: "127.0.0.3" })
          expect(a.address.host).toBe("127.0.0.2")
          yield* a.send("hi", b.address)
          expect((yield* b.recv).from).toEqual(a.address)
        })))

      it.live("a datagram to a port nobody bound is lost silently (unconnected) or refused (connected)", () =>
        run(Effect.gen(function*() {
          const port = yield* freeUdpPort
          const unconnected = yield* Udp.bind()
          yield* unconnected.send("lost", { host: "127.0.0.1", port })
          expect(yield* Effect.timeoutOption(unconnected.recv, "50 millis")).toEqual(Option.none())
          const connected = yield* Udp.connect({ host: "127.0.0.1", port })
          yield* connected.send("refused")
          expectError(
            yield* Effect.flip(connected.recv),
            systemFailure(
              "ReceiveError",
              "ConnectionRefused",
              "ECONNREFUSED",
              "receive from",
              `127.0.0.1:${port}`,
              "connection refused"
            )
          )
        })))

      it.live("bad destinations are InvalidAddress; unknown names HostNotFound", () =>
        run(Effect.gen(function*() {
          const a = yield* Udp.bind()
          expectError(yield* Effect.flip(a.send("x")), {
            _tag: "SendError",
            reason: "InvalidAddress",
            message: `send from ${format(a.address)} failed: the socket is not connected, so a destination is required`
          })
          expectError(yield* Effect.flip(a.send("x", { host: "127.0.0.1", port: 0 })), {
            _tag: "SendError",
            reason: "InvalidAddress",
            address: "127.0.0.1:0",
            message: "send to 127.0.0.1:0 failed: port 0 is not an integer in 1..65535"
          })
          expectError(yield* Effect.flip(a.send("x", { host: "::1", port: 9 })), {
            _tag: "SendError",
            reason: "InvalidAddress",
            address: "[::1]:9",
            message: "send to [::1]:9 failed: ::1 is not an IPv4 address"
          })
          expectError(
            yield* Effect.flip(a.send("x", { host: "no-such-host.invalid", port: 9 })),
            systemFailure(
              "SendError", "HostNotFound", "ENOTFOUND", "send to", "no-such-host.invalid:9", "host not found"
            )
          )
          expectError(yield* Effect.flip(Udp.bind({ port: -1 })), {
            _tag: "AddressError",
            reason: "InvalidPort",
            message: "port -1 is not an integer in 0..65535"
          })
          expectError(
            yield* Effect.flip(Udp.connect({ host: "no-such-host.invalid", port: 9 })),
            systemFailure(
              "ConnectError", "HostNotFound", "ENOTFOUND", "resolve", "no-such-host.invalid:9", "host not found"
            )
          )
        })))

      it.live("interruption closes the socket: the port can be bound again", () =>
        run(Effect.gen(function*() {
          const ready = yield* Effect.makeSemaphore(0)
          let port = 0
          const fiber = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
            const socket = yield* Udp.bind()
            port = socket.address.port
            yield* ready.release(1)
            yield* Stream.runDrain(socket.datagrams)
          })))
          yield* ready.take(1)
          yield* Fiber.interrupt(fiber)
          const again = yield* Udp.bind({ port })
          expect(again.address.port).toBe(port)
        })))
    })
  })
}
