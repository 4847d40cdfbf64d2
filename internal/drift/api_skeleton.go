package drift

// Temporary skeleton: replaced by real implementations in adwin.go etc.

type ADWINConfig struct {
	Delta       float64
	Clock       int
	MaxBuckets  int
	MinWindow   int
	GracePeriod int
}
type ADWIN struct{ d, w bool }

func NewADWIN(cfg ADWINConfig) *ADWIN { return &ADWIN{} }
func (a *ADWIN) Update(v float64)     {}
func (a *ADWIN) Drift() bool          { return a.d }
func (a *ADWIN) Warning() bool        { return false }
func (a *ADWIN) Reset()               {}
func (a *ADWIN) Width() int           { return 0 }
func (a *ADWIN) Estimation() float64  { return 0 }
func (a *ADWIN) Variance() float64    { return 0 }

type PHMode int

const (
	PHBoth PHMode = iota
	PHUp
	PHDown
)

type PageHinkleyConfig struct {
	MinInstances            int
	Delta, Threshold, Alpha float64
	Mode                    PHMode
}
type PageHinkley struct{ d bool }

func NewPageHinkley(cfg PageHinkleyConfig) *PageHinkley { return &PageHinkley{} }
func (p *PageHinkley) Update(v float64)                 {}
func (p *PageHinkley) Drift() bool                      { return p.d }
func (p *PageHinkley) Warning() bool                    { return false }
func (p *PageHinkley) Reset()                           {}

type DDMConfig struct {
	WarningLevel, DriftLevel float64
	WarmStart                int
}
type DDM struct{ d, w bool }

func NewDDM(cfg DDMConfig) *DDM { return &DDM{} }
func (p *DDM) Update(v float64) {}
func (p *DDM) Drift() bool      { return p.d }
func (p *DDM) Warning() bool    { return p.w }
func (p *DDM) Reset()           {}

type EDDMConfig struct {
	WarmStart   int
	Alpha, Beta float64
}
type EDDM struct{ d, w bool }

func NewEDDM(cfg EDDMConfig) *EDDM { return &EDDM{} }
func (p *EDDM) Update(v float64)   {}
func (p *EDDM) Drift() bool        { return p.d }
func (p *EDDM) Warning() bool      { return p.w }
func (p *EDDM) Reset()             {}

type KSWINConfig struct {
	Alpha                float64
	WindowSize, StatSize int
	Seed                 uint64
}
type KSWIN struct{ d bool }

func NewKSWIN(cfg KSWINConfig) *KSWIN { return &KSWIN{} }
func (p *KSWIN) Update(v float64)     {}
func (p *KSWIN) Drift() bool          { return p.d }
func (p *KSWIN) Warning() bool        { return false }
func (p *KSWIN) Reset()               {}
