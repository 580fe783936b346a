/**
 * Regression tests for the UDP defects 1, 4 and 6 of issue 12: a tight send
 * loop that starved the event loop, a send racing close that never ended,
 * and a connect to an IPv4-mapped IPv6 address that bound a socket unable to
 * reach it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import type { UdpSocket } from "../../src/Network.js"
import * as Udp from "../../src/Udp.js"
import { completionsPerTurn, TurnBudget } from "../../src/internal/node/waiters.js"
import { checkNoSocketLeaks } from "../utils/handles.js"
import { live } from "../utils/live.js"
import { childProcess, repositoryRoot } from "../utils/process.js"

checkNoSocketLeaks()

/** Fails the test instead of waiting for the whole test timeout. */
const within = <A, E, R>(effect: Effect.Effect<A, E, R>, seconds = 5) =>
  Effect.timeoutFail(effect, {
    duration: `${seconds} seconds`,
    onTimeout: () => new Error(`did not end within ${seconds} seconds`)
  })

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

describe("a tight send loop", () => {
  for (const mode of ["bound", "connected"] as const) {
    it.live(`on a ${mode} socket lets timers fire, so a timeout ends it`, () =>
      live(Effect.gen(function*() {
        // The child is killed when the scope ends: a starved loop never exits.
        const child = yield* childProcess("node", ["--import", "tsx", "test/fixtures/udp-send-loop.ts", mode], {
          cwd: repositoryRoot
        })
        const code = yield* within(child.exited, 20).pipe(
          Effect.mapError(() => new Error(`the send loop did not end: ${child.stderr()}`))
        )
        expect(code, child.stderr()).toBe(0)
        const [line] = child.lines
        const match = /^(\w+) (\w+) sent=(\d+) timers=(\d+)$/.exec(line ?? "")
        expect(match, line).not.toBeNull()
        const [, reported, outcome, sent, timers] = match!
        expect(reported).toBe(mode)
        expect(outcome).toBe("TimeoutException")
        expect(Number(sent)).toBeGreaterThan(0)
        expect(Number(timers)).toBeGreaterThan(0)
      })))
  }
})

describe("TurnBudget", () => {
  const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

  it("defers one completion in every completionsPerTurn that come within one turn", async () => {
    const budget = new TurnBudget()
    const resumed: Array<number> = []
    for (let i = 0; i < 2 * completionsPerTurn; i++) budget.complete((value) => resumed.push(value), i)
    expect(resumed).toHaveLength(2 * completionsPerTurn - 2)
    expect(resumed).not.toContain(completionsPerTurn - 1)
    await nextTurn()
    expect(resumed).toHaveLength(2 * completionsPerTurn)
    expect(resumed.slice(-2)).toEqual([completionsPerTurn - 1, 2 * completionsPerTurn - 1])
  })

  it("defers nothing when the completions come in different turns", async () => {
    const budget = new TurnBudget()
    let resumed = 0
    for (let i = 0; i < 3 * completionsPerTurn; i++) {
      budget.complete(() => resumed++, undefined)
      expect(resumed).toBe(i + 1)
      if (i % 16 === 15) await nextTurn()
    }
  })
})

/** The exits of `sends`, forked just before `socket` closes: each must end, with success or Closed. */
const sendsRacingClose = (socket: UdpSocket, sends: ReadonlyArray<Effect.Effect<void, unknown>>) =>
  Effect.gen(function*() {
    const fibers = yield* Effect.forEach(sends, (send) => Effect.fork(send))
    yield* Effect.yieldNow()
    yield* socket.close
    return yield* within(Effect.forEach(fibers, Fiber.await))
  })

/** Each of `exits` is a success or a SendError Closed. */
const expectSuccessOrClosed = (exits: ReadonlyArray<Exit.Exit<void, unknown>>) => {
  for (const exit of exits) {
    if (Exit.isFailure(exit)) {
      expect(exit.cause).toMatchObject({ _tag: "Fail", error: { _tag: "SendError", reason: "Closed" } })
    }
  }
}

describe("a send racing close", () => {
  it.live("ends on a bound socket sending to an IP address", () =>
    live(Effect.gen(function*() {
      const rx = yield* Udp.bind()
      const tx = yield* Udp.bind()
      expectSuccessOrClosed(yield* sendsRacingClose(tx, [tx.send("x", rx.address)]))
    })))

  it.live("ends on a bound socket sending to a host name", () =>
    live(Effect.gen(function*() {
      const rx = yield* Udp.bind()
      const tx = yield* Udp.bind()
      expectSuccessOrClosed(yield* sendsRacingClose(tx, [tx.send("x", { host: "localhost", port: rx.address.port })]))
    })))

  it.live("ends on a connected socket", () =>
    live(Effect.gen(function*() {
      const rx = yield* Udp.bind()
      const tx = yield* Udp.connect({ host: "127.0.0.1", port: rx.address.port })
      expectSuccessOrClosed(yield* sendsRacingClose(tx, [tx.send("x")]))
    })))

  it.live("ends for every one of many sends in flight", () =>
    live(Effect.gen(function*() {
      const rx = yield* Udp.bind()
      const tx = yield* Udp.bind()
      const exits = yield* sendsRacingClose(tx, Array.from({ length: 100 }, (_, i) => tx.send(String(i), rx.address)))
      expect(exits).toHaveLength(100)
      expectSuccessOrClosed(exits)
    })))

  it.live("fails later sends with Closed", () =>
    live(Effect.gen(function*() {
      const rx = yield* Udp.bind()
      const tx = yield* Udp.bind()
      yield* sendsRacingClose(tx, [tx.send("x", rx.address)])
      const error = yield* Effect.flip(tx.send("y", rx.address))
      expect(error).toMatchObject({ _tag: "SendError", reason: "Closed" })
    })))
})

describe("Udp.connect to an IPv4-mapped IPv6 address", () => {
  it.live("binds the mapped loopback and talks to an IPv4 peer, with coherent addresses", () =>
    live(Effect.gen(function*() {
      const rx = yield* Udp.bind()
      const tx = yield* Udp.connect({ host: "::ffff:127.0.0.1", port: rx.address.port })
      expect(tx.address).toMatchObject({ family: "IPv6", host: "::ffff:127.0.0.1" })
      yield* tx.send("ping")
      const ping = yield* within(rx.recv)
      expect(text(ping.payload)).toBe("ping")
      // The IPv4 peer sees the IPv4 address behind the mapped one.
      expect(ping.from).toEqual({ family: "IPv4", host: "127.0.0.1", port: tx.address.port })
      yield* rx.send("pong", ping.from)
      const pong = yield* within(tx.recv)
      expect(text(pong.payload)).toBe("pong")
      expect(pong.from).toEqual({ family: "IPv6", host: "::ffff:127.0.0.1", port: rx.address.port })
      // Naming the peer as it was connected to is allowed on a connected socket.
      yield* tx.send("again", { host: "::ffff:127.0.0.1", port: rx.address.port })
      expect(text((yield* within(rx.recv)).payload)).toBe("again")
    })))

  it.live("carries what IPv4 carries: MessageTooLarge over 65,507 bytes, checked before sending", () =>
    live(Effect.gen(function*() {
      const rx = yield* Udp.bind()
      const tx = yield* Udp.connect({ host: "::ffff:127.0.0.1", port: rx.address.port })
      const error = yield* Effect.flip(tx.send(new Uint8Array(Udp.maxPayload.IPv4 + 1)))
      expect(error).toMatchObject({ _tag: "SendError", reason: "MessageTooLarge" })
      expect(error.code).toBeUndefined()
      yield* tx.send(new Uint8Array(Udp.maxPayload.IPv4))
      expect((yield* within(rx.recv)).payload.byteLength).toBe(Udp.maxPayload.IPv4)
    })))
})
