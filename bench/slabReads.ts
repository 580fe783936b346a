/**
 * `npx tsx bench/slabReads.ts [MiB] [rounds]`: a diagnostic for issue 16,
 * item 4. Does reading into library-owned memory (`net.Socket`'s `onread`)
 * make a bulk receiver faster with default malloc, in a process that has
 * loaded and run effect?
 *
 * A raw node:net sender in a child process writes MiB in 64 KiB writes; this
 * process receives them in three ways, interleaved round by round:
 *
 * - `default`: Node's own reads, a fresh 64 KiB buffer per read ('data').
 * - `slab`: `onread` with a buffer function cutting each read from a slab
 *   (SLAB bytes, default 1 MiB) by `nread`, a fresh slab when less than 64
 *   KiB is left: a chunk handed on is never overwritten, no copy.
 * - `copy`: `onread` into one reused 64 KiB buffer, each read copied out
 *   into a buffer of its own (what a library must do to hand chunks to a
 *   user who may keep them).
 *
 * Each receiver keeps its last four chunks, as a consumer would briefly.
 * Reported per round: MiB/s, minor page faults and CPU milliseconds of this
 * process; the table gives medians after the first round (warm-up).
 */
import * as ChildProcess from "node:child_process"
import * as Net from "node:net"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

const chunkSize = 64 * 1024

const sender = (mib: number) => {
  const total = mib * 1024 * 1024
  const chunk = Buffer.alloc(chunkSize, 7)
  const server = Net.createServer((socket) => {
    let sent = 0
    const pump = (): void => {
      while (sent < total) {
        sent += chunk.length
        if (!socket.write(chunk)) return void socket.once("drain", pump)
      }
      socket.end()
    }
    pump()
  })
  server.listen(0, "127.0.0.1", () => process.send!((server.address() as Net.AddressInfo).port))
  process.on("message", () => process.exit(0))
}

type Mode = "default" | "slab" | "copy"

interface Round {
  readonly mode: Mode
  readonly mibPerSecond: number
  readonly faults: number
  readonly cpuMs: number
}

const receive = (port: number, mode: Mode, slabSize: number): Promise<Round> =>
  new Promise((resolve, reject) => {
    let bytes = 0
    const kept: Array<Uint8Array> = []
    const keep = (chunk: Uint8Array) => {
      bytes += chunk.length
      kept.push(chunk)
      if (kept.length > 4) kept.shift()
    }
    const before = process.resourceUsage()
    const start = performance.now()
    const options: Net.NetConnectOpts = { host: "127.0.0.1", port }
    if (mode === "slab") {
      let slab = Buffer.allocUnsafeSlow(slabSize)
      let offset = 0
      options.onread = {
        buffer: () => {
          if (slabSize - offset < chunkSize) {
            slab = Buffer.allocUnsafeSlow(slabSize)
            offset = 0
          }
          return slab.subarray(offset)
        },
        // Returning true keeps the socket reading.
        callback: (nread, buffer) => {
          keep(buffer.subarray(0, nread))
          offset += nread
          return true
        }
      }
    } else if (mode === "copy") {
      const reused = Buffer.allocUnsafeSlow(chunkSize)
      options.onread = {
        buffer: reused,
        callback: (nread, buffer) => {
          const own = Buffer.allocUnsafeSlow(nread)
          own.set(buffer.subarray(0, nread))
          keep(own)
          return true
        }
      }
    }
    const socket = Net.connect(options)
    if (mode === "default") socket.on("data", keep)
    socket.on("error", reject)
    socket.on("end", () => {
      const after = process.resourceUsage()
      const seconds = (performance.now() - start) / 1000
      resolve({
        mode,
        mibPerSecond: bytes / 1024 / 1024 / seconds,
        faults: after.minorPageFault - before.minorPageFault,
        cpuMs: (after.userCPUTime + after.systemCPUTime - before.userCPUTime - before.systemCPUTime) / 1000
      })
    })
  })

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[values.length >> 1]

const main = async (mib: number, rounds: number) => {
  // Load and run effect first: the claim is about a process that has.
  await Effect.runPromise(Stream.runDrain(Stream.range(1, 1000)))
  const slabSize = Number(process.env.SLAB ?? 1024 * 1024)
  const child = ChildProcess.fork(fileURLToPath(import.meta.url), ["--sender", String(mib)], {
    execArgv: process.execArgv
  })
  const port = await new Promise<number>((resolve) => child.once("message", (message) => resolve(message as number)))
  const results: Array<Round> = []
  const modes: ReadonlyArray<Mode> = ["default", "slab", "copy"]
  for (let round = 0; round < rounds; round++) {
    for (const mode of modes) {
      const result = await receive(port, mode, slabSize)
      if (round > 0) results.push(result)
    }
  }
  child.send("stop")
  console.log(`${mib} MiB per round, ${rounds - 1} rounds after a warm-up, slab ${slabSize} bytes, Node ${process.version}`)
  console.log("| reads | MiB/s (median) | minor faults | CPU ms |")
  console.log("| --- | --- | --- | --- |")
  for (const mode of modes) {
    const own = results.filter((result) => result.mode === mode)
    console.log(
      `| ${mode} | ${median(own.map((r) => r.mibPerSecond)).toFixed(0)} | ${median(own.map((r) => r.faults))} | ${
        median(own.map((r) => r.cpuMs)).toFixed(0)
      } |`
    )
  }
}

if (process.argv[2] === "--sender") sender(Number(process.argv[3]))
else await main(Number(process.argv[2] ?? 512), Number(process.argv[3] ?? 6))
