/**
 * CI check for the benchmark suite: `bench/run.ts --smoke` (every workload,
 * every implementation with its own client and, as a diagnostic, with a raw
 * one; tiny sizes, one run) runs and writes sane results.
 * No timing is asserted: only that each figure exists and makes sense.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import type { Row } from "../../bench/report.js"
import type { Implementation, Workload } from "../../bench/workloads.js"
import { headlineOnly, workloads } from "../../bench/workloads.js"

const runSmoke = (out: string) =>
  Effect.async<{ code: number | null; output: string }>((resume) => {
    const child = ChildProcess.spawn(process.execPath, ["--import", "tsx", "bench/run.ts", "--smoke", `--out=${out}`], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.on("data", (data: Buffer) => (output += data.toString()))
    child.stderr.on("data", (data: Buffer) => (output += data.toString()))
    child.on("error", (error) => resume(Effect.succeed({ code: -1, output: output + String(error) })))
    child.on("close", (code) => resume(Effect.succeed({ code, output })))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

describe("npm run bench -- --smoke", () => {
  it.live("runs every workload for every implementation, with its own client and a raw one, and writes sane results", () =>
    Effect.gen(function*() {
      const out = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-net-bench-smoke-"))
      try {
        const { code, output } = yield* runSmoke(out).pipe(Effect.timeout("150 seconds"))
        expect(output).not.toMatch(/failed/)
        expect(code).toBe(0)

        const rows: Array<Row> = JSON.parse(Fs.readFileSync(Path.join(out, "results.json"), "utf8"))
        const expectSane = (workload: Workload, impl: Implementation, client: Implementation) => {
          for (const metric of workload.metrics) {
            const row = rows.find((r) =>
              r.workload === workload.key && r.implementation === impl && r.client === client && r.metric === metric.key
            )
            expect(row, `${workload.key} / ${impl} (${client} client) / ${metric.key}`).toBeDefined()
            expect(Number.isFinite(row!.median)).toBe(true)
            expect(row!.min).toBeLessThanOrEqual(row!.median)
            expect(row!.median).toBeLessThanOrEqual(row!.max)
            if (metric.points === true) {
              expect(row!.median).toBeGreaterThanOrEqual(0)
              expect(row!.median).toBeLessThanOrEqual(100)
            } else if (metric.lowerIsBetter !== true) {
              expect(row!.median).toBeGreaterThan(0)
            }
            if (impl === "raw" && metric.points !== true) expect(row!.ratio_to_raw).toBeCloseTo(1, 10)
          }
        }
        for (const workload of workloads("smoke")) {
          // The headline: every implementation with its own client.
          for (const impl of workload.implementations) expectSane(workload, impl, impl)
          // The diagnostic: each server alone, against the raw client, wherever there is one.
          if (workload.twoProcesses && workload.implementations.includes("raw")) {
            for (const impl of workload.implementations) {
              if (impl !== "raw" && impl !== "raw+effect" && !headlineOnly.includes(impl)) expectSane(workload, impl, "raw")
            }
          }
        }
        expect(rows.filter((row) => row.client !== row.implementation && row.client !== "raw")).toEqual([])
        const markdown = Fs.readFileSync(Path.join(out, "RESULTS.md"), "utf8")
        expect(markdown).toContain(`Node ${process.version}`)
        expect(markdown).toContain("## Both ends in one implementation, as its users write it")
        expect(markdown).toContain("## Diagnostic: servers alone, raw client")
        expect(markdown).toContain("## Telemetry's cost")
        expect(markdown).toContain("## Where a target is out of reach, and why")
        expect(markdown).toContain("| Workload | Metric | raw | effect-net |")
        expect(Fs.readFileSync(Path.join(out, "ratios.svg"), "utf8")).toMatch(/^<svg /)
      } finally {
        Fs.rmSync(out, { recursive: true, force: true })
      }
    }), 180_000)
})
