import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, FastCheck as fc, Fiber, Option, Scope, Stream } from "effect"
import * as Framing from "../../src/Framing.js"
import type { TcpConnection, TcpListener, UdpSocket } from "../../src/Network.js"
import * as Tcp from "../../src/Tcp.js"
import * as Udp from "../../src/Udp.js"
import { checkNoSocketLeaks, openSocketHandles } from "../utils/handles.js"
import { readText } from "../utils/tcp.js"
import { defectsOf, lingeringHandles, live, report } from "./support.js"

checkNoSocketLeaks()

/**
 * One step of a random socket program. Indexes pick among the sockets the
 * program has opened so far (modulo their count); a step whose socket does
 * not exist yet does nothing.
 */
type Step =
  | { readonly op: "listen" }
  | { readonly op: "connect"; readonly listener: number }
  | { readonly op: "accept"; readonly listener: number }
  | { readonly op: "connections"; readonly listener: number; readonly take: number }
  | { readonly op: "serve"; readonly listener: number }
  | { readonly op: "send"; readonly conn: number; readonly size: number }
  | { readonly op: "recv"; readonly conn: number }
  | { readonly op: "stream"; readonly conn: number; readonly take: number }
  | { readonly op: "frame"; readonly conn: number }
  | { readonly op: "endWrite"; readonly conn: number }
  | { readonly op: "close"; readonly conn: number }
  | { readonly op: "gracefulClose"; readonly conn: number }
  | { readonly op: "udpBind" }
  | { readonly op: "udpSend"; readonly from: number; readonly to: number; readonly size: number }
  | { readonly op: "udpRecv"; readonly socket: number }
  | { readonly op: "udpClose"; readonly socket: number }

interface Program {
  readonly steps: ReadonlyArray<{ readonly step: Step; readonly forked: boolean }>
  /** Interrupt once this many steps have finished… */
  readonly interruptAfterSteps: number
  /** …or after this many milliseconds, whichever comes first. */
  readonly interruptAfterMs: number
}

const index = fc.nat({ max: 7 })
const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.constant({ op: "listen" as const }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant("connect" as const), listener: index }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant("accept" as const), listener: index }), weight: 3 },
  {
    arbitrary: fc.record({ op: fc.constant("connections" as const), listener: index, take: fc.integer({ min: 1, max: 3 }) }),
    weight: 1
  },
  { arbitrary: fc.record({ op: fc.constant("serve" as const), listener: index }), weight: 1 },
  // Up to 4 MiB: past the kernel's buffers, so a send to a peer that does not read blocks.
  {
    arbitrary: fc.record({ op: fc.constant("send" as const), conn: index, size: fc.integer({ min: 0, max: 4 * 1024 * 1024 }) }),
    weight: 3
  },
  { arbitrary: fc.record({ op: fc.constant("recv" as const), conn: index }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant("stream" as const), conn: index, take: fc.integer({ min: 1, max: 4 }) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("frame" as const), conn: index }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("endWrite" as const), conn: index }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("close" as const), conn: index }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("gracefulClose" as const), conn: index }), weight: 1 },
  { arbitrary: fc.constant({ op: "udpBind" as const }), weight: 2 },
  {
    arbitrary: fc.record({
      op: fc.constant("udpSend" as const),
      from: index,
      to: index,
      size: fc.integer({ min: 0, max: 2048 })
    }),
    weight: 2
  },
  { arbitrary: fc.record({ op: fc.constant("udpRecv" as const), socket: index }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant("udpClose" as const), socket: index }), weight: 1 }
)

const programArbitrary: fc.Arbitrary<Program> = fc.record({
  steps: fc.array(fc.record({ step: stepArbitrary, forked: fc.boolean() }), { minLength: 2, maxLength: 20 }),
  interruptAfterSteps: fc.integer({ min: 1, max: 20 }),
  interruptAfterMs: fc.integer({ min: 0, max: 60 })
})

/** Bytes that are also lines, so that a framing step on the other end has something to decode. */
const payload = (size: number): Uint8Array => {
  const bytes = new Uint8Array(size)
  for (let i = 0; i < size; i++) bytes[i] = i % 16 === 15 ? 10 : 97 + (i % 16)
  return bytes
}

const pick = <A>(items: ReadonlyArray<A>, at: number): Option.Option<A> =>
  items.length === 0 ? Option.none() : Option.some(items[at % items.length]!)

const echo = (connection: TcpConnection) => Stream.run(connection.stream, connection.sink)

interface Opened {
  readonly tcpPorts: Array<number>
  readonly udpPorts: Array<number>
  steps: number
}

/**
 * Runs `program` in one scope. Typed failures of a step (refused, closed,
 * timed out…) are a normal outcome and end only that step; a defect would
 * escape and fail the property.
 */
const run = (program: Program, opened: Opened, reached: Deferred.Deferred<void>) =>
  Effect.gen(function*() {
    const listeners: Array<TcpListener> = []
    const connections: Array<TcpConnection> = []
    const udpSockets: Array<UdpSocket> = []
    const onConnection = <A>(at: number, use: (connection: TcpConnection) => Effect.Effect<A, unknown>) =>
      Option.match(pick(connections, at), { onNone: () => Effect.void, onSome: use })

    const perform = (step: Step): Effect.Effect<unknown, unknown, any> => {
      switch (step.op) {
        case "listen":
          return Effect.tap(Tcp.listen(), (listener) => {
            listeners.push(listener)
            opened.tcpPorts.push(listener.address.port)
          })
        case "connect": {
          // With no listener yet, a port nothing listens on: a refused connect.
          const port = Option.match(pick(listeners, step.listener), { onNone: () => 1, onSome: (l) => l.address.port })
          return Effect.tap(Tcp.connect({ host: "127.0.0.1", port, timeout: "1 second" }), (c) => connections.push(c))
        }
        case "accept":
          return Option.match(pick(listeners, step.listener), {
            onNone: () => Effect.void,
            onSome: (listener) => Effect.tap(listener.accept, (c) => connections.push(c))
          })
        case "connections":
          return Option.match(pick(listeners, step.listener), {
            onNone: () => Effect.void,
            onSome: (listener) => listener.connections.pipe(Stream.take(step.take), Stream.runDrain)
          })
        case "serve":
          return Option.match(pick(listeners, step.listener), {
            onNone: () => Effect.void,
            onSome: (listener) => Tcp.serve(listener, echo, { concurrency: 4, shutdownTimeout: "50 millis" })
          })
        case "send":
          return onConnection(step.conn, (c) => c.send(payload(step.size)))
        case "recv":
          return onConnection(step.conn, (c) => c.recv)
        case "stream":
          return onConnection(step.conn, (c) => c.stream.pipe(Stream.take(step.take), Stream.runDrain))
        case "frame":
          return onConnection(
            step.conn,
            (c) => Framing.lines({ maxLength: 64 }).decode(c.stream).pipe(Stream.take(2), Stream.runDrain)
          )
        case "endWrite":
          return onConnection(step.conn, (c) => c.endWrite)
        case "close":
          return onConnection(step.conn, (c) => c.close)
        case "gracefulClose":
          return onConnection(step.conn, (c) => Tcp.gracefulClose(c, { timeout: "30 millis" }))
        case "udpBind":
          return Effect.tap(Udp.bind({ receiveBufferSize: 16 }), (socket) => {
            udpSockets.push(socket)
            opened.udpPorts.push(socket.address.port)
          })
        case "udpSend":
          return Option.match(pick(udpSockets, step.from), {
            onNone: () => Effect.void,
            onSome: (from) =>
              Option.match(pick(udpSockets, step.to), {
                onNone: () => Effect.void,
                onSome: (to) => from.send(payload(step.size), to.address)
              })
          })
        case "udpRecv":
          return Option.match(pick(udpSockets, step.socket), { onNone: () => Effect.void, onSome: (s) => s.recv })
        case "udpClose":
          return Option.match(pick(udpSockets, step.socket), { onNone: () => Effect.void, onSome: (s) => s.close })
      }
    }

    for (const { forked, step } of program.steps) {
      const attempt = Effect.catchAll(perform(step), () => Effect.void)
      if (forked) yield* Effect.forkScoped(attempt)
      else yield* attempt
      opened.steps++
      if (opened.steps === program.interruptAfterSteps) yield* Deferred.succeed(reached, undefined)
    }
  })

describe("interruption anywhere", () => {
  let runs = 0
  let interrupted = 0
  let stepsRun = 0
  let portsRebound = 0

  it.live.prop(
    "a random socket program interrupted at a random point leaves no handle open and frees its ports",
    [programArbitrary],
    ([program]) =>
      Effect.gen(function*() {
        const opened: Opened = { tcpPorts: [], udpPorts: [], steps: 0 }
        const reached = yield* Deferred.make<void>()
        const fiber = yield* Effect.fork(live(run(program, opened, reached)))
        yield* Effect.raceFirst(Deferred.await(reached), Effect.sleep(program.interruptAfterMs))
        const exit = yield* Fiber.interrupt(fiber)
        runs++
        stepsRun += opened.steps
        if (Exit.isInterrupted(exit)) interrupted++

        // Only typed failures were caught: nothing may have died.
        expect(defectsOf(exit)).toEqual([])
        expect(yield* lingeringHandles()).toEqual([])
        // Every port the program bound is free again.
        yield* live(Effect.forEach(opened.tcpPorts, (port) => Effect.scoped(Tcp.listen({ port })), { discard: true }))
        yield* live(Effect.forEach(opened.udpPorts, (port) => Effect.scoped(Udp.bind({ port })), { discard: true }))
        portsRebound += opened.tcpPorts.length + opened.udpPorts.length
        expect(yield* lingeringHandles()).toEqual([])
      }),
    { timeout: 120_000, fastCheck: { numRuns: 40 } }
  )

  it("ran programs that were really interrupted mid-way", () => {
    report("interruption anywhere", { runs, interrupted, stepsRun, portsRebound, handlesAfter: openSocketHandles().length })
    expect(runs).toBe(40)
    // Most programs block somewhere (accept, recv, a send to a peer that does not read).
    expect(interrupted).toBeGreaterThan(runs / 8)
    expect(portsRebound).toBeGreaterThan(0)
  })
})

describe("a scope that ends under a waiting operation", () => {
  // The shape of `Effect.forkScoped(listener.accept)` when the scope closes:
  // the scope's finalizers run before the forked fiber is interrupted, so
  // for a moment the accept still waits while its scope is already closed.
  it.live("an accept whose scope has closed leaves the next connection to the next accept", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const scope = yield* Scope.make()
      const waiting = yield* Effect.fork(Scope.extend(listener.accept, scope))
      yield* Effect.sleep("20 millis")
      yield* Scope.close(scope, Exit.void)
      const client = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
      const stale = yield* Fiber.await(waiting).pipe(Effect.timeout("500 millis"), Effect.option)
      // A connection handed to the closed scope would be owned by nobody: never
      // closed, and never seen by the next accept.
      const next = yield* listener.accept.pipe(
        Effect.flatMap((server) => Effect.zipRight(client.send("hi"), readText(server, 2))),
        Effect.scoped,
        Effect.timeout("1 second"),
        Effect.option
      )
      // Clean up what a failing run leaks, so that later tests are not affected.
      yield* Fiber.interrupt(waiting)
      if (Option.isSome(stale) && Exit.isSuccess(stale.value)) yield* stale.value.value.close
      report("accept after its scope closed", {
        staleAccept: Option.match(stale, { onNone: () => "still waiting", onSome: (exit) => exit._tag }),
        nextAccept: Option.getOrElse(next, () => "nothing")
      })
      expect(Option.isSome(stale) && Exit.isSuccess(stale.value)).toBe(false)
      expect(next).toEqual(Option.some("hi"))
    })))

  it.live("a connect that finishes after its scope closed closes what it connected", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const scope = yield* Scope.make()
      yield* Scope.close(scope, Exit.void)
      // A fiber that still runs with a scope that has closed, as a forked
      // fiber does until the scope's finalizers come to interrupt it.
      const client = yield* Scope.extend(Tcp.connect({ host: "127.0.0.1", port: listener.address.port }), scope)
      const server = yield* listener.accept
      const serverSees = yield* server.recv.pipe(
        Effect.map(Option.match({ onNone: () => "EOF", onSome: () => "data" })),
        Effect.catchAll((error) => Effect.succeed(error.reason)),
        Effect.timeoutTo({ duration: "1 second", onSuccess: (seen) => seen, onTimeout: () => "still open" })
      )
      // Clean up what a failing run leaks, so that later tests are not affected.
      yield* client.close
      report("connect after its scope closed", { serverSees })
      expect(serverSees).not.toBe("still open")
    })))
})
