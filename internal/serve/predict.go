package serve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Pair is one user × item to score.
type Pair struct {
	UserID string
	ItemID string
}

// ModelInfo identifies the model that produced a set of predictions.
type ModelInfo struct {
	Model   string // model name, e.g. "mlp"
	Version uint64 // publication version; increases with every new snapshot
}

// Errors a PurchaseScorer returns for conditions the API reports as such.
var (
	// ErrNoModel means no model has been published yet (503).
	ErrNoModel = errors.New("serve: no model yet")
	// ErrUnknownModel means the requested model name does not exist (400).
	ErrUnknownModel = errors.New("serve: unknown model")
)

// PurchaseScorer predicts the probability that a user buys an item.
//
// ScorePurchase writes into dst[i] the probability in [0, 1] that
// pairs[i].UserID buys pairs[i].ItemID, according to the model named model
// ("" means the current champion), and reports which model and version
// answered. len(dst) == len(pairs) ≥ 1.
//
// Concurrency: ScorePurchase is called concurrently from many requests.
// Implementations read an immutable, atomically published snapshot and
// never block on the trainer. Ownership: pairs and dst belong to the
// caller and are reused after the call returns; implementations must not
// retain the slices (the strings inside a Pair may be kept). It may block
// only briefly and should honour ctx. It returns ErrNoModel (possibly
// wrapped) before the first model exists and ErrUnknownModel for a model
// name it does not know.
type PurchaseScorer interface {
	ScorePurchase(ctx context.Context, model string, pairs []Pair, dst []float64) (ModelInfo, error)
}

// predictState is the reusable memory of one predict request.
type predictState struct {
	body  bytes.Buffer
	dec   pairDecoder
	probs []float64
	out   []byte
}

var predictPool = sync.Pool{New: func() any { return new(predictState) }}

// maxPooledBody caps the buffers returned to predictPool so one huge
// request does not pin memory forever.
const maxPooledBody = 1 << 20

func (s *Server) handlePredictPurchase(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSONMediaType(ct) {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	scorer := s.opts.Scorer
	if scorer == nil {
		writeError(w, http.StatusServiceUnavailable, "no model yet")
		return
	}
	st := predictPool.Get().(*predictState)
	defer func() {
		if st.body.Cap() <= maxPooledBody && cap(st.out) <= 4*maxPooledBody {
			st.body.Reset()
			st.dec.in = nil
			clear(st.dec.pairs) // drop references to this request's IDs
			predictPool.Put(st)
		}
	}()

	limit := s.opts.MaxPredictBodyBytes
	if r.ContentLength > limit {
		writeError(w, http.StatusRequestEntityTooLarge, "request body exceeds "+strconv.FormatInt(limit, 10)+" bytes")
		return
	}
	if _, err := st.body.ReadFrom(io.LimitReader(r.Body, limit+1)); err != nil {
		writeError(w, http.StatusBadRequest, "reading request body failed")
		return
	}
	if int64(st.body.Len()) > limit {
		writeError(w, http.StatusRequestEntityTooLarge, "request body exceeds "+strconv.FormatInt(limit, 10)+" bytes")
		return
	}
	req, err := st.dec.decode(st.body.Bytes())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}

	n := len(req.pairs)
	if cap(st.probs) < n {
		st.probs = make([]float64, n)
	}
	probs := st.probs[:n]
	clear(probs)
	info, err := scorer.ScorePurchase(r.Context(), req.model, req.pairs, probs)
	switch {
	case err == nil:
	case errors.Is(err, ErrNoModel):
		writeError(w, http.StatusServiceUnavailable, "no model yet")
		return
	case errors.Is(err, ErrUnknownModel):
		writeError(w, http.StatusBadRequest, "model: unknown model "+strconv.Quote(req.model))
		return
	case r.Context().Err() != nil:
		// The client went away or timed out; nobody reads this.
		writeError(w, http.StatusServiceUnavailable, "request cancelled")
		return
	default:
		s.log.Error("purchase scorer failed", "err", err, "pairs", n)
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	for i, p := range probs {
		if !(p >= 0 && p <= 1) { // also catches NaN
			s.log.Error("purchase scorer returned a probability outside [0, 1]",
				"probability", p, "index", i, "model", info.Model, "version", info.Version)
			writeError(w, http.StatusInternalServerError, "internal error")
			return
		}
	}

	out := st.out[:0]
	out = append(out, `{"model":`...)
	out = appendJSONString(out, info.Model)
	out = append(out, `,"version":`...)
	out = strconv.AppendUint(out, info.Version, 10)
	out = append(out, `,"predictions":[`...)
	for i, p := range req.pairs {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"user_id":`...)
		out = appendJSONString(out, p.UserID)
		out = append(out, `,"item_id":`...)
		out = appendJSONString(out, p.ItemID)
		out = append(out, `,"probability":`...)
		out = appendProbability(out, probs[i])
		out = append(out, '}')
	}
	out = append(out, "]}"...)
	st.out = out
	writeJSON(w, http.StatusOK, out)
}

// appendProbability appends p ∈ [0, 1] as the shortest JSON number that
// round-trips.
func appendProbability(dst []byte, p float64) []byte {
	if p == 0 || p == 1 || math.Abs(p) >= 1e-6 {
		return strconv.AppendFloat(dst, p, 'f', -1, 64)
	}
	return strconv.AppendFloat(dst, p, 'e', -1, 64)
}

// isJSONMediaType reports whether a Content-Type value is application/json
// (parameters such as charset are ignored).
func isJSONMediaType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/json")
}
