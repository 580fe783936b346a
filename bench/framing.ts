/**
 * Decode throughput of Framing.lines and Framing.lengthPrefixed, in MB/s,
 * for 1-byte chunks (the worst a peer can do) and 64 KiB chunks (a busy
 * socket), with small frames and 1 MiB frames.
 *
 *   npx tsx bench/framing.ts [--quick]
 *
 * Each case decodes a fixed amount of pre-cut input from memory (no sockets),
 * so it measures the decoder and the Stream around it. The best of a few runs
 * is reported; every run checks the number of frames decoded.
 */
import { Effect, Stream } from "effect"
import * as Framing from "../src/Framing.js"
import { isMain } from "../scratchpad/isMain.js"

interface Case {
  readonly framing: string
  readonly frameBytes: number
  readonly chunkBytes: number
  readonly totalBytes: number
}

export interface Result extends Case {
  readonly megabytesPerSecond: number
}

const MiB = 1024 * 1024

const cases = (quick: boolean): ReadonlyArray<Case> => {
  const scale = quick ? 1 : 4
  return ["lines", "lengthPrefixed"].flatMap((framing) => [
    { framing, frameBytes: 100, chunkBytes: 1, totalBytes: 1 * MiB * scale },
    { framing, frameBytes: 100, chunkBytes: 65_536, totalBytes: 32 * MiB * scale },
    { framing, frameBytes: MiB, chunkBytes: 65_536, totalBytes: 32 * MiB * scale }
  ])
}

const framingFor = (name: string, frameBytes: number): Framing.Framing<string> | Framing.Framing<Uint8Array> =>
  name === "lines" ? Framing.lines({ maxLength: frameBytes }) : Framing.lengthPrefixed({ maxFrameLength: frameBytes })

/** The encoded input of a case, cut into chunks, and how many frames it holds. */
const prepare = (benchCase: Case) => {
  const framing = framingFor(benchCase.framing, benchCase.frameBytes)
  // The frame's payload is sized so that the encoded frame is `frameBytes` long.
  const encoded = benchCase.framing === "lines"
    ? (framing as Framing.Framing<string>).encode("x".repeat(benchCase.frameBytes - 1))
    : (framing as Framing.Framing<Uint8Array>).encode(new Uint8Array(benchCase.frameBytes - 4).fill(120))
  const frames = Math.max(1, Math.floor(benchCase.totalBytes / encoded.length))
  const data = new Uint8Array(frames * encoded.length)
  for (let i = 0; i < frames; i++) data.set(encoded, i * encoded.length)
  const chunks: Array<Uint8Array> = []
  for (let offset = 0; offset < data.length; offset += benchCase.chunkBytes) {
    chunks.push(data.subarray(offset, offset + benchCase.chunkBytes))
  }
  return { framing, chunks, frames, bytes: data.length }
}

const decodeCount = (framing: Framing.Framing<unknown>, chunks: ReadonlyArray<Uint8Array>) =>
  framing.decode(Stream.fromIterable(chunks)).pipe(Stream.runCount)

export const run = (options: { readonly quick: boolean }): Effect.Effect<ReadonlyArray<Result>> =>
  Effect.forEach(cases(options.quick), (benchCase) =>
    Effect.gen(function*() {
      const { bytes, chunks, framing, frames } = prepare(benchCase)
      const runs = options.quick ? 2 : 5
      let best = Infinity
      for (let i = 0; i < runs; i++) {
        const start = performance.now()
        const count = yield* decodeCount(framing as Framing.Framing<unknown>, chunks)
        const elapsed = performance.now() - start
        if (count !== frames) return yield* Effect.dieMessage(`decoded ${count} frames, expected ${frames}`)
        best = Math.min(best, elapsed)
      }
      return { ...benchCase, megabytesPerSecond: bytes / MiB / (best / 1000) }
    }).pipe(Effect.orDie))

const size = (bytes: number): string =>
  bytes >= MiB ? `${bytes / MiB} MiB` : bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`

export const format = (results: ReadonlyArray<Result>): string => {
  const rows = [
    ["framing", "frame", "chunk", "input", "MB/s"],
    ...results.map((result) => [
      result.framing,
      size(result.frameBytes),
      size(result.chunkBytes),
      size(result.totalBytes),
      result.megabytesPerSecond.toFixed(1)
    ])
  ]
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  return rows.map((row) => row.map((cell, column) => cell.padStart(widths[column]!)).join("  ")).join("\n")
}

if (isMain(import.meta.url)) {
  const quick = process.argv.includes("--quick")
  Effect.runPromise(run({ quick })).then((results) => console.log(format(results)))
}
