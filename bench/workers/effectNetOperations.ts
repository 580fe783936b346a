/**
 * effect-net, used as its README shows, on both ends: `Tcp.serve` with a
 * handler per connection, `conn.stream` / `conn.recv` to read, `conn.send`
 * to write, `Tcp.connect` in `Effect.scoped` per connection,
 * `socket.datagrams` / `socket.recvWithin` for UDP (a reply awaited a
 * bounded time, a batch sent with `socket.sendAll`), `Effect.forEach` to
 * send several at once,
 * `Framing` to decode.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Framing from "../../src/Framing.js"
import type { Network } from "../../src/Network.js"
import * as NodeNetwork from "../../src/NodeNetwork.js"
import * as PlatformSocket from "../../src/PlatformSocket.js"
import * as Tcp from "../../src/Tcp.js"
import * as Telemetry from "../../src/Telemetry.js"
import * as Udp from "../../src/Udp.js"
import type { BulkArgs, ChurnArgs, FloodArgs, FramingArgs, IdleClientArgs, Operations, PingArgs, UdpPingArgs } from "./protocol.js"
import { acksDue, bulkAck, floodCounter, framingInput, idleMeter, now } from "./protocol.js"
import { deadline } from "./deadline.js"
import { rpcOperations } from "./rpcOperations.js"

const host = "127.0.0.1"

/** Real sockets, with telemetry on when the bench runs this child as effect-net+telemetry. */
const network: Layer.Layer<Network> = process.env.EFFECT_NET_BENCH_TELEMETRY === "1"
  ? Layer.merge(NodeNetwork.layer, Telemetry.layer)
  : NodeNetwork.layer

const run = <A, E>(program: Effect.Effect<A, E, Network | Scope.Scope>): Promise<A> =>
  Effect.runPromise(Effect.provide(Effect.scoped(program), network))

/** Starts a long-running server in the background; resolves with its port once it listens. */
const background = <E>(
  start: Effect.Effect<number, E, Network | Scope.Scope>,
  body: Effect.Effect<unknown, unknown, Network | Scope.Scope>
): Promise<{ port: number }> =>
  new Promise((resolve, reject) => {
    Effect.runFork(
      Effect.provide(
        Effect.scoped(Effect.zipRight(Effect.tap(start, (port) => Effect.sync(() => resolve({ port }))), body)),
        network
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

const udpPingClient = (args: UdpPingArgs) =>
  run(Effect.gen(function*() {
    const sockets = yield* Effect.forEach(Array.from({ length: args.connections }), () => Udp.bind({ host }))
    const server = { host, port: args.port }
    const payload = new Uint8Array(args.size).fill(112)
    const perSocket = Math.max(1, Math.floor(args.roundTrips / args.connections))
    let timeouts = 0
    const start = now()
    yield* deadline(
      args.deadlineMs,
      "udp ping-pong",
      Effect.forEach(sockets, (socket) =>
        Effect.gen(function*() {
          for (let done = 0; done < perSocket;) {
            yield* socket.send(payload, server)
            const reply = yield* socket.recvWithin(args.timeoutMs)
            if (Option.isSome(reply)) done++
            else timeouts++
          }
        }), { concurrency: "unbounded", discard: true })
    )
    const seconds = (now() - start) / 1000
    return { seconds, roundTrips: perSocket * sockets.length, timeouts }
  }))

const floodSender = (args: FloodArgs) =>
  run(Effect.gen(function*() {
    const socket = yield* Udp.connect({ host, port: args.port })
    const batch = Array.from({ length: args.batch }, () => new Uint8Array(args.size).fill(102))
    let sent = 0
    const start = now()
    yield* deadline(
      args.deadlineMs,
      "udp flood",
      Effect.gen(function*() {
        for (let first = 0; first < args.datagrams; first += batch.length) {
          const datagrams = batch.slice(0, args.datagrams - first)
          // A refused batch is not counted as sent (some of it may have gone).
          if (Exit.isSuccess(yield* Effect.exit(socket.sendAll(datagrams)))) sent += datagrams.length
        }
      })
    )
    return { seconds: (now() - start) / 1000, sent }
  }))

const churnClient = ({ concurrency, connections, deadlineMs, port, size }: ChurnArgs) =>
  run(Effect.gen(function*() {
    const payload = new Uint8Array(size).fill(99)
    let errors = 0
    const start = now()
    yield* deadline(
      deadlineMs,
      "accept churn",
      Effect.forEach(Array.from({ length: connections }), () =>
        Effect.scoped(Effect.gen(function*() {
          const connection = yield* Tcp.connect({ host, port, noDelay: true })
          yield* connection.send(payload)
          yield* connection.endWrite
          const reply = yield* Tcp.readToEnd(connection)
          if (reply.length < size) errors++
        })), { concurrency, discard: true })
    )
    return { seconds: (now() - start) / 1000, connections, errors }
  }))

/** The scopes of the connections an idle client holds open: they stay open until the process exits. */
const held: Array<Scope.CloseableScope> = []

const idleClient = ({ connections, deadlineMs, hold, port }: IdleClientArgs) =>
  run(Effect.gen(function*() {
    const scope = yield* Scope.make()
    yield* deadline(
      deadlineMs,
      "idle connections",
      Effect.forEach(Array.from({ length: connections }), () => Tcp.connect({ host, port, noDelay: true }), {
        concurrency: 100,
        discard: true
      })
    ).pipe(Scope.extend(scope), Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause))))
    if (hold) held.push(scope)
    else yield* Scope.close(scope, Exit.void)
    return { connections }
  }))

const idle = idleMeter()
const flood = floodCounter()

const framing = (kind: "lines" | "lengthPrefixed") => (args: FramingArgs) => {
  const input = framingInput(kind, args.megabytes, args.chunkSize)
  // One stream chunk per 64 KiB read, as `conn.stream` delivers them.
  const bytes = Stream.fromChunks(...input.chunks.map((chunk) => Chunk.of(chunk)))
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
      return Stream.runForEachChunk(connection.stream, (chunk) => {
        const before = received
        for (const bytes of chunk) received += bytes.length
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
  tcpChurnClient: churnClient,
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
  tcpIdleClient: idleClient,
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
  udpFloodSender: floodSender,
  framingLines: framing("lines"),
  framingLengthPrefixed: framing("lengthPrefixed"),
  ...rpcOperations({
    server: PlatformSocket.layerServer({ host, port: 0, noDelay: true }).pipe(Layer.provide(NodeNetwork.layer)),
    client: (port) => PlatformSocket.layerNet({ host, port, noDelay: true }).pipe(Layer.provide(NodeNetwork.layer))
  })
}
