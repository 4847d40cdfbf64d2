package forecast

import "strconv"

func fmtF(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }
