import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Schema, Stream } from "effect"
import * as Net from "node:net"
import * as Framing from "../../src/Framing.js"
import type { TcpConnection } from "../../src/Network.js"
import * as Tcp from "../../src/Tcp.js"
import { checkNoSocketLeaks } from "../utils/handles.js"
import { readText } from "../utils/tcp.js"
import { bashProcess, connectedPair, live, mib, report } from "./support.js"

checkNoSocketLeaks()

describe("a server facing strangers", () => {
  it.live("silent clients cannot hold serve's slots: idleTimeout drops them and the next client is served", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen({ idleTimeout: "200 millis" })
      const lines = Framing.lines({ maxLength: 1024 })
      yield* Effect.forkScoped(Tcp.serve(
        listener,
        (connection) =>
          lines.decode(connection.stream).pipe(Stream.runForEach((line) => connection.send(lines.encode(`echo ${line}`)))),
        { concurrency: 2 }
      ))
      const connect = Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
      // Two strangers take both slots and say nothing.
      const silent = [yield* connect, yield* connect]
      yield* Effect.sleep("50 millis")
      const polite = yield* connect
      yield* polite.send("hello\n")
      const reply = yield* readText(polite, "echo hello\n".length).pipe(Effect.timeout("10 seconds"))
      const silentSee = yield* Effect.forEach(silent, (client) =>
        client.recv.pipe(
          Effect.map(Option.match({ onNone: () => "EOF", onSome: () => "data" })),
          Effect.catchAll((error) => Effect.succeed(error.reason)),
          Effect.timeout("10 seconds")
        ))
      report("silent clients vs concurrency 2 + idleTimeout 200 ms", { silentSee, politeGot: reply })
      expect(reply).toBe("echo hello\n")
      expect(silentSee).toEqual(["EOF", "EOF"])
    })))

  // idleTimeout bounds reads only: a client that sends a request and never
  // reads the reply parks the handler in `send`. Bounding the handler frees it.
  it.live("a client that never reads holds a slot until the handler is bounded with a timeout", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen({ idleTimeout: "200 millis" })
      const bigReply = new Uint8Array(32 * 1024 * 1024)
      const lines = Framing.lines({ maxLength: 1024 })
      yield* Effect.forkScoped(Tcp.serve(
        listener,
        (connection) =>
          lines.decode(connection.stream).pipe(
            Stream.runForEach((line) => line === "big" ? connection.send(bigReply) : connection.send(lines.encode(line))),
            Effect.timeout("500 millis")
          ),
        { concurrency: 1 }
      ))
      const greedy = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
      yield* greedy.send("big\n")
      yield* Effect.sleep("50 millis")
      const polite = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
      yield* polite.send("hello\n")
      const reply = yield* readText(polite, "hello\n".length).pipe(Effect.timeout("10 seconds"))
      report("a client that never reads vs a handler bounded at 500 ms", { politeGot: reply })
      expect(reply).toBe("hello\n")
    })))

  /** A peer that sends `bytes` forever (until the connection dies), never a frame end. */
  const flood = (client: TcpConnection, first: Uint8Array) =>
    Effect.forkScoped(
      Effect.ignore(
        Effect.zipRight(client.send(first), Stream.run(Stream.repeatValue(new Uint8Array(64 * 1024).fill(0x61)), client.sink))
      )
    )

  const decoders: ReadonlyArray<
    readonly [name: string, decode: (bytes: Stream.Stream<Uint8Array, unknown>) => Stream.Stream<unknown, unknown>, first: Uint8Array]
  > = [
    ["lines()", Framing.lines().decode, new Uint8Array(0)],
    ["delimited(\"\\0\")", Framing.delimited("\0").decode, new Uint8Array(0)],
    ["schema(Schema.String)", Framing.schema(Schema.String).decode, new Uint8Array(0)],
    // A header announcing a 2 MiB frame, over the default 1 MiB limit.
    ["lengthPrefixed()", Framing.lengthPrefixed().decode, new Uint8Array([0, 0x20, 0, 0])]
  ]

  for (const [name, decode, first] of decoders) {
    it.live(`framing limits are on by default: ${name} stops an endless frame at 1 MiB`, () =>
      live(Effect.gen(function*() {
        const { client, server } = yield* connectedPair()
        yield* flood(client, first)
        let bytesRead = 0
        const counted = Stream.tap(server.stream, (chunk) => Effect.sync(() => bytesRead += chunk.length))
        const error = yield* Effect.flip(Stream.runDrain(decode(counted)))
        report(`framing limit, ${name}`, { error: error, bytesReadBeforeFailing: mib(bytesRead), limit: "1 MiB" })
        expect(error).toMatchObject({ _tag: "FrameError", reason: "FrameTooLarge" })
        // The limit, plus what the socket had buffered when the limit was crossed.
        expect(bytesRead).toBeLessThanOrEqual(Framing.defaultMaxLength + 256 * 1024)
      })))
  }
})

describe("EMFILE", () => {
  const fdLimit = 128
  const storm = 250

  it.live("a server out of file descriptors does not spin, and serves again after the storm", () =>
    live(Effect.gen(function*() {
      const server = yield* bashProcess(`ulimit -n ${fdLimit}; exec node --import tsx test/fixtures/emfile-server.ts`)
      const port = Number((yield* server.waitForLine(/^port (\d+)$/))[1])
      const stats = Effect.gen(function*() {
        const after = server.lines.length
        yield* server.writeLine("stats")
        const match = yield* server.waitForLine(/^stats (.*)$/, after)
        return JSON.parse(match[1]!) as { readonly cpuMicros: number; readonly served: number }
      })
      const before = yield* stats

      // The storm: more clients at once than the server has descriptors. Raw
      // sockets, so that the test's own side costs little.
      let replies = 0
      let closedByServer = 0
      const sockets = yield* Effect.acquireRelease(
        Effect.sync(() =>
          Array.from({ length: storm }, () => {
            const socket = Net.connect(port, "127.0.0.1")
            socket.on("error", () => {})
            socket.on("data", () => replies++)
            socket.on("close", () => closedByServer++)
            socket.write("ping\n")
            return socket
          })
        ),
        (sockets) => Effect.sync(() => sockets.forEach((socket) => socket.destroy()))
      )
      // Let the server take in what it can, then hold the storm for two more
      // seconds: an accept loop spinning on EMFILE would burn all of them.
      yield* Effect.sleep("1 second")
      const settled = yield* stats
      yield* Effect.sleep("2 seconds")
      const during = yield* stats
      const cpuFirstSecond = settled.cpuMicros - before.cpuMicros
      const cpuDuringStorm = during.cpuMicros - settled.cpuMicros
      const answered = replies
      const closedByServerDuringStorm = closedByServer
      yield* Effect.sync(() => sockets.forEach((socket) => socket.destroy()))
      yield* Effect.sleep("300 millis")

      // After the storm: a fresh client is served.
      const fresh = yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* Tcp.connect({ host: "127.0.0.1", port })
        yield* client.send("ping\n")
        return yield* readText(client, 5)
      })).pipe(Effect.timeout("10 seconds"))
      const after = yield* stats
      report("EMFILE storm", {
        fdLimit,
        storm,
        answeredDuringStorm: answered,
        closedByServerDuringStorm,
        cpuMsFirstSecond: Math.round(cpuFirstSecond / 1000),
        cpuMsNextTwoSeconds: Math.round(cpuDuringStorm / 1000),
        cpuBoundMs: 500,
        freshClientGot: fresh,
        servedInAll: after.served,
        serverStderr: server.stderr().slice(-500)
      })
      // The limit was really hit: not every client could be answered.
      expect(answered).toBeLessThan(storm)
      expect(answered).toBeGreaterThan(0)
      // Not spinning: far less than the two seconds a busy loop would take.
      expect(cpuDuringStorm).toBeLessThan(500_000)
      expect(fresh).toBe("pong\n")
      expect(after.served).toBeGreaterThan(during.served)
    })), 60_000)
})
