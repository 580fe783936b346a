/** Turns the samples into bench/RESULTS.md, bench/results.json and bench/ratios.svg. */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import type { Contender, Implementation, Metric, Mode, Workload } from "./workloads.js"
import { implementationTitles } from "./workloads.js"

export interface Cell extends Contender {
  readonly workload: Workload
  readonly samples: ReadonlyArray<Record<string, number>>
}

export interface Row {
  readonly workload: string
  readonly metric: string
  readonly implementation: Implementation
  /** The implementation of the client side: `implementation` itself in the headline, raw for a server alone. */
  readonly client: Implementation
  readonly unit: string
  readonly runs: number
  readonly median: number
  readonly min: number
  readonly max: number
  /** Median over raw's median in the same workload; for a percentage, null (see `delta_to_raw`). */
  readonly ratio_to_raw: number | null
  readonly delta_to_raw?: number
}

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/** A verdict on effect-net's `row`, given the other `rows` of its table. */
type Target = (row: Row, rows: ReadonlyArray<Row>) => { text: string; met: boolean }

const atLeast = (ratio: number): Target => (row) => ({
  text: `≥ ${ratio.toFixed(2)}×`,
  met: (row.ratio_to_raw ?? 0) >= ratio
})

const atMost = (kilobytes: number): Target => (row) => ({ text: `≤ ${kilobytes} KB`, met: row.median <= kilobytes })

const lossAtMostRawPlusOne: Target = (row) => ({ text: "≤ raw + 1 pt", met: (row.delta_to_raw ?? 0) <= 1 })

/** `target`, and ahead of @effect/platform-node in the same table (`rows`: measured the same way, same run). */
const aheadOfPlatform = (target: Target): Target => (row, rows) => {
  const own = target(row, rows)
  const platform = rows.find((other) =>
    other.workload === row.workload && other.metric === row.metric && other.implementation === "platform-node"
  )
  return platform === undefined
    ? own
    : { text: `${own.text}, > platform-node`, met: own.met && row.median > platform.median }
}

/** effect-net's targets both ends effect-net, as users write it (issue 16). */
const headlineTargets: Record<string, Target> = {
  "tcp-bulk-1/MiB/s": aheadOfPlatform(atLeast(0.8)),
  "tcp-bulk-16/MiB/s": aheadOfPlatform(atLeast(0.8)),
  "tcp-ping-pong-1/round trips/s": aheadOfPlatform(atLeast(0.9)),
  "tcp-ping-pong-32/round trips/s": aheadOfPlatform(atLeast(0.7)),
  "tcp-accept-churn/connections/s": aheadOfPlatform(atLeast(0.5)),
  "udp-ping-pong/round trips/s": atLeast(0.8),
  "udp-flood/received/s": atLeast(0.8),
  "udp-flood/loss": lossAtMostRawPlusOne,
  "tcp-idle-memory/heap/conn": atMost(12),
  "tcp-idle-memory-recv/heap/conn": atMost(4)
}

/** effect-net's targets for its servers alone, against a raw client (issue 7). */
const serverAloneTargets: Record<string, Target> = {
  "tcp-bulk-1/MiB/s": atLeast(0.95),
  "tcp-bulk-1-tuned-malloc/MiB/s": atLeast(0.95),
  "tcp-bulk-16/MiB/s": atLeast(0.95),
  "tcp-ping-pong-1/round trips/s": atLeast(0.95),
  "tcp-ping-pong-32/round trips/s": atLeast(0.9),
  "tcp-accept-churn/connections/s": atLeast(0.7),
  "udp-ping-pong/round trips/s": atLeast(0.95),
  "udp-flood/received/s": atLeast(0.95),
  "udp-flood/loss": lossAtMostRawPlusOne,
  "tcp-idle-memory/RSS/conn": (row) => ({ text: "≤ 2×", met: (row.ratio_to_raw ?? Infinity) <= 2 }),
  "tcp-idle-memory/heap/conn": atMost(5),
  "tcp-idle-memory-recv/RSS/conn": (row) => ({ text: "≤ 2×", met: (row.ratio_to_raw ?? Infinity) <= 2 }),
  "tcp-idle-memory-recv/heap/conn": atMost(5)
}

/** The raw implementation with its own raw client: every ratio's baseline. */
const isBaseline = (contender: Contender) => contender.impl === "raw" && contender.client === "raw"

const rowsOf = (cells: ReadonlyArray<Cell>): Array<Row> =>
  cells.flatMap((cell) =>
    cell.workload.metrics.flatMap((metric: Metric): Array<Row> => {
      const values = cell.samples.map((sample) => sample[metric.key])
      if (values.length === 0) return []
      const raw = cells.find((other) => other.workload === cell.workload && isBaseline(other))
      const rawValues = raw?.samples.map((sample) => sample[metric.key]) ?? []
      const own = median(values)
      const base = rawValues.length === 0 ? undefined : median(rawValues)
      return [{
        workload: cell.workload.key,
        metric: metric.key,
        implementation: cell.impl,
        client: cell.client,
        unit: metric.unit,
        runs: values.length,
        median: own,
        min: Math.min(...values),
        max: Math.max(...values),
        ratio_to_raw: base === undefined || metric.points === true || base === 0 ? null : own / base,
        ...(metric.points === true && base !== undefined ? { delta_to_raw: own - base } : {})
      }]
    })
  )

const figure = (value: number): string =>
  Math.abs(value) >= 100 ? Math.round(value).toLocaleString("en-US") : value.toFixed(Math.abs(value) >= 10 ? 1 : 2)

const order: ReadonlyArray<Implementation> = ["raw", "effect-net", "effect-net+telemetry", "platform-node", "raw+effect"]

const columnTitles: Record<Implementation, string> = {
  "raw": "raw",
  "effect-net": "effect-net",
  "effect-net+telemetry": "effect-net, Telemetry on",
  "platform-node": "@effect/platform-node",
  "raw+effect": "raw, effect loaded"
}

/**
 * A table of `rows`: a line per workload and metric, a column per
 * implementation, each implementation's cell the one whose client side ran
 * `clientOf(impl)`, and the verdict on effect-net's `targets`.
 */
const table = (
  cells: ReadonlyArray<Cell>,
  rows: ReadonlyArray<Row>,
  clientOf: (impl: Implementation) => Implementation,
  targets: Record<string, Target>
): Array<string> => {
  const mine = rows.filter((row) => row.client === clientOf(row.implementation))
  const columns = order.filter((impl) => mine.some((row) => row.implementation === impl))
  const lines = [
    `| Workload | Metric | ${columns.map((impl) => columnTitles[impl]).join(" | ")} | effect-net target |`,
    `|---|---|${columns.map(() => "---|").join("")}---|`
  ]
  const seen = new Set<string>()
  for (const row of mine) {
    const key = `${row.workload}/${row.metric}`
    if (seen.has(key)) continue
    seen.add(key)
    const workload = cells.find((cell) => cell.workload.key === row.workload)!.workload
    const find = (impl: Implementation) =>
      mine.find((other) => other.workload === row.workload && other.metric === row.metric && other.implementation === impl)
    const cellText = (impl: Implementation) => {
      const found = find(impl)
      if (found === undefined) return "—"
      const spread = `${figure(found.median)} (${figure(found.min)}–${figure(found.max)})`
      if (impl === "raw") return spread
      const relative = found.ratio_to_raw !== null
        ? ` **${found.ratio_to_raw.toFixed(2)}×**`
        : found.delta_to_raw !== undefined
        ? ` **${found.delta_to_raw >= 0 ? "+" : ""}${found.delta_to_raw.toFixed(2)} pt**`
        : ""
      return spread + relative
    }
    const effectNet = find("effect-net")
    const target = targets[key]
    const verdict = target === undefined || effectNet === undefined ? undefined : target(effectNet, mine)
    const targetText = verdict === undefined ? "—" : `${verdict.text} ${verdict.met ? "✓" : "✗"}`
    const metric = row.metric === row.unit ? row.unit : `${row.metric} (${row.unit})`
    lines.push(`| ${workload.title} | ${metric} | ${columns.map(cellText).join(" | ")} | ${targetText} |`)
  }
  return lines
}

/** Telemetry's cost: each instrumented workload's figure with `Telemetry.layer` over the same without, same run. */
const telemetryCost = (rows: ReadonlyArray<Row>): Array<string> => {
  const headline = rows.filter((row) => row.client === row.implementation)
  const pairs = headline.flatMap((on) => {
    if (on.implementation !== "effect-net+telemetry") return []
    const off = headline.find((row) =>
      row.implementation === "effect-net" && row.workload === on.workload && row.metric === on.metric
    )
    return off === undefined || on.ratio_to_raw === null ? [] : [{ on, off }]
  })
  if (pairs.length === 0) return []
  return [
    "",
    "## Telemetry's cost",
    "",
    "effect-net with `Telemetry.layer` on both ends (every span and metric recorded) over effect-net without it, same run." +
    " Without the layer nothing is recorded, so the effect-net column above is telemetry off.",
    "",
    "| Workload | Metric | off | on | on / off | target |",
    "|---|---|---|---|---|---|",
    ...pairs.map(({ off, on }) => {
      const ratio = on.median / off.median
      return `| ${on.workload} | ${on.metric} | ${figure(off.median)} | ${figure(on.median)} | **${ratio.toFixed(2)}×** | ≥ 0.95 ${
        ratio >= 0.95 ? "✓" : "✗"
      } |`
    })
  ]
}

const markdown = (info: { mode: Mode; runs: number; seconds: number }, cells: ReadonlyArray<Cell>, rows: ReadonlyArray<Row>) => {
  const cpus = Os.cpus()
  const versions = (name: string) => {
    try {
      return JSON.parse(Fs.readFileSync(Path.join("node_modules", name, "package.json"), "utf8")).version as string
    } catch {
      return "?"
    }
  }
  const lines = [
    "# effect-net benchmark results",
    "",
    `Generated by \`npm run bench${info.mode === "full" ? "" : ` -- --${info.mode}`}\` on ${new Date().toISOString().slice(0, 10)}` +
    ` in ${Math.round(info.seconds)} s: median (min–max) of ${info.runs} run(s) per cell, implementations interleaved,` +
    " each implementation in its own child processes, warmed up once and reused across runs (fresh processes per run for memory)." +
    " Ratios are to raw node:net/node:dgram in the same run" +
    " (higher is better, except memory and loss).",
    "",
    `- Machine: ${cpus[0]?.model ?? "?"}, ${cpus.length} cores, ${Math.round(Os.totalmem() / 2 ** 30)} GiB, ${Os.type()} ${Os.release()}`,
    `- Node ${process.version}; effect ${versions("effect")}, @effect/platform-node ${versions("@effect/platform-node")}`,
    "",
    "## Both ends in one implementation, as its users write it",
    "",
    "Each implementation's client is written in that implementation, in the idioms its documentation teaches" +
    " (effect-net's: the README's), against its own server; raw is raw on both ends.",
    "",
    ...table(cells, rows, (impl) => impl, headlineTargets),
    ...telemetryCost(rows)
  ]
  const serversAlone = rows.filter((row) => row.client !== row.implementation)
  for (const client of new Set(serversAlone.map((row) => row.client))) {
    const measured = new Set(serversAlone.filter((row) => row.client === client).map((row) => row.workload))
    lines.push(
      "",
      `## Diagnostic: servers alone, ${client} client`,
      "",
      `The same servers driven by the ${client} client, so that only the server side differs from the baseline.`,
      "",
      ...table(cells, rows.filter((row) => measured.has(row.workload)), () => client, serverAloneTargets)
    )
  }
  lines.push("", "How each workload runs:", "")
  const described = new Set<string>()
  for (const cell of cells) {
    if (described.has(cell.workload.key)) continue
    described.add(cell.workload.key)
    const env = cell.workload.env === undefined
      ? ""
      : ` Environment: ${Object.entries(cell.workload.env).map(([k, v]) => `\`${k}=${v}\``).join(" ")}.`
    lines.push(`- **${cell.workload.title}**: ${cell.workload.setup}.${env}`)
  }
  lines.push(
    "",
    `Implementations: ${order.map((impl) => `**${impl}** = ${implementationTitles[impl]}`).join("; ")}.` +
    " Each pair of processes does a warm-up pass (an eighth of the work) before the timed runs.",
    ""
  )
  // The profiles and paired measurements behind the targets not met are
  // written by hand, so they survive each regeneration of this file.
  const why = new URL("./WHY.md", import.meta.url)
  if (Fs.existsSync(why)) lines.push(Fs.readFileSync(why, "utf8"))
  return lines.join("\n")
}

/** A bar per implementation and metric of the headline (own clients): its ratio to raw, with the 1.0 line. */
const svg = (rows: ReadonlyArray<Row>): string => {
  const bars = rows.filter((row) => row.implementation !== "raw" && row.client === row.implementation && row.ratio_to_raw !== null)
  const colors: Record<Implementation, string> = {
    "raw": "#888",
    "effect-net": "#2a7ae2",
    "effect-net+telemetry": "#7a5ae2",
    "platform-node": "#e2792a",
    "raw+effect": "#999"
  }
  const rowHeight = 18
  const left = 330
  const width = 760
  const scaleMax = Math.max(1.2, Math.min(3, ...bars.map((row) => row.ratio_to_raw!)))
  const x = (ratio: number) => left + (Math.min(ratio, scaleMax) / scaleMax) * (width - left - 60)
  const height = bars.length * rowHeight + 50
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<text x="10" y="16" font-size="13" font-weight="bold">Ratio to raw node:net/node:dgram, both ends each implementation (memory: lower is better)</text>`
  ]
  bars.forEach((row, index) => {
    const y = 30 + index * rowHeight
    const ratio = row.ratio_to_raw!
    parts.push(
      `<text x="10" y="${y + 12}">${row.workload} · ${row.metric} · ${row.implementation}</text>`,
      `<rect x="${left}" y="${y + 2}" width="${x(ratio) - left}" height="${rowHeight - 5}" fill="${colors[row.implementation]}"/>`,
      `<text x="${x(ratio) + 4}" y="${y + 12}">${ratio.toFixed(2)}×</text>`
    )
  })
  parts.push(
    `<line x1="${x(1)}" y1="26" x2="${x(1)}" y2="${height - 10}" stroke="#000" stroke-dasharray="3,3"/>`,
    `<text x="${x(1) - 8}" y="${height - 1}">1.0</text>`,
    "</svg>",
    ""
  )
  return parts.join("\n")
}

export const writeResults = (
  dir: string,
  info: { mode: Mode; runs: number; seconds: number },
  cells: ReadonlyArray<Cell>
): void => {
  const rows = rowsOf(cells)
  Fs.mkdirSync(dir, { recursive: true })
  Fs.writeFileSync(Path.join(dir, "results.json"), JSON.stringify(rows, null, 2) + "\n")
  Fs.writeFileSync(Path.join(dir, "RESULTS.md"), markdown(info, cells, rows))
  Fs.writeFileSync(Path.join(dir, "ratios.svg"), svg(rows))
}
