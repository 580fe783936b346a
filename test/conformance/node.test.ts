import * as NodeNetwork from "../../src/NodeNetwork.js"
import { checkNoSocketLeaks } from "../utils/handles.js"
import { conformance } from "./suite.js"

checkNoSocketLeaks()

conformance("NodeNetwork", NodeNetwork.layer)
