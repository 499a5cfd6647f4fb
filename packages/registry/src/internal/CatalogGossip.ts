/**
 * The gossipsub router the service catalog runs on, configured for a small, low-traffic topic of
 * self-signed records on meshes where many nodes share one IP address.
 */
import { type GossipSub, gossipsub, StrictNoSign } from "@libp2p/gossipsub"
import * as ServiceRecord from "../ServiceRecord.js"

/** Topic of a mesh's catalog: one per mesh authority, so two meshes never mix their catalogs. */
export const catalogTopic = (authority: string | undefined) =>
  `/beemesh/catalog/1/${authority ?? "open"}`

/**
 * A rejected message (forged, uncertified, revoked, oversize, over quota) costs its sender this
 * much score; the penalty is squared per message count, so three rejects within a few seconds
 * take a peer below the graylist threshold (-80), after which its messages are ignored.
 */
const INVALID_MESSAGE_WEIGHT = -10

export const catalogPubsub = (authority: string | undefined) => {
  const topic = catalogTopic(authority)
  return gossipsub({
    // Records carry their own signature and certificate; a second, per-message signature by
    // whoever published to gossipsub would add a verify per hop and prove nothing more. Message
    // ids are then hashes of the record bytes: a re-sent copy of one record is one message.
    globalSignaturePolicy: StrictNoSign,
    allowedTopics: [topic],
    // A lone agent, or the first of a mesh, still registers.
    allowPublishToZeroTopicPeers: true,
    ignoreDuplicatePublishError: true,
    emitSelf: false,
    // A record's envelope is at most ServiceRecord.MAX_BYTES; the protobuf frame adds a little.
    maxInboundDataLength: ServiceRecord.MAX_BYTES + 1024,
    scoreParams: {
      // Agents share addresses (one host, NAT, slirp4netns): with gossipsub's default (-5 per
      // peer beyond 10 on one IP, squared) a loopback mesh of 100 graylists itself.
      IPColocationFactorWeight: 0,
      topics: {
        [topic]: {
          topicWeight: 1,
          timeInMeshWeight: 0.01,
          timeInMeshQuantum: 1_000,
          timeInMeshCap: 100,
          firstMessageDeliveriesWeight: 1,
          firstMessageDeliveriesDecay: 0.5,
          firstMessageDeliveriesCap: 100,
          // A catalog changes rarely: expecting a message rate from mesh peers (the default
          // 20 per 10 s) would penalise every honest peer of a quiet mesh.
          meshMessageDeliveriesWeight: 0,
          meshMessageDeliveriesDecay: 0.5,
          meshMessageDeliveriesCap: 100,
          meshMessageDeliveriesThreshold: 1,
          meshMessageDeliveriesWindow: 10,
          meshMessageDeliveriesActivation: 5_000,
          meshFailurePenaltyWeight: 0,
          meshFailurePenaltyDecay: 0.5,
          invalidMessageDeliveriesWeight: INVALID_MESSAGE_WEIGHT,
          invalidMessageDeliveriesDecay: 0.9,
        },
      },
    },
  })
}

export type { GossipSub }
