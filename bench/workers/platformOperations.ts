/**
 * @effect/platform-node's `NodeSocket` / `NodeSocketServer`, used as their
 * documentation shows, on both ends: `socket.run(handler)` to read (and, on a
 * client, to open the connection), `socket.writer` to write, its release to
 * half-close. TCP only: the package has no UDP.
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import * as Socket from "@effect/platform/Socket"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import type { BulkArgs, ChurnArgs, IdleClientArgs, Operations, PingArgs } from "./protocol.js"
import { acksDue, bulkAck, idleMeter, now } from "./protocol.js"
import { deadline } from "./deadline.js"
import { rpcOperations } from "./rpcOperations.js"

const host = "127.0.0.1"

/** Starts a server running `handler` on every connection; resolves with its port. */
const server = (handler: (socket: Socket.Socket) => Effect.Effect<unknown, unknown, Scope.Scope>) =>
  new Promise<{ port: number }>((resolve, reject) => {
    Effect.runFork(Effect.scoped(Effect.gen(function*() {
      const server = yield* NodeSocketServer.make({ host, port: 0, noDelay: true })
      if (server.address._tag !== "TcpAddress") return yield* Effect.dieMessage("not a TCP server")
      resolve({ port: server.address.port })
      return yield* server.run((socket) =>
        // A peer's close ends `run` with a SocketCloseError: that is how these sockets end.
        Effect.scoped(handler(socket)).pipe(Effect.catchAll(() => Effect.void))
      )
    }))).addObserver((exit) => reject(new Error(`server ended: ${String(exit)}`)))
  })

/**
 * Opens `connections` sockets and runs `session` on each: it gets a writer
 * and registers the handler for incoming chunks; `finish` ends the session.
 */
const clientSessions = (
  port: number,
  connections: number,
  deadlineMs: number,
  session: (
    write: (chunk: Uint8Array) => Effect.Effect<void, Socket.SocketError>,
    finish: Effect.Effect<void>
  ) => {
    readonly onData: (chunk: Uint8Array) => Effect.Effect<unknown, Socket.SocketError> | void
    readonly start: Effect.Effect<unknown, Socket.SocketError>
  }
) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const sockets = yield* Effect.forEach(
      Array.from({ length: connections }),
      () => NodeSocket.makeNet({ host, port, noDelay: true }),
      { concurrency: "unbounded" }
    )
    const start = now()
    yield* Effect.forEach(sockets, (socket) =>
      Effect.scoped(Effect.gen(function*() {
        const write = yield* socket.writer
        const done = yield* Deferred.make<void>()
        const { onData, start } = session(write, Deferred.complete(done, Effect.void))
        yield* Effect.forkScoped(socket.run(onData))
        yield* start
        yield* Deferred.await(done)
      })), { concurrency: "unbounded", discard: true }).pipe((sessions) => deadline(deadlineMs, "sessions", sessions))
    return (now() - start) / 1000
  })))

const bulkClient = async (args: BulkArgs) => {
  const chunk = new Uint8Array(args.chunkSize).fill(120)
  const expected = (args.bytesPerConnection / args.ackEvery) * bulkAck.length
  const seconds = await clientSessions(args.port, args.connections, args.deadlineMs, (write, finish) => {
    let acknowledged = 0
    return {
      onData: (data) => {
        acknowledged += data.length
        if (acknowledged >= expected) return finish
      },
      start: Effect.gen(function*() {
        for (let sent = 0; sent < args.bytesPerConnection; sent += chunk.length) yield* write(chunk)
      })
    }
  })
  return { seconds, bytes: args.connections * args.bytesPerConnection }
}

const pingClient = async (args: PingArgs) => {
  const payload = new Uint8Array(args.size).fill(112)
  const perConnection = Math.max(1, Math.floor(args.roundTrips / args.connections))
  const seconds = await clientSessions(args.port, args.connections, args.deadlineMs, (write, finish) => {
    let received = 0
    let done = 0
    return {
      onData: (chunk) => {
        received += chunk.length
        if (received < args.size) return
        received -= args.size
        return ++done === perConnection ? finish : write(payload)
      },
      start: write(payload)
    }
  })
  return { seconds, roundTrips: perConnection * args.connections }
}

const churnClient = ({ concurrency, connections, deadlineMs, port, size }: ChurnArgs) =>
  Effect.runPromise(Effect.gen(function*() {
    const payload = new Uint8Array(size).fill(99)
    let errors = 0
    const start = now()
    yield* deadline(
      deadlineMs,
      "accept churn",
      Effect.forEach(Array.from({ length: connections }), () =>
        Effect.gen(function*() {
          const socket = yield* NodeSocket.makeNet({ host, port, noDelay: true })
          let received = 0
          yield* socket.run((chunk) => {
            received += chunk.length
          }, { onOpen: Effect.scoped(Effect.flatMap(socket.writer, (write) => Effect.orDie(write(payload)))) })
          if (received < size) errors++
        }), { concurrency, discard: true })
    )
    return { seconds: (now() - start) / 1000, connections, errors }
  }))

/** The scopes of the connections an idle client holds open: they stay open until the process exits. */
const held: Array<Scope.CloseableScope> = []

/** Opens a connection that stays open, reading and ignoring, until `scope` ends. */
const openIn = (scope: Scope.Scope, port: number) =>
  Effect.gen(function*() {
    const socket = yield* NodeSocket.makeNet({ host, port, noDelay: true })
    const opened = yield* Deferred.make<void>()
    const running = yield* Effect.forkIn(socket.run(() => {}, { onOpen: Deferred.complete(opened, Effect.void) }), scope)
    yield* Effect.raceFirst(Deferred.await(opened), Fiber.join(running))
  })

const idleClient = ({ connections, deadlineMs, hold, port }: IdleClientArgs) =>
  Effect.runPromise(Effect.gen(function*() {
    const scope = yield* Scope.make()
    yield* deadline(
      deadlineMs,
      "idle connections",
      Effect.forEach(Array.from({ length: connections }), () => openIn(scope, port), { concurrency: 100, discard: true })
    ).pipe(Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause))))
    if (hold) held.push(scope)
    else yield* Scope.close(scope, Exit.void)
    return { connections }
  }))

const idle = idleMeter()

export const operations: Operations = {
  tcpBulkServer: ({ ackEvery }) =>
    server((socket) =>
      Effect.gen(function*() {
        const write = yield* socket.writer
        let received = 0
        yield* socket.run((chunk) => {
          const before = received
          received += chunk.length
          const due = acksDue(before, received, ackEvery)
          if (due > 0) return Effect.repeatN(write(bulkAck), due - 1)
        })
      })
    ),
  tcpBulkClient: bulkClient,
  tcpEchoServer: () => server((socket) => Effect.flatMap(socket.writer, (write) => socket.run(write))),
  tcpPingClient: pingClient,
  tcpChurnClient: churnClient,
  tcpChurnServer: ({ size }) =>
    server((socket) =>
      Effect.gen(function*() {
        const write = yield* socket.writer
        const reply = new Uint8Array(size).fill(99)
        let received = 0
        yield* socket.run((chunk) => {
          const before = received
          received += chunk.length
          if (before < size && received >= size) return Effect.zipRight(write(reply), write(new Socket.CloseEvent()))
        })
      })
    ),
  tcpIdleServer: () =>
    server((socket) =>
      Effect.suspend(() => {
        idle.accepted()
        return socket.run(() => {})
      })
    ),
  tcpIdleBaseline: idle.baseline,
  tcpIdleReport: idle.report,
  tcpIdleClient: idleClient,
  ...rpcOperations({
    server: NodeSocketServer.layer({ host, port: 0, noDelay: true }),
    client: (port) => Layer.orDie(NodeSocket.layerNet({ host, port, noDelay: true }))
  })
}
