import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { TestNetwork } from "effect-net"

describe("TestNetwork arbitraries", () => {
  it("are real fast-check Arbitraries that map, filter and drive properties", () => {
    expect(TestNetwork.arbitraryFaults).toBeInstanceOf(FastCheck.Arbitrary)
    const seeds = FastCheck.sample(TestNetwork.arbitrarySeed.filter((seed) => seed % 2 === 0), { numRuns: 20, seed: 1 })
    expect(seeds.every((seed) => Number.isInteger(seed) && seed % 2 === 0)).toBe(true)
    const latencies = FastCheck.sample(TestNetwork.arbitraryFaults.map((faults) => faults.latency), { numRuns: 50, seed: 2 })
    expect(latencies).toHaveLength(50)
    let checked = 0
    FastCheck.assert(
      FastCheck.property(TestNetwork.arbitraryFaults, (faults) => {
        checked++
        return typeof faults === "object" && faults !== null
      }),
      { numRuns: 25, seed: 3 }
    )
    expect(checked).toBe(25)
  })

  it("draw the same faults from the same seed, and shrink a failing case", () => {
    const draw = () => FastCheck.sample(TestNetwork.arbitraryFaults, { numRuns: 10, seed: 42 })
    expect(draw()).toEqual(draw())
    const result = FastCheck.check(
      FastCheck.property(TestNetwork.arbitraryFaults, (faults) => faults.drop === undefined || faults.drop < 0.5),
      { numRuns: 200, seed: 4 }
    )
    expect(result.failed).toBe(true)
    expect(result.counterexample?.[0].drop).toBeGreaterThanOrEqual(0.5)
  })
})
