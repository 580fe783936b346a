/**
 * effect-net, used as its README shows: `Tcp.serve` with a handler per
 * connection, `conn.stream` / `conn.recv` to read, `conn.send` to write,
 * `socket.datagrams` / `socket.recv` for UDP, `Framing` to decode.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Framing from "../../src/Framing.js"
import type { Network } from "../../src/Network.js"
import * as NodeNetwork from "../../src/NodeNetwork.js"
import * as PlatformSocket from "../../src/PlatformSocket.js"
import * as Tcp from "../../src/Tcp.js"
import * as Udp from "../../src/Udp.js"
import type { BulkArgs, FloodArgs, FramingArgs, Operations, PingArgs } from "./protocol.js"
import { acksDue, bulkAck, floodCounter, framingInput, idleMeter, now } from "./protocol.js"
import { rpcOperations } from "./rpcOperations.js"

const host = "127.0.0.1"

const run = <A, E>(program: Effect.Effect<A, E, Network | Scope.Scope>): Promise<A> =>
  Effect.runPromise(Effect.provide(Effect.scoped(program), NodeNetwork.layer))

/** Starts a long-running server in the background; resolves with its port once it listens. */
const background = <E>(
  start: Effect.Effect<number, E, Network | Scope.Scope>,
  body: Effect.Effect<unknown, unknown, Network | Scope.Scope>
): Promise<{ port: number }> =>
  new Promise((resolve, reject) => {
    Effect.runFork(
      Effect.provide(
        Effect.scoped(Effect.zipRight(Effect.tap(start, (port) => Effect.sync(() => resolve({ port }))), body)),
        NodeNetwork.layer
      )
    ).addObserver((exit) => reject(new Error(`server ended: ${String(exit)}`)))
  })

/** Serves `handler` on a fresh listener. */
const tcpServer = (handler: (connection: Tcp.TcpConnection) => Effect.Effect<unknown, unknown>) => {
  let listener: Tcp.TcpListener | undefined
  return background(
    Effect.map(Tcp.listen({ host, noDelay: true }), (opened) => {
      listener = opened
      return opened.address.port
    }),
    Effect.suspend(() => Tcp.serve(listener!, handler))
  )
}

const deadline = <A, E, R>(deadlineMs: number, what: string, effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(effect, { duration: deadlineMs, onTimeout: () => new Error(`${what}: deadline of ${deadlineMs} ms passed`) })

/** Reads until `size` bytes arrived; fails at EOF. */
const readExactly = (connection: Tcp.TcpConnection, size: number) =>
  Effect.gen(function*() {
    let received = 0
    while (received < size) {
      const chunk = yield* connection.recv
      if (Option.isNone(chunk)) return yield* Effect.fail(new Error("unexpected EOF"))
      received += chunk.value.length
    }
  })

const connectAll = (port: number, connections: number) =>
  Effect.forEach(Array.from({ length: connections }), () => Tcp.connect({ host, port, noDelay: true }), {
    concurrency: "unbounded"
  })

const bulkClient = (args: BulkArgs) =>
  run(Effect.gen(function*() {
    const connections = yield* connectAll(args.port, args.connections)
    const chunk = new Uint8Array(args.chunkSize).fill(120)
    const start = now()
    yield* deadline(
      args.deadlineMs,
      "bulk",
      Effect.forEach(connections, (connection) =>
        Effect.gen(function*() {
          for (let sent = 0; sent < args.bytesPerConnection; sent += chunk.length) yield* connection.send(chunk)
          yield* readExactly(connection, (args.bytesPerConnection / args.ackEvery) * bulkAck.length)
        }), { concurrency: "unbounded", discard: true })
    )
    const seconds = (now() - start) / 1000
    return { seconds, bytes: args.connections * args.bytesPerConnection }
  }))

const pingClient = (args: PingArgs) =>
  run(Effect.gen(function*() {
    const connections = yield* connectAll(args.port, args.connections)
    const payload = new Uint8Array(args.size).fill(112)
    const perConnection = Math.max(1, Math.floor(args.roundTrips / args.connections))
    const start = now()
    yield* deadline(
      args.deadlineMs,
      "ping-pong",
      Effect.forEach(connections, (connection) =>
        Effect.gen(function*() {
          for (let i = 0; i < perConnection; i++) {
            yield* connection.send(payload)
            yield* readExactly(connection, args.size)
          }
        }), { concurrency: "unbounded", discard: true })
    )
    const seconds = (now() - start) / 1000
    return { seconds, roundTrips: perConnection * connections.length }
  }))

const udpPingClient = (args: PingArgs) =>
  run(Effect.gen(function*() {
    const sockets = yield* Effect.forEach(Array.from({ length: args.connections }), () => Udp.connect({ host, port: args.port }))
    const payload = new Uint8Array(args.size).fill(112)
    const perSocket = Math.max(1, Math.floor(args.roundTrips / args.connections))
    const start = now()
    yield* deadline(
      args.deadlineMs,
      "udp ping-pong",
      Effect.forEach(sockets, (socket) =>
        Effect.gen(function*() {
          for (let i = 0; i < perSocket; i++) {
            yield* socket.send(payload)
            yield* socket.recv
          }
        }), { concurrency: "unbounded", discard: true })
    )
    const seconds = (now() - start) / 1000
    return { seconds, roundTrips: perSocket * sockets.length }
  }))

const idle = idleMeter()
const flood = floodCounter()

const framing = (kind: "lines" | "lengthPrefixed") => (args: FramingArgs) => {
  const input = framingInput(kind, args.megabytes, args.chunkSize)
  const bytes = Stream.fromIterable(input.chunks)
  const decoded: Stream.Stream<unknown, unknown> = kind === "lines"
    ? Framing.lines().decode(bytes)
    : Framing.lengthPrefixed().decode(bytes)
  return Effect.runPromise(Effect.gen(function*() {
    let frames = 0
    const start = now()
    yield* Stream.runForEach(decoded, () =>
      Effect.sync(() => {
        frames++
      }))
    const seconds = (now() - start) / 1000
    if (frames !== input.frames) return yield* Effect.fail(new Error(`decoded ${frames} frames, expected ${input.frames}`))
    return { seconds, bytes: input.bytes, frames }
  }))
}

export const operations: Operations = {
  tcpBulkServer: ({ ackEvery }) =>
    tcpServer((connection) => {
      let received = 0
      return Stream.runForEach(connection.stream, (chunk) => {
        const before = received
        received += chunk.length
        const due = acksDue(before, received, ackEvery)
        return due === 0 ? Effect.void : Effect.repeatN(connection.send(bulkAck), due - 1)
      })
    }),
  tcpBulkClient: bulkClient,
  tcpEchoServer: () => tcpServer((connection) => Stream.run(connection.stream, connection.sink)),
  tcpPingClient: pingClient,
  tcpChurnServer: ({ size }) => {
    const reply = new Uint8Array(size).fill(99)
    return tcpServer((connection) => Effect.zipRight(readExactly(connection, size), connection.send(reply)))
  },
  tcpIdleServer: ({ reader }) =>
    tcpServer((connection) =>
      Effect.suspend(() => {
        idle.accepted()
        return reader === "stream"
          ? Stream.runDrain(connection.stream)
          : Effect.gen(function*() {
            while (Option.isSome(yield* connection.recv));
          })
      })
    ),
  tcpIdleBaseline: idle.baseline,
  tcpIdleReport: idle.report,
  udpEchoServer: () => {
    let socket: Udp.UdpSocket | undefined
    return background(
      Effect.map(Udp.bind({ host }), (bound) => {
        socket = bound
        return bound.address.port
      }),
      Effect.suspend(() => Stream.runForEach(socket!.datagrams, (datagram) => socket!.send(datagram.payload, datagram.from)))
    )
  },
  udpPingClient,
  udpFloodReceiver: () => {
    let socket: Udp.UdpSocket | undefined
    return background(
      Effect.map(Udp.bind({ host }), (bound) => {
        socket = bound
        return bound.address.port
      }),
      Effect.suspend(() =>
        Stream.runForEach(socket!.datagrams, () => Effect.sync(flood.received))
      )
    )
  },
  udpFloodReset: flood.reset,
  udpFloodReport: flood.report,
  udpFloodSender: (args: FloodArgs) =>
    run(Effect.gen(function*() {
      const socket = yield* Udp.connect({ host, port: args.port })
      const payload = new Uint8Array(args.size).fill(102)
      let sent = 0
      const start = now()
      yield* deadline(
        args.deadlineMs,
        "udp flood",
        Effect.gen(function*() {
          for (let i = 0; i < args.datagrams; i++) {
            const exit = yield* Effect.exit(socket.send(payload))
            if (exit._tag === "Success") sent++
          }
        })
      )
      return { seconds: (now() - start) / 1000, sent }
    })),
  framingLines: framing("lines"),
  framingLengthPrefixed: framing("lengthPrefixed"),
  ...rpcOperations({
    server: PlatformSocket.layerServer({ host, port: 0, noDelay: true }).pipe(Layer.provide(NodeNetwork.layer)),
    client: (port) => PlatformSocket.layerNet({ host, port, noDelay: true }).pipe(Layer.provide(NodeNetwork.layer))
  })
}
