package http

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// appendVoteResponse appends r as JSON, byte for byte what marshal writes
// (TestAppendVoteResponse), without reflection: the answer to every vote.
func appendVoteResponse(b []byte, r *voteResponse) []byte {
	b = append(b, `{"receipt":{"voteId":`...)
	b = appendString(b, r.Receipt.VoteID)
	b = append(b, `,"paredaoId":`...)
	b = appendString(b, r.Receipt.ParedaoID)
	b = append(b, `,"participantId":`...)
	b = appendString(b, r.Receipt.ParticipantID)
	b = append(b, `,"acceptedAt":`...)
	b = appendTime(b, r.Receipt.AcceptedAt)
	b = append(b, `},"results":{"paredaoId":`...)
	b = appendString(b, r.Results.ParedaoID)
	b = append(b, `,"status":`...)
	b = appendString(b, string(r.Results.Status))
	b = append(b, `,"asOf":`...)
	b = appendTime(b, r.Results.AsOf)
	b = append(b, `,"participants":`...)
	if r.Results.Participants == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, p := range r.Results.Participants {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = appendString(b, p.ID)
			b = append(b, `,"name":`...)
			b = appendString(b, p.Name)
			b = append(b, `,"percent":`...)
			b = strconv.AppendFloat(b, p.Percent, 'f', -1, 64) // percents are 0 to 100: never an exponent
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, '}')
	if c := r.NextChallenge; c != nil {
		b = append(b, `,"nextChallenge":{"algorithm":`...)
		b = appendString(b, c.Algorithm)
		b = append(b, `,"challenge":`...)
		b = appendString(b, c.Challenge)
		b = append(b, `,"maxNumber":`...)
		b = strconv.AppendInt(b, c.MaxNumber, 10)
		b = append(b, `,"salt":`...)
		b = appendString(b, c.Salt)
		b = append(b, `,"signature":`...)
		b = appendString(b, c.Signature)
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendString appends s as a JSON string: printable ASCII as it is, the
// rest through marshal (escapes, invalid UTF-8, U+2028 and U+2029).
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			q, _ := marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
