/**
 * Decode throughput of Framing.lines, Framing.lengthPrefixed and
 * Framing.delimited, in MB/s, against a hand-written decoder over the same
 * pre-cut input in the same run: 1-byte chunks (the worst a peer can do) and
 * 64 KiB chunks (a busy socket), with small frames and 1 MiB frames.
 *
 *   npx tsx bench/framing.ts [--quick]
 *
 * Each case decodes a fixed amount of input from memory (no sockets), so it
 * measures the decoder and the Stream around it. The input stream carries
 * 64 KiB of pieces per stream chunk, as `conn.stream` hands a reader what one
 * read of up to 64 KiB delivered. Three decoders run over it, interleaved:
 *
 * - hand-written: plain JavaScript over `Buffer`, no limit and no UTF-8
 *   check, keeping the unfinished frame as a list of pieces concatenated
 *   once (linear however the input is cut);
 * - effect-net: `framing.decode`, consumed with `Stream.runForEachChunk`, so
 *   that only the decoder and the stream are measured;
 * - effect-net, an Effect per frame: the same consumed with
 *   `Stream.runForEach`, which runs an Effect for every frame: the cost of
 *   that consumer, not of the decoder, but what a handler written that way
 *   pays.
 *
 * The best of a few runs is reported; every run checks the number of frames.
 */
import { Chunk, Effect, Stream } from "effect"
import * as Framing from "../src/Framing.js"
import { isMain } from "../scratchpad/isMain.js"

type FramingName = "lines" | "lengthPrefixed" | "delimited"

interface Case {
  readonly framing: FramingName
  readonly frameBytes: number
  readonly chunkBytes: number
  readonly totalBytes: number
}

export interface Result extends Case {
  readonly handWritten: number
  readonly effectNet: number
  readonly effectPerFrame: number
}

const MiB = 1024 * 1024
const readBytes = 64 * 1024
const LF = 10
const CR = 13
const recordDelimiter = Buffer.from("\r\n\r\n")

const cases = (quick: boolean): ReadonlyArray<Case> => {
  const scale = quick ? 1 : 4
  const framings: ReadonlyArray<FramingName> = ["lines", "lengthPrefixed", "delimited"]
  return framings.flatMap((framing) => [
    { framing, frameBytes: 100, chunkBytes: 1, totalBytes: 1 * MiB * scale },
    { framing, frameBytes: 100, chunkBytes: readBytes, totalBytes: 32 * MiB * scale },
    { framing, frameBytes: MiB, chunkBytes: readBytes, totalBytes: 32 * MiB * scale }
  ])
}

const framingFor = (benchCase: Case): Framing.Framing<string> | Framing.Framing<Uint8Array> => {
  switch (benchCase.framing) {
    case "lines":
      return Framing.lines({ maxLength: benchCase.frameBytes })
    case "lengthPrefixed":
      return Framing.lengthPrefixed({ maxFrameLength: benchCase.frameBytes })
    case "delimited":
      return Framing.delimited(recordDelimiter, { maxLength: benchCase.frameBytes })
  }
}

/** One frame, `frameBytes` long encoded. */
const encodedFrame = (benchCase: Case, framing: Framing.Framing<string> | Framing.Framing<Uint8Array>) => {
  switch (benchCase.framing) {
    case "lines":
      return (framing as Framing.Framing<string>).encode("x".repeat(benchCase.frameBytes - 1))
    case "lengthPrefixed":
      return (framing as Framing.Framing<Uint8Array>).encode(new Uint8Array(benchCase.frameBytes - 4).fill(120))
    case "delimited":
      return (framing as Framing.Framing<Uint8Array>).encode(
        new Uint8Array(benchCase.frameBytes - recordDelimiter.length).fill(120)
      )
  }
}

/**
 * The encoded input of a case, cut into pieces of `chunkBytes`, each a
 * `Buffer` as a socket delivers, grouped 64 KiB to a stream chunk.
 */
const prepare = (benchCase: Case) => {
  const framing = framingFor(benchCase)
  const encoded = encodedFrame(benchCase, framing)
  const frames = Math.max(1, Math.floor(benchCase.totalBytes / encoded.length))
  const data = Buffer.alloc(frames * encoded.length)
  for (let i = 0; i < frames; i++) data.set(encoded, i * encoded.length)
  const pieces: Array<Buffer> = []
  for (let offset = 0; offset < data.length; offset += benchCase.chunkBytes) {
    pieces.push(data.subarray(offset, offset + benchCase.chunkBytes))
  }
  const piecesPerRead = Math.max(1, Math.floor(readBytes / benchCase.chunkBytes))
  const reads: Array<Chunk.Chunk<Uint8Array>> = []
  for (let i = 0; i < pieces.length; i += piecesPerRead) {
    reads.push(Chunk.unsafeFromArray(pieces.slice(i, i + piecesPerRead)))
  }
  return { framing, pieces, reads, frames, bytes: data.length }
}

/**
 * Frames kept as pieces until their end arrives, then concatenated once:
 * what the hand-written decoders carry from one chunk to the next.
 */
class Pending {
  pieces: Array<Buffer> = []
  bytes = 0
  add(piece: Buffer): void {
    this.pieces.push(piece)
    this.bytes += piece.length
  }
  /** The last `count` bytes (or all, if fewer). */
  tail(count: number): Buffer {
    const parts: Array<Buffer> = []
    for (let i = this.pieces.length - 1, needed = count; i >= 0 && needed > 0; i--) {
      const piece = this.pieces[i]!
      parts.unshift(piece.subarray(Math.max(0, piece.length - needed)))
      needed -= piece.length
    }
    return Buffer.concat(parts)
  }
  /** The pending bytes followed by `last`, and empties. */
  concat(last: Buffer): Buffer {
    this.pieces.push(last)
    const whole = Buffer.concat(this.pieces, this.bytes + last.length)
    this.pieces = []
    this.bytes = 0
    return whole
  }
}

/** Hand-written `lines`: `"\n"` or `"\r\n"` ended UTF-8 lines. */
const handWrittenLines = (pieces: ReadonlyArray<Buffer>, onLine: (line: string) => void): void => {
  const pending = new Pending()
  const emit = (data: Buffer, start: number, end: number) =>
    onLine(data.toString("utf8", start, end > start && data[end - 1] === CR ? end - 1 : end))
  for (const data of pieces) {
    let start = 0
    let end = data.indexOf(LF)
    if (end >= 0 && pending.bytes > 0) {
      const line = pending.concat(data.subarray(0, end))
      emit(line, 0, line.length)
      start = end + 1
      end = data.indexOf(LF, start)
    }
    while (end >= 0) {
      emit(data, start, end)
      start = end + 1
      end = data.indexOf(LF, start)
    }
    if (start < data.length) pending.add(data.subarray(start))
  }
}

/** Hand-written `lengthPrefixed`: a 4-byte big-endian length, then the frame (a view when it is in one piece). */
const handWrittenLengthPrefixed = (pieces: ReadonlyArray<Buffer>, onFrame: (frame: Uint8Array) => void): void => {
  const pending = new Pending()
  let frameLength = -1
  for (const piece of pieces) {
    let data = piece
    let offset = 0
    for (;;) {
      if (frameLength < 0) {
        if (pending.bytes + data.length - offset < 4) break
        if (pending.bytes > 0) {
          data = pending.concat(data.subarray(offset))
          offset = 0
        }
        frameLength = data.readUInt32BE(offset)
        offset += 4
      }
      if (pending.bytes + data.length - offset < frameLength) break
      const missing = frameLength - pending.bytes
      const rest = data.subarray(offset, offset + missing)
      onFrame(pending.bytes === 0 ? rest : pending.concat(rest))
      offset += missing
      frameLength = -1
    }
    if (offset < data.length) pending.add(data.subarray(offset))
  }
}

/**
 * Hand-written `delimited` for `"\r\n\r\n"`: `Buffer.indexOf` of the
 * delimiter, and one that straddles two pieces found at their seam.
 */
const handWrittenDelimited = (pieces: ReadonlyArray<Buffer>, onFrame: (frame: Uint8Array) => void): void => {
  const pending = new Pending()
  const size = recordDelimiter.length
  for (const data of pieces) {
    let start = 0
    if (pending.bytes > 0) {
      const tail = pending.tail(size - 1)
      const seam = Buffer.concat([tail, data.subarray(0, size - 1)]).indexOf(recordDelimiter)
      const found = data.indexOf(recordDelimiter)
      // Where the delimiter ends in `data`: a straddling one ends before any inside `data`.
      const end = seam >= 0 ? seam + size - tail.length : found < 0 ? -1 : found + size
      if (end < 0) {
        pending.add(data)
        continue
      }
      const frameEnd = end - size
      const frame = frameEnd >= 0
        ? pending.concat(data.subarray(0, frameEnd))
        : pending.concat(data.subarray(0, 0)).subarray(0, frameEnd)
      onFrame(frame)
      start = end
    }
    let end = data.indexOf(recordDelimiter, start)
    while (end >= 0) {
      onFrame(data.subarray(start, end))
      start = end + size
      end = data.indexOf(recordDelimiter, start)
    }
    if (start < data.length) pending.add(data.subarray(start))
  }
}

const handWritten = (framing: FramingName, pieces: ReadonlyArray<Buffer>): number => {
  let frames = 0
  const count = () => {
    frames++
  }
  if (framing === "lines") handWrittenLines(pieces, count)
  else if (framing === "lengthPrefixed") handWrittenLengthPrefixed(pieces, count)
  else handWrittenDelimited(pieces, count)
  return frames
}

const effectNet = (framing: Framing.Framing<unknown>, reads: ReadonlyArray<Chunk.Chunk<Uint8Array>>): number => {
  let frames = 0
  Effect.runSync(Stream.runForEachChunk(framing.decode(Stream.fromChunks(...reads)), (chunk) =>
    Effect.sync(() => {
      frames += chunk.length
    })))
  return frames
}

const effectPerFrame = (framing: Framing.Framing<unknown>, reads: ReadonlyArray<Chunk.Chunk<Uint8Array>>): number => {
  let frames = 0
  Effect.runSync(Stream.runForEach(framing.decode(Stream.fromChunks(...reads)), () =>
    Effect.sync(() => {
      frames++
    })))
  return frames
}

/** The best time of `runs` runs of each decoder, interleaved, checking the frame count of every run. */
const measure = (benchCase: Case, runs: number): Result => {
  const { bytes, framing, frames, pieces, reads } = prepare(benchCase)
  const decoders: ReadonlyArray<() => number> = [
    () => handWritten(benchCase.framing, pieces),
    () => effectNet(framing as Framing.Framing<unknown>, reads),
    () => effectPerFrame(framing as Framing.Framing<unknown>, reads)
  ]
  const best = decoders.map(() => Infinity)
  for (let run = 0; run < runs; run++) {
    decoders.forEach((decode, index) => {
      const start = performance.now()
      const count = decode()
      const elapsed = performance.now() - start
      if (count !== frames) throw new Error(`${benchCase.framing}: decoded ${count} frames, expected ${frames}`)
      best[index] = Math.min(best[index]!, elapsed)
    })
  }
  const megabytesPerSecond = (ms: number) => bytes / MiB / (ms / 1000)
  return {
    ...benchCase,
    handWritten: megabytesPerSecond(best[0]!),
    effectNet: megabytesPerSecond(best[1]!),
    effectPerFrame: megabytesPerSecond(best[2]!)
  }
}

export const run = (options: { readonly quick: boolean }): ReadonlyArray<Result> =>
  cases(options.quick).map((benchCase) => measure(benchCase, options.quick ? 2 : 5))

const size = (bytes: number): string =>
  bytes >= MiB ? `${bytes / MiB} MiB` : bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`

const withRatio = (value: number, baseline: number): string => `${value.toFixed(1)} (${(value / baseline).toFixed(2)}x)`

export const format = (results: ReadonlyArray<Result>): string => {
  const rows = [
    ["framing", "frame", "chunk", "input", "hand-written MB/s", "effect-net MB/s", "Effect per frame MB/s"],
    ...results.map((result) => [
      result.framing,
      size(result.frameBytes),
      size(result.chunkBytes),
      size(result.totalBytes),
      result.handWritten.toFixed(1),
      withRatio(result.effectNet, result.handWritten),
      withRatio(result.effectPerFrame, result.handWritten)
    ])
  ]
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  return rows.map((row) => row.map((cell, column) => cell.padStart(widths[column]!)).join("  ")).join("\n")
}

if (isMain(import.meta.url)) {
  console.log(format(run({ quick: process.argv.includes("--quick") })))
}
