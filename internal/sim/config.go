package sim

import (
	"fmt"
	"math"
	"time"
)

// WorldConfig configures a World. The zero value means the defaults; a
// field left at zero takes the default shown in its comment (often
// derived from Users), so setting Users alone rescales the whole world.
type WorldConfig struct {
	Seed  uint64
	Start time.Time // default 2026-01-01T00:00:00Z (a Thursday)
	// Days is the simulated span; the stream ends at Start+Days. Default
	// 7; negative means unbounded (the world runs until the caller stops).
	Days int

	// Shop.
	Users          int     // default 10,000; up to 4e9 (users cost no memory)
	SessionsPerDay float64 // mean sessions per day, default 0.3×Users
	Items          int     // items in the catalog at the start, default Users/5 in [500, 50,000]
	NewItemsPerDay float64 // mean new items per day, default Items/30
	ItemLifeDays   float64 // mean life of an item, default 60
	Categories     int     // default 20, at most 256
	Brands         int     // default 5×Categories
	PromosPerDay   float64 // mean promotions started per day, default Items/200
	// PurchaseRate is the mean purchase probability of a view that each
	// taste regime is calibrated to at its start, default 0.05.
	PurchaseRate float64
	NoPromos     bool

	// Change.
	// ShiftDays are the days (since Start, fractions allowed) at which
	// tastes shift abruptly. Default: one shift at Days/2 when Days ≥ 2,
	// none for unbounded runs. NoShift disables them.
	ShiftDays     []float64
	NoShift       bool
	ShiftFraction float64 // share of users whose personal taste is redrawn at a shift, default 0.8
	DriftDays     float64 // typical period of a user's gradual taste rotation, default 60
	WeekDays      float64 // length of the weekly season in days, default 7
	YearDays      float64 // length of the yearly season in days, default 365.25 (shorten it to see years recur)

	// Payments (fraud).
	NoPayments         bool
	Customers          int     // card holders, default Users
	Terminals          int     // default Customers/5 in [50, 100,000]
	TransactionsPerDay float64 // default 0.3×Customers
	CampaignEveryDays  float64 // mean days between fraud campaign starts, default 3
	CampaignDays       float64 // mean campaign length in days, default 2
	// CampaignStrength is the typical share of transactions a campaign
	// makes fraudulent while it runs, default 0.02 (background fraud is
	// about a tenth of that).
	CampaignStrength  float64
	GenuineLabelDelay time.Duration // delay of "genuine" labels, default 24h
	FraudLabelDelay   time.Duration // mean delay of "fraud" labels (chargebacks), default 12h

	// Supply and delivery.
	NoStock    bool
	NoOrders   bool
	Warehouses int     // default 3, at most 16
	ZoneGrid   int     // the city is ZoneGrid×ZoneGrid delivery zones, default 4, at most 64
	CityLat    float64 // city centre, default 52.52
	CityLon    float64 // default 13.405

	// Speed is used by Run: 0 generates as fast as possible; s > 0 paces
	// the stream at s simulated seconds per wall-clock second.
	Speed float64

	// IDPrefix is prepended to every generated event, session,
	// transaction and order id (at most 32 printable ASCII bytes), so
	// that several worlds can share one log.
	IDPrefix string

	// OnDay, if set, is called from inside Next when a simulated day ends,
	// with the day's ground truth. d and its slices are valid only during
	// the call. OnDay must not call methods of the World.
	OnDay func(d *DayTruth)
}

const (
	maxCategories = 256
	maxWarehouses = 16
	maxZoneGrid   = 64
	maxUsers      = 1<<32 - 1
	maxDays       = 100_000 // simulated nanoseconds must fit an int64
)

// Validate reports the first invalid field by name.
func (c WorldConfig) Validate() error {
	type intField struct {
		name string
		v    int
		max  int
	}
	for _, f := range []intField{
		{"Users", c.Users, maxUsers},
		{"Items", c.Items, 10_000_000},
		{"Categories", c.Categories, maxCategories},
		{"Brands", c.Brands, 1_000_000},
		{"Customers", c.Customers, maxUsers},
		{"Terminals", c.Terminals, 10_000_000},
		{"Warehouses", c.Warehouses, maxWarehouses},
		{"ZoneGrid", c.ZoneGrid, maxZoneGrid},
	} {
		if f.v < 0 || f.v > f.max {
			return fmt.Errorf("sim: WorldConfig.%s = %d; want 0 (default) to %d", f.name, f.v, f.max)
		}
	}
	type floatField struct {
		name string
		v    float64
	}
	for _, f := range []floatField{
		{"SessionsPerDay", c.SessionsPerDay},
		{"NewItemsPerDay", c.NewItemsPerDay},
		{"ItemLifeDays", c.ItemLifeDays},
		{"PromosPerDay", c.PromosPerDay},
		{"PurchaseRate", c.PurchaseRate},
		{"DriftDays", c.DriftDays},
		{"WeekDays", c.WeekDays},
		{"YearDays", c.YearDays},
		{"TransactionsPerDay", c.TransactionsPerDay},
		{"CampaignEveryDays", c.CampaignEveryDays},
		{"CampaignDays", c.CampaignDays},
		{"CampaignStrength", c.CampaignStrength},
		{"Speed", c.Speed},
	} {
		if !(f.v >= 0) || math.IsInf(f.v, 0) {
			return fmt.Errorf("sim: WorldConfig.%s = %v; want a finite number ≥ 0 (0 = default)", f.name, f.v)
		}
	}
	if c.SessionsPerDay > 1e9 || c.TransactionsPerDay > 1e9 || c.NewItemsPerDay > 1e6 || c.PromosPerDay > 1e6 {
		return fmt.Errorf("sim: WorldConfig rates too large (SessionsPerDay, TransactionsPerDay ≤ 1e9; NewItemsPerDay, PromosPerDay ≤ 1e6)")
	}
	if c.PurchaseRate >= 0.9 {
		return fmt.Errorf("sim: WorldConfig.PurchaseRate = %v; want a probability below 0.9", c.PurchaseRate)
	}
	if c.CampaignStrength > 0.5 {
		return fmt.Errorf("sim: WorldConfig.CampaignStrength = %v; want at most 0.5", c.CampaignStrength)
	}
	if !(c.ShiftFraction >= 0 && c.ShiftFraction <= 1) {
		return fmt.Errorf("sim: WorldConfig.ShiftFraction = %v; want a share in [0, 1] (0 = default 0.8)", c.ShiftFraction)
	}
	for i, d := range c.ShiftDays {
		if !(d >= 0 && d <= maxDays) {
			return fmt.Errorf("sim: WorldConfig.ShiftDays[%d] = %v; want a day in [0, %d]", i, d, maxDays)
		}
	}
	if c.GenuineLabelDelay < 0 || c.FraudLabelDelay < 0 {
		return fmt.Errorf("sim: WorldConfig label delays must be ≥ 0 (GenuineLabelDelay %v, FraudLabelDelay %v)", c.GenuineLabelDelay, c.FraudLabelDelay)
	}
	if !(c.CityLat >= -80 && c.CityLat <= 80) || !(c.CityLon >= -179 && c.CityLon <= 179) {
		return fmt.Errorf("sim: WorldConfig.CityLat/CityLon = %v/%v; want a point in [-80, 80]×[-179, 179]", c.CityLat, c.CityLon)
	}
	if len(c.IDPrefix) > 32 {
		return fmt.Errorf("sim: WorldConfig.IDPrefix is %d bytes; want at most 32", len(c.IDPrefix))
	}
	for i := 0; i < len(c.IDPrefix); i++ {
		if b := c.IDPrefix[i]; b <= ' ' || b >= 0x7f {
			return fmt.Errorf("sim: WorldConfig.IDPrefix %q has byte %d at %d; want printable ASCII without spaces", c.IDPrefix, b, i)
		}
	}
	if !c.Start.IsZero() && (c.Start.Year() < 1970 || c.Start.Year() > 9000) {
		return fmt.Errorf("sim: WorldConfig.Start = %v; want a year in [1970, 9000]", c.Start)
	}
	if c.Days > maxDays {
		return fmt.Errorf("sim: WorldConfig.Days = %d; want at most %d (or negative for unbounded)", c.Days, maxDays)
	}
	return nil
}

func clampInt(x, lo, hi int) int {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}

func (c WorldConfig) withDefaults() WorldConfig {
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	c.Start = c.Start.UTC()
	if c.Days == 0 {
		c.Days = 7
	}
	if c.Users == 0 {
		c.Users = 10_000
	}
	if c.SessionsPerDay == 0 {
		c.SessionsPerDay = 0.3 * float64(c.Users)
	}
	if c.Items == 0 {
		c.Items = clampInt(c.Users/5, 500, 50_000)
	}
	if c.NewItemsPerDay == 0 {
		c.NewItemsPerDay = math.Max(1, float64(c.Items)/30)
	}
	if c.ItemLifeDays == 0 {
		c.ItemLifeDays = 60
	}
	if c.Categories == 0 {
		c.Categories = 20
	}
	if c.Brands == 0 {
		c.Brands = 5 * c.Categories
	}
	if c.PromosPerDay == 0 {
		c.PromosPerDay = math.Max(1, float64(c.Items)/200)
	}
	if c.PurchaseRate == 0 {
		c.PurchaseRate = 0.05
	}
	if c.ShiftDays == nil && !c.NoShift && c.Days >= 2 {
		c.ShiftDays = []float64{float64(c.Days) / 2}
	}
	if c.NoShift {
		c.ShiftDays = nil
	}
	if c.ShiftFraction == 0 {
		c.ShiftFraction = 0.8
	}
	if c.DriftDays == 0 {
		c.DriftDays = 60
	}
	if c.WeekDays == 0 {
		c.WeekDays = 7
	}
	if c.YearDays == 0 {
		c.YearDays = 365.25
	}
	if c.Customers == 0 {
		c.Customers = c.Users
	}
	if c.Terminals == 0 {
		c.Terminals = clampInt(c.Customers/5, 50, 100_000)
	}
	if c.TransactionsPerDay == 0 {
		c.TransactionsPerDay = 0.3 * float64(c.Customers)
	}
	if c.CampaignEveryDays == 0 {
		c.CampaignEveryDays = 3
	}
	if c.CampaignDays == 0 {
		c.CampaignDays = 2
	}
	if c.CampaignStrength == 0 {
		c.CampaignStrength = 0.02
	}
	if c.GenuineLabelDelay == 0 {
		c.GenuineLabelDelay = 24 * time.Hour
	}
	if c.FraudLabelDelay == 0 {
		c.FraudLabelDelay = 12 * time.Hour
	}
	if c.Warehouses == 0 {
		c.Warehouses = 3
	}
	if c.ZoneGrid == 0 {
		c.ZoneGrid = 4
	}
	if c.CityLat == 0 && c.CityLon == 0 {
		c.CityLat, c.CityLon = 52.52, 13.405
	}
	return c
}
