/**
 * The README's error table is the reference users read: it must list every
 * error class and every reason that src/NetError.ts defines, no more and no
 * fewer (issue 12, item 10: it had left out AcceptError InvalidArgument).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as NetError from "../../src/NetError.js"

const readme = Fs.readFileSync(new URL("../../README.md", import.meta.url), "utf8")

/** The rows of the table under "## Errors": error name → reasons. */
const tableRows = (): Map<string, Array<string>> => {
  const section = readme.slice(readme.indexOf("\n## Errors\n"))
  const rows = new Map<string, Array<string>>()
  for (const match of section.matchAll(/^\| `(\w+Error)` \| [^|]+ \| ([^|]+) \|$/gm)) {
    if (rows.has(match[1]!)) break
    rows.set(match[1]!, match[2]!.split(",").map((reason) => reason.trim()))
  }
  return rows
}

const reasonSchemas: Record<string, { readonly literals: ReadonlyArray<string> }> = {
  AddressError: NetError.AddressErrorReason,
  BindError: NetError.BindErrorReason,
  AcceptError: NetError.AcceptErrorReason,
  ConnectError: NetError.ConnectErrorReason,
  ReadError: NetError.ReadErrorReason,
  WriteError: NetError.WriteErrorReason,
  SendError: NetError.SendErrorReason,
  ReceiveError: NetError.ReceiveErrorReason,
  MulticastError: NetError.MulticastErrorReason,
  FrameError: NetError.FrameErrorReason
}

describe("README error table", () => {
  it("has a row for every error class, and every exported reason schema is one of them", () => {
    expect([...tableRows().keys()].sort()).toEqual(Object.keys(reasonSchemas).sort())
    const exported = Object.keys(NetError).filter((name) => name.endsWith("ErrorReason")).map((name) => name.replace(/Reason$/, ""))
    expect(exported.sort()).toEqual(Object.keys(reasonSchemas).sort())
  })

  it("lists exactly the reasons of each error, in the order NetError.ts declares them", () => {
    const rows = tableRows()
    for (const [error, schema] of Object.entries(reasonSchemas)) {
      expect(rows.get(error), error).toEqual([...schema.literals])
    }
  })
})
