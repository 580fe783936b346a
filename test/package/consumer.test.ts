/**
 * The package as a user installs it: `npm pack`, the tarball installed into
 * a fresh project that has only the peer dependencies, then plain `node`
 * and a strict TypeScript consumer against what was installed.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { repositoryRoot } from "../utils/process.js"

const run = promisify(execFile)
const npm = process.platform === "win32" ? "npm.cmd" : "npm"
const fixtures = join(repositoryRoot, "test/fixtures/consumer")
const installedVersion = (name: string): string =>
  JSON.parse(readFileSync(join(repositoryRoot, "node_modules", name, "package.json"), "utf8")).version

const manifest = JSON.parse(readFileSync(join(repositoryRoot, "package.json"), "utf8")) as {
  readonly version: string
  readonly exports: Record<string, unknown>
  readonly peerDependenciesMeta: Record<string, { readonly optional?: boolean }>
}

let project = ""
let packedFiles: ReadonlyArray<string> = []

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), "effect-net-consumer-"))
  // `prepack` builds dist/, so the tarball is never stale.
  const { stdout } = await run(npm, ["pack", "--json", "--pack-destination", project], {
    cwd: repositoryRoot,
    maxBuffer: 64 * 1024 * 1024
  })
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf("["))) as Array<
    { readonly filename: string; readonly files: ReadonlyArray<{ readonly path: string }> }
  >
  packedFiles = packed.files.map((file) => file.path)
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module" }, null, 2)
  )
  // Only the required peers (at the versions this repository tests with),
  // and what the TypeScript check needs: no optional peer.
  await run(npm, [
    "install",
    "--no-audit",
    "--no-fund",
    "--prefer-offline",
    join(project, packed.filename),
    `effect@${installedVersion("effect")}`,
    `@effect/platform@${installedVersion("@effect/platform")}`,
    `typescript@${installedVersion("typescript")}`,
    `@types/node@${installedVersion("@types/node")}`
  ], { cwd: project, maxBuffer: 64 * 1024 * 1024 })
  for (const file of ["main.mjs", "consumer.ts", "tsconfig.json"]) cpSync(join(fixtures, file), join(project, file))
}, 240_000)

afterAll(() => {
  if (project !== "") rmSync(project, { recursive: true, force: true })
})

describe("the installed package", () => {
  it("ships the build, the sources for its source maps, README, LICENSE and CHANGELOG, and nothing else", () => {
    expect(packedFiles).toContain("dist/index.js")
    expect(packedFiles).toContain("dist/index.d.ts")
    expect(packedFiles).toContain("dist/Tcp.js.map")
    expect(packedFiles).toContain("dist/Tcp.d.ts.map")
    expect(packedFiles).toContain("src/Tcp.ts")
    expect(packedFiles).toEqual(expect.arrayContaining(["README.md", "LICENSE", "CHANGELOG.md", "package.json"]))
    const strays = packedFiles.filter((path) =>
      !/^(dist|src)\//.test(path) && !["README.md", "LICENSE", "CHANGELOG.md", "package.json"].includes(path)
    )
    expect(strays).toEqual([])
    expect(packedFiles.filter((path) => /(^|\/)(test|bench|scratchpad|fixtures)\//.test(path))).toEqual([])
  })

  it("runs under plain node: a TCP echo, a UDP exchange, a typed refusal and telemetry's byte count", async () => {
    const { stdout } = await run(process.execPath, ["main.mjs"], { cwd: project, timeout: 60_000 })
    expect(stdout.split("\n")).toEqual([
      "tcp reply: Hello over TCP",
      "udp reply: HELLO OVER UDP",
      "closed port: ConnectError ConnectionRefused",
      // 14 bytes each way: the client's and the echo's.
      "tcp bytes transmitted: 28",
      ""
    ])
  }, 90_000)

  it("type-checks a strict consumer of the index and every subpath, with skipLibCheck off", async () => {
    const tsc = join(project, "node_modules/typescript/bin/tsc")
    const result = await run(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: project, timeout: 120_000 })
      .then(() => "ok", (error: { stdout?: string }) => error.stdout ?? String(error))
    expect(result).toBe("ok")
  }, 150_000)

  it("serves every public module as a subpath, types first, and keeps internal/ closed", async () => {
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      if (subpath === "./package.json") continue
      expect(Object.keys(target as object)[0]).toBe("types")
    }
    const script = `
      const results = {}
      for (const specifier of ["effect-net/internal/node/tcp", "effect-net/internal/node/tcp.js", "effect-net/dist/Tcp.js"]) {
        results[specifier] = await import(specifier).then(() => "loaded", (error) => error.code)
      }
      const index = await import("effect-net")
      results.index = Object.keys(index).sort().join(",")
      console.log(JSON.stringify(results))
    `
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: project })
    const results = JSON.parse(stdout) as Record<string, string>
    expect(results["effect-net/internal/node/tcp"]).toBe("ERR_PACKAGE_PATH_NOT_EXPORTED")
    expect(results["effect-net/internal/node/tcp.js"]).toBe("ERR_PACKAGE_PATH_NOT_EXPORTED")
    expect(results["effect-net/dist/Tcp.js"]).toBe("ERR_PACKAGE_PATH_NOT_EXPORTED")
    expect(results.index.split(",")).toContain("Tcp")
  }, 60_000)

  it("installs the effect-net command: npx effect-net --version and --help work", async () => {
    const version = await run("npx", ["--no-install", "effect-net", "--version"], { cwd: project, timeout: 60_000 })
    expect(version.stdout).toContain(manifest.version)
    const help = await run("npx", ["--no-install", "effect-net", "--help"], { cwd: project, timeout: 60_000 })
    expect(help.stdout).toMatch(/tcp/)
    expect(help.stdout).toMatch(/proxy/)
  }, 150_000)

  it("loads no optional peer when effect-net is imported (none is installed here)", async () => {
    expect(Object.keys(manifest.peerDependenciesMeta).sort()).toEqual(["@effect/cluster", "@effect/rpc"])
    const script = `
      await import("effect-net")
      const loaded = await import("@effect/rpc").then(() => "installed", (error) => error.code)
      console.log(loaded)
    `
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: project })
    expect(stdout.trim()).toBe("ERR_MODULE_NOT_FOUND")
  }, 60_000)
})
