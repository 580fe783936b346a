import { expect, it } from "@effect/vitest"
import * as EffectNet from "effect-net"
import * as Udp from "effect-net/Udp"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { repositoryRoot } from "../utils/process.js"

const manifest = JSON.parse(readFileSync(join(repositoryRoot, "package.json"), "utf8")) as {
  readonly exports: Record<string, unknown>
}
const publicModules = readdirSync(join(repositoryRoot, "src"))
  .filter((file) => /^[A-Z]\w*\.ts$/.test(file))
  .map((file) => file.slice(0, -3))
  .sort()

/** Modules whose optional peers must not load with the index. */
const subpathOnly = ["ClusterSocket"]

it("the index exports one namespace per module, by its own name, except the optional-peer modules", () => {
  expect(Object.keys(EffectNet).sort()).toEqual(publicModules.filter((name) => !subpathOnly.includes(name)))
  expect(typeof EffectNet.Tcp.listen).toBe("function")
  expect(typeof EffectNet.Udp.bind).toBe("function")
  expect(typeof EffectNet.Framing.lines).toBe("function")
  expect(typeof EffectNet.TestNetwork.layer).toBe("function")
  expect(Udp.maxPayload).toEqual({ IPv4: 65_507, IPv6: 65_527 })
})

it("package.json exports every public module as a subpath from dist/, types first, and nothing else", () => {
  const expected: Record<string, unknown> = {
    ".": { types: "./dist/index.d.ts", default: "./dist/index.js" },
    "./package.json": "./package.json"
  }
  for (const name of publicModules) expected[`./${name}`] = { types: `./dist/${name}.d.ts`, default: `./dist/${name}.js` }
  expect(manifest.exports).toEqual(expected)
})
