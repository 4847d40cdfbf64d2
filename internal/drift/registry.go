package drift

import (
	"encoding"
	"fmt"
	"strings"
)

// Names lists the detector names New accepts, in the order used by error
// messages and help texts. "ph" is an alias of "page-hinkley".
func Names() []string {
	return []string{"adwin", "page-hinkley", "ph", "ddm", "eddm", "kswin"}
}

// New returns the detector called name (case-insensitive) with its
// default configuration. DDM and EDDM expect 0/1 errors; the others take
// any numeric stream. Every returned detector also implements
// encoding.BinaryMarshaler and encoding.BinaryUnmarshaler.
func New(name string) (Detector, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "adwin":
		return NewADWIN(ADWINConfig{}), nil
	case "page-hinkley", "ph":
		return NewPageHinkley(PageHinkleyConfig{}), nil
	case "ddm":
		return NewDDM(DDMConfig{}), nil
	case "eddm":
		return NewEDDM(EDDMConfig{}), nil
	case "kswin":
		return NewKSWIN(KSWINConfig{}), nil
	}
	return nil, fmt.Errorf("drift: unknown detector %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Every detector is a Detector and saves its state.
var (
	_ stateful = (*ADWIN)(nil)
	_ stateful = (*PageHinkley)(nil)
	_ stateful = (*DDM)(nil)
	_ stateful = (*EDDM)(nil)
	_ stateful = (*KSWIN)(nil)
	_ stateful = (*Window)(nil)
)

type stateful interface {
	Detector
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
	encoding.BinaryAppender
}
