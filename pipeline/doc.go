// Package pipeline is the vocabulary of Paredão's vote pipeline: the
// messages that flow through Kafka (Vote, Ballot, WindowRecord), the state the
// processors keep (GuardState, TallyState), the paredão catalog entry
// (Paredao), window arithmetic, the topic, group and table names as typed goka
// values, and the codecs of all of them: Protocol Buffers, the messages of
// proto/paredao/v1 (generated code in pipeline/pb; Formats maps each topic
// to its message), and read-only the hand-written encoding of earlier
// releases.
//
// Every other package of the pipeline depends on this one; it imports only the
// standard library, goka and google.golang.org/protobuf.
package pipeline
