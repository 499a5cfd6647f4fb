import { podVolumesContract } from "../../test/support/podVolumesContract"
import { makeFakeVolumes } from "./testing"

podVolumesContract("in memory (the deployer's unit tests)", () => makeFakeVolumes().shape)
