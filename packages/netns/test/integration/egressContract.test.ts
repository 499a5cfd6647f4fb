import { egressContract } from "../../src/testing/contract.js"
import { networkNamespaceHolder, requirePrerequisites, TestLayer } from "./helpers.js"

requirePrerequisites()

egressContract("real nftables", TestLayer, { namespace: networkNamespaceHolder })
