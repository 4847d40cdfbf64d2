package natslog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// The JetStream API is called directly for stream management because
// nats.go's StreamConfig has no field for allow_atomic: updating a stream
// through it would silently turn atomic batch publishing off.

// apiError is the error object of a JetStream API or publish reply.
type apiError struct {
	Code        int    `json:"code"`
	ErrCode     uint16 `json:"err_code"`
	Description string `json:"description"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s (code %d, err_code %d)", e.Description, e.Code, e.ErrCode)
}

// JetStream error codes natslog branches on (nats-server errors.json).
const (
	errCodeStreamNotFound         = 10059
	errCodeWrongLastSequence      = 10071
	errCodeAtomicIncomplete       = 10176
	errCodeAtomicTooLargeBatch    = 10199
	errCodeAtomicTooManyInflight  = 10210
	errCodeAtomicDisabled         = 10174
	errCodeStreamMessageTooLarge  = 10054
	errCodeInsufficientResources  = 10023
	errCodeAccountResourcesExceed = 10002
)

// streamState is the part of a stream's state natslog reads.
type streamState struct {
	Msgs       uint64 `json:"messages"`
	FirstSeq   uint64 `json:"first_seq"`
	LastSeq    uint64 `json:"last_seq"`
	NumDeleted int    `json:"num_deleted"`
}

// streamInfo is the reply to STREAM.INFO, CREATE and UPDATE. Config is
// kept raw so an update can preserve fields natslog does not know.
type streamInfo struct {
	Config json.RawMessage `json:"config"`
	State  streamState     `json:"state"`
	Error  *apiError       `json:"error"`
}

// streamConfig is the configuration natslog creates streams with.
type streamConfig struct {
	Name        string   `json:"name"`
	Subjects    []string `json:"subjects"`
	Retention   string   `json:"retention"`
	Storage     string   `json:"storage"`
	Replicas    int      `json:"num_replicas"`
	Discard     string   `json:"discard"`
	MaxMsgs     int64    `json:"max_msgs"`
	MaxBytes    int64    `json:"max_bytes"`
	MaxAge      int64    `json:"max_age"`
	MaxMsgSize  int32    `json:"max_msg_size"`
	DenyDelete  bool     `json:"deny_delete"`
	DenyPurge   bool     `json:"deny_purge"`
	AllowDirect bool     `json:"allow_direct"`
	AllowAtomic bool     `json:"allow_atomic"`
}

// checkedConfig is the part of an existing stream's config natslog checks.
type checkedConfig struct {
	Subjects    []string `json:"subjects"`
	Retention   string   `json:"retention"`
	MaxMsgs     int64    `json:"max_msgs"`
	MaxBytes    int64    `json:"max_bytes"`
	MaxAge      int64    `json:"max_age"`
	DenyDelete  bool     `json:"deny_delete"`
	DenyPurge   bool     `json:"deny_purge"`
	AllowAtomic bool     `json:"allow_atomic"`
}

// request sends a JetStream API request and decodes the reply into v.
func request(ctx context.Context, nc *nats.Conn, subject string, body []byte, v any) error {
	msg, err := nc.RequestWithContext(ctx, subject, body)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return fmt.Errorf("%s: no JetStream responds (is JetStream enabled on the server?): %v", subject, err)
		}
		return fmt.Errorf("%s: %w", subject, err)
	}
	if err := json.Unmarshal(msg.Data, v); err != nil {
		return fmt.Errorf("%s: decoding reply %q: %v", subject, truncate(msg.Data), err)
	}
	return nil
}

func truncate(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}

// ensureStream creates the stream, or checks an existing one and turns
// atomic publishing on if it is off. It returns the stream's state.
func ensureStream(ctx context.Context, nc *nats.Conn, cfg streamConfig) (streamState, error) {
	var info streamInfo
	if err := request(ctx, nc, "$JS.API.STREAM.INFO."+cfg.Name, nil, &info); err != nil {
		return streamState{}, err
	}
	if info.Error != nil && info.Error.ErrCode == errCodeStreamNotFound {
		body, _ := json.Marshal(cfg)
		info = streamInfo{}
		if err := request(ctx, nc, "$JS.API.STREAM.CREATE."+cfg.Name, body, &info); err != nil {
			return streamState{}, err
		}
		if info.Error != nil {
			return streamState{}, fmt.Errorf("creating stream %s: %v", cfg.Name, info.Error)
		}
		return info.State, nil
	}
	if info.Error != nil {
		return streamState{}, fmt.Errorf("stream %s info: %v", cfg.Name, info.Error)
	}
	var have checkedConfig
	if err := json.Unmarshal(info.Config, &have); err != nil {
		return streamState{}, fmt.Errorf("stream %s: decoding config: %v", cfg.Name, err)
	}
	if len(have.Subjects) != 1 || have.Subjects[0] != cfg.Subjects[0] {
		return streamState{}, fmt.Errorf("stream %s exists with subjects %q; want exactly [%q]", cfg.Name, have.Subjects, cfg.Subjects[0])
	}
	if have.Retention != "limits" || have.MaxMsgs > 0 || have.MaxBytes > 0 || have.MaxAge > 0 {
		return streamState{}, fmt.Errorf("stream %s exists with retention %q, max_msgs %d, max_bytes %d, max_age %d; an event log must keep every message (limits retention without limits) so offsets stay dense",
			cfg.Name, have.Retention, have.MaxMsgs, have.MaxBytes, have.MaxAge)
	}
	if have.AllowAtomic && have.DenyDelete && have.DenyPurge {
		return info.State, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(info.Config, &raw); err != nil {
		return streamState{}, fmt.Errorf("stream %s: decoding config: %v", cfg.Name, err)
	}
	raw["allow_atomic"] = json.RawMessage("true")
	raw["deny_delete"] = json.RawMessage("true")
	raw["deny_purge"] = json.RawMessage("true")
	body, _ := json.Marshal(raw)
	info = streamInfo{}
	if err := request(ctx, nc, "$JS.API.STREAM.UPDATE."+cfg.Name, body, &info); err != nil {
		return streamState{}, err
	}
	if info.Error != nil {
		return streamState{}, fmt.Errorf("stream %s: enabling allow_atomic (needs nats-server 2.12 or later): %v", cfg.Name, info.Error)
	}
	return info.State, nil
}

// fetchState returns the stream's current state.
func fetchState(ctx context.Context, nc *nats.Conn, name string) (streamState, error) {
	var info streamInfo
	if err := request(ctx, nc, "$JS.API.STREAM.INFO."+name, nil, &info); err != nil {
		return streamState{}, err
	}
	if info.Error != nil {
		return streamState{}, fmt.Errorf("stream %s info: %v", name, info.Error)
	}
	return info.State, nil
}

// checkDense reports an error if st has gaps: offsets are stream
// sequences minus one, so a deleted message would break density.
func checkDense(name string, st streamState) error {
	if st.LastSeq == 0 {
		return nil
	}
	if st.FirstSeq != 1 || st.Msgs != st.LastSeq || st.NumDeleted != 0 {
		return fmt.Errorf("stream %s has gaps (first_seq %d, last_seq %d, %d messages, %d deleted); natslog needs every sequence from 1 to map offsets densely",
			name, st.FirstSeq, st.LastSeq, st.Msgs, st.NumDeleted)
	}
	return nil
}

// pubAck is the reply to a publish or a batch commit.
type pubAck struct {
	Stream   string    `json:"stream"`
	Sequence uint64    `json:"seq"`
	BatchID  string    `json:"batch"`
	Count    uint64    `json:"count"`
	Error    *apiError `json:"error"`
}

// errCodeNoMessageFound is the error code of a get for a missing message.
const errCodeNoMessageFound = 10037

// storedMsg is a message returned by STREAM.MSG.GET.
type storedMsg struct {
	Seq  uint64 `json:"seq"`
	Data []byte `json:"data"` // base64 in JSON
}

// msgGet reads one message through the stream leader (STREAM.MSG.GET,
// not a direct get: a direct get may be answered by a replica that lags,
// and the tail and the positions must be read-your-writes). req is
// {"seq":N} or {"last_by_subj":"…"}. It returns ok false if there is no
// such message.
func msgGet(ctx context.Context, nc *nats.Conn, stream string, req any) (storedMsg, bool, error) {
	body, _ := json.Marshal(req)
	var reply struct {
		Message *storedMsg `json:"message"`
		Error   *apiError  `json:"error"`
	}
	if err := request(ctx, nc, "$JS.API.STREAM.MSG.GET."+stream, body, &reply); err != nil {
		return storedMsg{}, false, err
	}
	if reply.Error != nil {
		if reply.Error.ErrCode == errCodeNoMessageFound {
			return storedMsg{}, false, nil
		}
		return storedMsg{}, false, fmt.Errorf("stream %s get %s: %v", stream, body, reply.Error)
	}
	if reply.Message == nil {
		return storedMsg{}, false, fmt.Errorf("stream %s get %s: empty reply", stream, body)
	}
	return *reply.Message, true, nil
}
