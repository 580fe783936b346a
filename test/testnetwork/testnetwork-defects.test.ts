/**
 * Values outside the types, as JavaScript callers and configuration files
 * produce them, given to TestNetwork's controls and layer: each is a typed
 * `TestNetwork.InvalidArgument`, never a defect and never silently accepted.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Tcp from "../../src/Tcp.js"
import * as TestNetwork from "../../src/TestNetwork.js"

/** Runs `test` on a fresh simulated network. */
const simulated = <A, E, R>(test: Effect.Effect<A, E, R>) =>
  test.pipe(Effect.scoped, Effect.provide(TestNetwork.layer()))

/** The typed failure of `effect`: fails the test on success or on a defect. */
const invalid = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    if (Exit.isSuccess(exit)) throw new Error(`expected InvalidArgument, got success ${JSON.stringify(exit.value)}`)
    const failure = Cause.failureOption(exit.cause)
    if (failure._tag === "None") throw new Error(`expected InvalidArgument, got ${Cause.pretty(exit.cause)}`)
    expect(failure.value).toBeInstanceOf(TestNetwork.InvalidArgument)
    return failure.value as TestNetwork.InvalidArgument
  })

// What a JavaScript caller or a parsed configuration file can hand over.
const loose = <A>(value: unknown): A => value as A

const faultFields: ReadonlyArray<keyof TestNetwork.Faults> = [
  "latency",
  "jitter",
  "drop",
  "duplicate",
  "reorder",
  "sliceBytes",
  "resetAfterBytes",
  "refuse",
  "stall",
  "bandwidth",
  "slowClose"
]

describe("TestNetwork controls reject values outside their types", () => {
  it.effect("setFaults: probabilities outside 0..1, negative or malformed durations, wrong types, unknown fields", () =>
    simulated(Effect.gen(function*() {
      const cases: Array<[TestNetwork.Faults, string]> = [
        [{ drop: 2 }, "faults.drop"],
        [{ duplicate: -0.1 }, "faults.duplicate"],
        [{ reorder: Number.NaN }, "faults.reorder"],
        [{ drop: loose("0.5") }, "faults.drop"],
        [{ latency: -5 }, "faults.latency"],
        [{ latency: "-5 millis" }, "faults.latency"],
        [{ latency: loose("soon") }, "faults.latency"],
        [{ latency: Number.POSITIVE_INFINITY }, "faults.latency"],
        [{ jitter: -1 }, "faults.jitter"],
        [{ slowClose: loose([-1, 0]) }, "faults.slowClose"],
        [{ sliceBytes: 0 }, "faults.sliceBytes"],
        [{ sliceBytes: 1.5 }, "faults.sliceBytes"],
        [{ resetAfterBytes: -1 }, "faults.resetAfterBytes"],
        [{ bandwidth: 0 }, "faults.bandwidth"],
        [{ bandwidth: loose("fast") }, "faults.bandwidth"],
        [{ refuse: loose("yes") }, "faults.refuse"],
        [{ stall: loose(1) }, "faults.stall"],
        [loose({ lateny: "100 millis" }), "faults.lateny"],
        [loose(null), "faults"],
        [loose("drop"), "faults"]
      ]
      for (const [faults, argument] of cases) {
        const error = yield* invalid(TestNetwork.setFaults(faults))
        expect([error._tag, error.operation, error.argument]).toEqual(["InvalidArgument", "setFaults", argument])
        expect(error.message).toContain(argument)
      }
    })))

  it.effect("a rejected setFaults leaves the faults as they were", () =>
    simulated(Effect.gen(function*() {
      const listener = yield* Tcp.listen({ host: "127.0.0.2" })
      yield* TestNetwork.setFaults({ refuse: true })
      yield* invalid(TestNetwork.setFaults({ refuse: false, drop: 2 }))
      const refused = yield* Effect.flip(Tcp.connect({ host: "127.0.0.2", port: listener.address.port }))
      expect(refused.reason).toBe("ConnectionRefused")
    })))

  it.effect("setLinkFaults: bad faults, a toxicity outside 0..1, a link that is not two hosts", () =>
    simulated(Effect.gen(function*() {
      const link = { from: "127.0.0.3", to: "127.0.0.2" }
      const faults = yield* invalid(TestNetwork.setLinkFaults(link, { drop: 2 }))
      expect([faults.operation, faults.argument]).toEqual(["setLinkFaults", "faults.drop"])
      for (const toxicity of [2, -1, Number.NaN, loose<number>("half")]) {
        const error = yield* invalid(TestNetwork.setLinkFaults(link, { refuse: true }, { toxicity }))
        expect([error.operation, error.argument]).toEqual(["setLinkFaults", "options.toxicity"])
      }
      const host = yield* invalid(TestNetwork.setLinkFaults({ from: "nope", to: "127.0.0.2" }, {}))
      expect([host.operation, host.argument]).toEqual(["setLinkFaults", "link.from"])
      expect(host.message).toContain("nope")
      const missing = yield* invalid(TestNetwork.setLinkFaults(loose({ from: "127.0.0.3" }), {}))
      expect(missing.argument).toBe("link.to")
      const notALink = yield* invalid(TestNetwork.setLinkFaults(loose(null), {}))
      expect(notALink.argument).toBe("link")
    })))

  it.effect("partition, heal, hold, release, clearLinkFaults, snapshot: hosts that are neither IPs nor known names", () =>
    simulated(Effect.gen(function*() {
      const cases: Array<[Effect.Effect<unknown, TestNetwork.InvalidArgument, TestNetwork.TestNetwork>, string, string]> = [
        [TestNetwork.partition("nope", "127.0.0.2"), "partition", "a"],
        [TestNetwork.partition("127.0.0.2", loose(42)), "partition", "b"],
        [TestNetwork.heal("127.0.0.2", "nope"), "heal", "b"],
        [TestNetwork.hold({ from: "nope", to: "127.0.0.2" }), "hold", "link.from"],
        [TestNetwork.release({ from: "127.0.0.2", to: "" }), "release", "link.to"],
        [TestNetwork.clearLinkFaults({ from: "nope", to: "127.0.0.2" }), "clearLinkFaults", "link.from"],
        [TestNetwork.snapshot("nope"), "snapshot", "host"],
        [TestNetwork.snapshot(loose(null)), "snapshot", "host"]
      ]
      for (const [control, operation, argument] of cases) {
        const error = yield* invalid(control)
        expect([error.operation, error.argument]).toEqual([operation, argument])
      }
      // Known names are fine.
      yield* TestNetwork.partition("localhost", "127.0.0.2")
      yield* TestNetwork.heal("localhost", "127.0.0.2")
    })))

  it.effect.prop(
    "any value at all as faults, link or host: success or InvalidArgument, never a defect",
    {
      faults: FastCheck.oneof(FastCheck.anything(), FastCheck.dictionary(FastCheck.constantFrom(...faultFields), FastCheck.anything())),
      host: FastCheck.anything(),
      toxicity: FastCheck.anything()
    },
    ({ faults, host, toxicity }) =>
      simulated(Effect.gen(function*() {
        for (
          const control of [
            TestNetwork.setFaults(loose(faults)),
            TestNetwork.setLinkFaults({ from: "127.0.0.1", to: loose(host) }, loose(faults), loose({ toxicity })),
            TestNetwork.partition(loose(host), "127.0.0.1"),
            TestNetwork.snapshot(loose(host))
          ] as const
        ) {
          const exit = yield* Effect.exit(control)
          if (Exit.isFailure(exit)) expect(Cause.failureOption(exit.cause).pipe(Option.map(TestNetwork.isInvalidArgument))).toEqual(Option.some(true))
        }
      })),
    { fastCheck: { numRuns: 100 } }
  )

  it.effect("InvalidArgument is a schema error: it survives encoding", () =>
    simulated(Effect.gen(function*() {
      const error = yield* invalid(TestNetwork.setFaults({ drop: 2 }))
      const decoded = Schema.decodeUnknownSync(TestNetwork.InvalidArgument)(
        JSON.parse(JSON.stringify(Schema.encodeSync(TestNetwork.InvalidArgument)(error)))
      )
      expect(TestNetwork.isInvalidArgument(decoded)).toBe(true)
      expect([decoded.operation, decoded.argument, decoded.message]).toEqual([error.operation, error.argument, error.message])
      expect(TestNetwork.isInvalidArgument(new Error("x"))).toBe(false)
    })))
})

describe("TestNetwork.layer rejects options outside their types", () => {
  const built = (options: TestNetwork.LayerOptions) => Effect.scoped(Layer.build(TestNetwork.layer(options)))

  it.effect("hosts that are not IP addresses, names that are not host names, a seed that is not an integer", () =>
    Effect.gen(function*() {
      const cases: Array<[TestNetwork.LayerOptions, string]> = [
        [{ hosts: { db: "not-an-ip" } }, "hosts.db"],
        [{ hosts: { db: ["127.0.0.5", "nope"] } }, "hosts.db"],
        [{ hosts: { db: [] } }, "hosts.db"],
        [{ hosts: { db: loose(5) } }, "hosts.db"],
        [{ hosts: { "not a name!": "127.0.0.5" } }, "hosts"],
        [{ hosts: { "127.0.0.9": "127.0.0.5" } }, "hosts"],
        [{ hosts: loose("db=127.0.0.5") }, "hosts"],
        [{ seed: 1.5 }, "seed"],
        [{ seed: loose("42") }, "seed"],
        [loose(7), "options"]
      ]
      for (const [options, argument] of cases) {
        const error = yield* invalid(built(options))
        expect([error.operation, error.argument]).toEqual(["layer", argument])
      }
    }))

  it.effect.prop(
    "any value at all as options, seed or hosts: a network or InvalidArgument, never a defect",
    {
      options: FastCheck.oneof(
        FastCheck.anything(),
        FastCheck.record({ seed: FastCheck.anything(), hosts: FastCheck.anything() }, { requiredKeys: [] }),
        FastCheck.record({ hosts: FastCheck.dictionary(FastCheck.string(), FastCheck.anything()) })
      )
    },
    ({ options }) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(built(loose(options)))
        if (Exit.isFailure(exit)) expect(Cause.failureOption(exit.cause).pipe(Option.map(TestNetwork.isInvalidArgument))).toEqual(Option.some(true))
      }),
    { fastCheck: { numRuns: 100 } }
  )

  it.effect("valid hosts and seeds build", () =>
    Effect.gen(function*() {
      yield* built({ seed: -7, hosts: { db: "127.0.0.5", "cache.internal.": ["::1", "127.0.0.6"] } })
      yield* built({})
    }))
})
