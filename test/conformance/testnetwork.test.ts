import { expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestNetwork from "../../src/TestNetwork.js"
import { checkNoSocketLeaks } from "../utils/handles.js"
import { conformance } from "./suite.js"

// The simulation opens no real socket, ever.
checkNoSocketLeaks()

conformance("TestNetwork", TestNetwork.layer(), {
  afterEach: Effect.map(TestNetwork.snapshot(), (snapshot) => {
    expect(snapshot).toEqual({ tcpListeners: [], tcpConnections: [], udpSockets: [] })
  })
})
