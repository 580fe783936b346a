/**
 * `npm run bench`: every workload, every implementation, interleaved, in
 * fresh child processes; writes bench/RESULTS.md, bench/results.json and
 * bench/ratios.svg.
 *
 *   npm run bench                  full run (3 runs per cell, about 10 minutes)
 *   npm run bench -- --quick       3 runs at smaller sizes, about 2 minutes
 *   npm run bench -- --smoke       1 tiny run per cell (CI); writes to --out only
 *   --only=tcp-bulk-1,udp-flood    only these workloads
 *   --impl=raw,effect-net          only these implementations
 *   --runs=N                       runs per cell
 *   --out=DIR                      where results go (default bench/)
 *   --client=own                   each implementation's client is that implementation (the headline table) only
 *   --client=IMPL                  run every client side with IMPL only (e.g. raw: the servers alone)
 *
 * By default every two-process workload runs twice per implementation: with
 * its own client (the headline: both ends written in that implementation, as
 * its users write them) and, as a diagnostic of the server alone, with a raw
 * client; raw itself runs once and is the baseline of both.
 *   --cpu-prof=DIR                 run the children under --cpu-prof, profiles in DIR
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { build } from "esbuild"
import { type Cell, median, writeResults } from "./report.js"
import type { Call, Contender, Implementation, Mode, Workload } from "./workloads.js"
import { headlineOnly, workloads } from "./workloads.js"
import type { Reply, Request } from "./workers/protocol.js"

const here = Path.dirname(fileURLToPath(import.meta.url))

const flag = (name: string): string | undefined => {
  const prefix = `--${name}=`
  const found = process.argv.find((arg) => arg === `--${name}` || arg.startsWith(prefix))
  return found === undefined ? undefined : found.startsWith(prefix) ? found.slice(prefix.length) : ""
}

const mode: Mode = flag("smoke") !== undefined ? "smoke" : flag("quick") !== undefined ? "quick" : "full"
const runs = Number(flag("runs") ?? (mode === "smoke" ? 1 : 3))
const only = flag("only")?.split(",")
const onlyImpl = flag("impl")?.split(",")
const outDir = Path.resolve(flag("out") ?? here)
const cpuProfDir = flag("cpu-prof")
const clientChoice = flag("client") as "own" | Implementation | undefined

/** Who runs each implementation's client side in `workload` (see the file's header). */
const contenders = (workload: Workload, impls: ReadonlyArray<Implementation>): Array<Contender> => {
  const own = impls.map((impl) => ({ impl, client: impl }))
  const client = clientChoice ?? "raw"
  // A client exists only where the workload has that implementation (@effect/rpc has no raw one).
  if (!workload.twoProcesses || client === "own" || !workload.implementations.includes(client)) return own
  if (clientChoice !== undefined) return impls.map((impl) => ({ impl, client }))
  // raw+effect is itself a diagnostic (raw code, effect loaded): it keeps its own client only.
  const serversAlone = impls.filter((impl) => impl !== "raw" && impl !== "raw+effect" && !headlineOnly.includes(impl))
  return [...own, ...serversAlone.map((impl) => ({ impl, client }))]
}

const label = ({ client, impl }: Contender) => client === impl ? impl : `${impl} (${client} client)`

const entries: Record<Implementation, string> = {
  "raw": "raw",
  "raw+effect": "rawWithEffect",
  "effect-net": "effectNet",
  "effect-net+telemetry": "effectNet",
  "platform-node": "platform"
}

/** The same child as effect-net's, told to provide `Telemetry.layer` too. */
const implementationEnv: Partial<Record<Implementation, Record<string, string>>> = {
  "effect-net+telemetry": { EFFECT_NET_BENCH_TELEMETRY: "1" }
}

/**
 * Bundles each child's code into one file: a child then starts in a fraction
 * of the time tsx needs to compile effect, and the raw child loads no effect.
 */
const bundle = async (): Promise<Record<Implementation, string>> => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-net-bench-"))
  await build({
    entryPoints: Array.from(new Set(Object.values(entries))).map((name) => Path.join(here, "workers", `${name}.ts`)),
    outdir: dir,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    outExtension: { ".js": ".cjs" },
    logLevel: "error"
  })
  process.on("exit", () => Fs.rmSync(dir, { recursive: true, force: true }))
  return Object.fromEntries(
    Object.entries(entries).map(([impl, name]) => [impl, Path.join(dir, `${name}.cjs`)])
  ) as Record<Implementation, string>
}

interface Child {
  readonly call: Call
  readonly stop: () => Promise<void>
}

/** Starts a child running `impl`; a call that does not answer within `timeoutMs` fails. */
const spawn = (file: string, env: Record<string, string> | undefined, timeoutMs: number): Child => {
  const child = ChildProcess.fork(file, [], {
    execArgv: ["--expose-gc", ...(cpuProfDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`])],
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe", "ipc"]
  })
  let output = ""
  const keep = (data: Buffer) => {
    output = (output + data.toString()).slice(-4000)
  }
  child.stdout?.on("data", keep)
  child.stderr?.on("data", keep)
  let nextId = 0
  const pending = new Map<number, (reply: Reply) => void>()
  child.on("message", (reply: Reply) => pending.get(reply.id)?.(reply))
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  child.once("exit", (code, signal) => {
    for (const [id, settle] of pending) {
      settle({ id, ok: false, error: `child exited (${code ?? signal}) during the call\n${output}` })
    }
  })
  const call = ((op, args) =>
    new Promise((resolve, reject) => {
      const id = nextId++
      const timer = setTimeout(() => {
        pending.delete(id)
        reject(new Error(`${op} did not answer within ${timeoutMs} ms\n${output}`))
      }, timeoutMs)
      pending.set(id, (reply) => {
        pending.delete(id)
        clearTimeout(timer)
        if (reply.ok) resolve(reply.value as never)
        else reject(new Error(`${op}: ${reply.error}`))
      })
      child.send({ id, op, args } satisfies Request)
    })) as Call
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    // Disconnecting lets the child exit by itself (and write its CPU profile); a stuck one is killed.
    if (child.connected) child.disconnect()
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000)
    await exited
    clearTimeout(timer)
  }
  return { call, stop }
}

interface Pair {
  readonly server: Child
  readonly client: Child
  readonly port: number
}

/** Starts the processes of `contender` for `workload` and prepares them (server up, warmed up). */
const startPair = async (workload: Workload, contender: Contender, files: Record<Implementation, string>): Promise<Pair> => {
  const timeoutMs = mode === "full" ? 120_000 : 45_000
  const server = spawn(files[contender.impl], { ...workload.env, ...implementationEnv[contender.impl] }, timeoutMs)
  const client = workload.twoProcesses
    ? spawn(files[contender.client], { ...workload.env, ...implementationEnv[contender.client] }, timeoutMs)
    : server
  const stop = () => Promise.all([server.stop(), client.stop()]).then(() => undefined)
  try {
    return { server, client, port: await workload.prepare(server.call, client.call) }
  } catch (error) {
    await stop()
    throw error
  }
}

const stopPair = (pair: Pair) => Promise.all([pair.server.stop(), pair.client.stop()])

/**
 * All runs of one workload. Each contender's processes are started and
 * warmed up once and then serve every run, unless the workload wants fresh
 * processes per run; runs are interleaved across contenders.
 */
const measureWorkload = async (
  workload: Workload,
  entrants: ReadonlyArray<Contender>,
  files: Record<Implementation, string>
): Promise<{ samples: Map<Contender, Array<Record<string, number>>>; failures: number }> => {
  const samples = new Map<Contender, Array<Record<string, number>>>(entrants.map((entrant) => [entrant, []]))
  const pairs = new Map<Contender, Pair>()
  let failures = 0
  try {
    for (let run = 0; run < runs; run++) {
      // Each run starts with a different contender so that none is always first.
      for (let i = 0; i < entrants.length; i++) {
        const entrant = entrants[(i + run) % entrants.length]
        try {
          let pair = pairs.get(entrant)
          if (pair === undefined) {
            pair = await startPair(workload, entrant, files)
            if (workload.freshProcesses !== true) pairs.set(entrant, pair)
          }
          try {
            samples.get(entrant)!.push(await workload.measure(pair.server.call, pair.client.call, pair.port))
          } finally {
            if (workload.freshProcesses === true) await stopPair(pair)
          }
        } catch (error) {
          failures++
          // A failed pair is not reused: its state is unknown.
          const broken = pairs.get(entrant)
          pairs.delete(entrant)
          if (broken !== undefined) await stopPair(broken)
          console.error(`${workload.key} / ${label(entrant)} run ${run + 1}: ${error instanceof Error ? error.message : String(error)}`)
        }
      }
    }
  } finally {
    await Promise.all(Array.from(pairs.values(), stopPair))
  }
  return { samples, failures }
}

const main = async () => {
  const started = Date.now()
  const files = await bundle()
  if (cpuProfDir !== undefined) Fs.mkdirSync(cpuProfDir, { recursive: true })
  const selected = workloads(mode).filter((workload) => only === undefined || only.includes(workload.key))
  const cells: Array<Cell> = []
  let failures = 0
  for (const workload of selected) {
    const impls = workload.implementations.filter((impl) => onlyImpl === undefined || onlyImpl.includes(impl))
    const entrants = contenders(workload, impls)
    const measured = await measureWorkload(workload, entrants, files)
    failures += measured.failures
    for (const entrant of entrants) cells.push({ workload, ...entrant, samples: measured.samples.get(entrant)! })
    const line = entrants.map((entrant) => {
      const values = measured.samples.get(entrant)!.map((sample) => sample[workload.metrics[0].key])
      return `${label(entrant)} ${values.length === 0 ? "—" : median(values).toFixed(1)}`
    })
    console.log(`${workload.title} (${workload.metrics[0].unit}): ${line.join(" | ")}`)
  }
  writeResults(outDir, { mode, runs, seconds: (Date.now() - started) / 1000 }, cells)
  console.log(`wrote ${Path.join(outDir, "RESULTS.md")} and results.json in ${((Date.now() - started) / 1000).toFixed(0)} s`)
  if (failures > 0) {
    console.error(`${failures} measurement(s) failed`)
    process.exitCode = 1
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
